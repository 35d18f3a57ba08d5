// invoke() never allocates: every C++ heap allocation during inference is counted (operator new is
// replaced in this test binary) and must be zero, for detect and segment plans and any thread count.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdlib>
#include <new>

#include "compiler/compile.h"
#include "runtime/dense_executor.h"
#include "test_util.h"

namespace {
std::atomic<bool> g_counting{false};
std::atomic<long> g_allocations{0};
}  // namespace

void* operator new(size_t n) {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t n) { return operator new(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }

using namespace fx;

TEST_CASE("invoke performs no heap allocation", "[runtime]") {
  for (const char* model : {"assets/yolo11n-320.onnx", "assets/yolo11n-seg-640.onnx"}) {
    auto bytes = compile_onnx_file(test::source_path(model));
    auto plan = Plan::from_bytes(bytes.data(), bytes.size(), model);
    for (int threads : {1, 2}) {
      DenseExecutor exec(plan, std::make_shared<ThreadPool>(threads));
      exec.invoke();  // warm
      g_allocations = 0;
      g_counting = true;
      exec.invoke();
      exec.invoke();
      g_counting = false;
      INFO(model << " with " << threads << " threads");
      CHECK(g_allocations.load() == 0);
    }
  }
  // The counter works: an allocation while counting is seen.
  g_counting = true;
  auto* p = new int(3);
  g_counting = false;
  delete p;
  CHECK(g_allocations.load() == 1);
}
