// Per-layer truncation thresholds of the approximate mode, from the plan's profiled table (DESIGN 6.4):
// the same bucket choice as StreamSession (runtime/session.cpp), shared by the edge, which picks the
// bucket of a frame from its motion statistics, and the server, which receives the bucket index.
#pragma once

#include <vector>

#include "runtime/motion/aligner.h"
#include "runtime/plan.h"

namespace fx::net {

class TruncationTable {
 public:
  TruncationTable() = default;
  TruncationTable(const Plan& plan, float eps_scale = 1.0f);
  bool empty() const { return eps_.empty(); }
  int buckets() const { return static_cast<int>(eps_.size()); }
  // The first bucket whose limits hold the frame's motion, else the last; -1 when the plan has none.
  int bucket(const MotionStats& m) const;
  // Thresholds of a bucket (per op); null for -1. Throws fx::Error for another invalid index.
  const std::vector<float>* eps(int bucket) const;

 private:
  std::vector<std::vector<float>> eps_;
  std::vector<std::pair<double, double>> limits_;  // max_median_mv, max_candidate_share
};

}  // namespace fx::net
