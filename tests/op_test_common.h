// Shared by the per-op kernel tests: every ISA path this CPU has, a scope that forces one of them, and
// the two pools the tests run each kernel on.
#pragma once

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "ops/cpu_features.h"
#include "ops/elementwise/parallel.h"
#include "ops/thread_pool.h"
#include "ops/workspace.h"

namespace fx::test {

inline std::vector<CpuIsa> isas() { return supported_isas(); }

// Forces best_isa() to `isa` (through FLUXSHARD_ISA) for its lifetime.
struct IsaScope {
  std::string old;
  bool had = false;
  explicit IsaScope(CpuIsa isa) {
    if (const char* e = std::getenv("FLUXSHARD_ISA")) {
      had = true;
      old = e;
    }
    setenv("FLUXSHARD_ISA", isa_name(isa), 1);
  }
  ~IsaScope() {
    if (had) setenv("FLUXSHARD_ISA", old.c_str(), 1);
    else unsetenv("FLUXSHARD_ISA");
  }
  IsaScope(const IsaScope&) = delete;
  IsaScope& operator=(const IsaScope&) = delete;
};

// A 1-thread pool, and a 3-thread pool that splits every op into many tasks however small, so the
// parallel paths run (and must give the same bits as one thread).
inline ThreadPool& pool(int threads) {
  static ThreadPool p1(1), p3(3);
  static const bool fine = [] {
    detail::parallel_tuning().min_parallel_work = 1;
    detail::parallel_tuning().min_task_work = 1;
    return true;
  }();
  (void)fine;
  return threads == 1 ? p1 : p3;
}

// Per-thread kernel scratch filled with NaN, so reads of scratch a kernel did not write show up.
struct TestWorkspace {
  std::vector<float*> blocks;
  Workspace ws;
  TestWorkspace(size_t bytes, int threads) {
    size_t n = bytes / sizeof(float) + 16;
    for (int t = 0; t < threads; ++t) {
      float* p = static_cast<float*>(std::aligned_alloc(64, ((n * 4 + 63) / 64) * 64));
      for (size_t i = 0; i < n; ++i) p[i] = std::nanf("");
      blocks.push_back(p);
    }
    ws.per_thread = blocks.data();
    ws.bytes_per_thread = bytes;
  }
  ~TestWorkspace() {
    for (float* p : blocks) std::free(p);
  }
  TestWorkspace(const TestWorkspace&) = delete;
  TestWorkspace& operator=(const TestWorkspace&) = delete;
};

inline bool same_bits(float a, float b) { return std::memcmp(&a, &b, 4) == 0; }
inline bool same_bits(const float* a, const float* b, size_t n) {
  return n == 0 || std::memcmp(a, b, n * sizeof(float)) == 0;
}
inline bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && same_bits(a.data(), b.data(), a.size());
}

}  // namespace fx::test
