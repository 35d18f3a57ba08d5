// Rewrites a plan with a new truncation table (DESIGN 6.4), keeping everything else, weights 64-byte
// aligned included.
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/plan.h"

namespace fx {

struct TruncationBucket {
  float max_median_mv = 0;        // frames whose median |MV| is at most this ...
  float max_candidate_share = 1;  // ... and whose candidate share is at most this use these thresholds
  std::vector<float> eps;         // per op
};

std::vector<uint8_t> plan_with_truncation(const Plan& plan, const std::vector<TruncationBucket>& table);

}  // namespace fx
