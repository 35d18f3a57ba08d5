// libFuzzer target: arbitrary bytes through the plan loader (identifier, FlatBuffers verifier, version
// and consistency checks) and executor preparation; small plans are also invoked. Every failure must be
// an fx::Error.
#include <cstddef>
#include <cstdint>

#include "runtime/dense_executor.h"
#include "runtime/error.h"
#include "runtime/plan.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto pool = std::make_shared<fx::ThreadPool>(1);
  try {
    auto plan = fx::Plan::from_bytes(data, size, "fuzz.fsp");
    // Keep each input cheap: the fuzzer is after parser bugs, not large allocations.
    if (plan->arena_bytes() > (64u << 20)) return 0;
    int64_t elements = 0;
    for (const auto& t : plan->tensors()) elements += t.numel;
    if (elements > (16 << 20) || plan->total_flops() > 200000000ull) return 0;
    fx::DenseExecutor exec(plan, pool);
    exec.invoke();
  } catch (const fx::Error&) {
  }
  return 0;
}
