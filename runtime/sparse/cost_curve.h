// The sparse cost curve (`fluxshard bench sparse`, bench_gpu --sparse): a forced share of blocks is
// recomputed each frame (random blocks, or one clustered region), every other block moved by 0, timed
// against dense inference on the same device in the same run. With a pan: every block moves by `pan_dx`
// pixels (blocks whose source leaves the image are fresh too), timed with the caches' origin moves on
// and off (fluxshard mode's rounding and footprint policy).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "runtime/backend.h"
#include "runtime/sparse/sparse_executor.h"

namespace fx {

struct CostCurveOptions {
  int block = 16;
  int runs = 7;                   // timed runs per point (median), after one warm-up
  std::vector<int> shares = {0, 5, 10, 25, 50, 75, 100};  // percent of the blocks recomputed
  bool pan = false;
  int pan_dx = 0;
  float island_eps = 0.2f;        // as the sessions' default (SessionOptions::island_eps)
  float island_reused_scale = 1.5f;
};

struct CostPoint {
  std::string policy, pattern;  // exact | footprint | pan-copy | pan-move; random | clustered
  int share = 0;                // percent of the blocks
  double flops = 0;             // share of local FLOPs recomputed
  double ms = 0, dense_ms = 0;  // medians
  SparseStats last;
};

// `img`, `frame`: two packed RGB24 images at the plan's input size (the reset content and the fresh
// pixels). Dense inference is timed first on the same device.
std::vector<CostPoint> sparse_cost_curve(const std::shared_ptr<const Device>& device, const std::vector<uint8_t>& img,
                                         const std::vector<uint8_t>& frame, const CostCurveOptions& opt);

}  // namespace fx
