#include "net/hash.h"

#include <cstring>
#include <vector>

#include "runtime/plan.h"
#include "runtime/sparse/sparse_executor.h"

namespace fx::net {

uint64_t hash_bytes(const void* data, size_t size, uint64_t h) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  constexpr uint64_t kPrime = 0x100000001b3ull;
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    h = (h ^ w) * kPrime;
    h ^= h >> 29;
  }
  for (; i < size; ++i) h = (h ^ p[i]) * kPrime;
  return h;
}

uint64_t hash_image(const uint8_t* rgb, int width, int height) {
  return hash_bytes(rgb, static_cast<size_t>(width) * height * 3);
}

uint64_t hash_outputs(const Plan& plan, const float* const* outputs) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < plan.outputs().size(); ++i)
    h = hash_bytes(outputs[i], static_cast<size_t>(plan.tensor(plan.outputs()[i]).numel) * sizeof(float), h);
  return h;
}

uint64_t hash_outputs(const Plan& plan, SparseExecutor& exec) {
  std::vector<const float*> outs;
  for (size_t i = 0; i < plan.outputs().size(); ++i) outs.push_back(exec.output_data(i));
  return hash_outputs(plan, outs.data());
}

}  // namespace fx::net
