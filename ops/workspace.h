// Per-thread scratch memory for kernels, allocated once when a plan is prepared (invoke never
// allocates). Kernels report how much they need per thread; the executor sizes this to the maximum.
#pragma once

#include <cstddef>

namespace fx {

struct Workspace {
  float* const* per_thread = nullptr;  // one 64-byte aligned block per pool thread
  size_t bytes_per_thread = 0;
  float* get(int thread) const { return per_thread[thread]; }
};

}  // namespace fx
