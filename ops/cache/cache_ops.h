// The feature cache's data movement, in the forms both backends share: a run of copied positions and
// a candidate of the truncation comparison (runtime/backend.h says what each primitive does), and the
// index arithmetic of the device kernels (ops/cache/cache_cuda.cu), compiled for the host too so that
// tests replay it without a GPU.
#pragma once

#include <cstdint>

#include "ops/cuda/common.h"  // FX_HD: host and device
#include "ops/map_view.h"

namespace fx {

// A run of positions copied from one map position to another: dst(y, x0 + k) := src(sy, sx + k) for
// k in [0, x1 - x0).
struct CopyRun {
  int y, x0, x1, sy, sx;
};

// One candidate of the truncation comparison: a position of the `before` map (y * w + x) and the
// threshold to compare with; src < 0: no candidate.
struct KeepCandidate {
  int32_t src;
  float eps;
};

// Prefix sums of run lengths: starts[i] = positions before run i, starts[n] = all of them.
inline int64_t run_starts(const CopyRun* runs, int n, int64_t* starts) {
  int64_t total = 0;
  for (int i = 0; i < n; ++i) {
    starts[i] = total;
    total += runs[i].x1 - runs[i].x0;
  }
  starts[n] = total;
  return total;
}

// Position m (in run order) of a run list: its destination (y, x) and source (sy, sx). Runs of
// length 0 share their successor's start and are never chosen.
FX_HD void locate_run(const CopyRun* runs, const int64_t* starts, int n, int64_t m, int& y, int& x, int& sy,
                            int& sx) {
  int lo = 0, hi = n - 1;
  while (lo < hi) {
    const int mid = (lo + hi + 1) >> 1;
    if (starts[mid] <= m) lo = mid;
    else hi = mid - 1;
  }
  const int k = static_cast<int>(m - starts[lo]);
  y = runs[lo].y;
  x = runs[lo].x0 + k;
  sy = runs[lo].sy;
  sx = runs[lo].sx + k;
}

// The float an NHWC image pixel channel becomes (the plan input's conversion, one IEEE division).
FX_HD float image_value(uint8_t v) { return static_cast<float>(v) / 255.0f; }

}  // namespace fx
