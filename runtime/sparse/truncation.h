// Per-layer truncation thresholds of the approximate mode, from the plan's profiled table (DESIGN 6.4):
// one choice shared by local sessions (runtime/session.cpp), the edge, which picks the bucket of a frame
// from its motion statistics, and the server, which receives the bucket index. Without a table,
// the session's default applies: dense islands (global ops) compare with eps = island_eps x the op's
// output scale measured when the executor was reset (default_eps).
#pragma once

#include <vector>

#include "runtime/motion/aligner.h"
#include "runtime/sparse/sparse_executor.h"
#include "runtime/plan.h"

namespace fx {

class TruncationTable {
 public:
  TruncationTable() = default;
  TruncationTable(const Plan& plan, float eps_scale = 1.0f);
  bool empty() const { return eps_.empty(); }
  int buckets() const { return static_cast<int>(eps_.size()); }
  // The first bucket whose limits hold the frame's motion, else the last; -1 when the plan has none.
  int bucket(const MotionStats& m) const;
  // Thresholds of a bucket (per op); for -1 `fallback` (the default thresholds, may be null). Throws
  // fx::Error for another invalid index.
  const std::vector<float>* eps(int bucket, const std::vector<float>* fallback = nullptr) const;

 private:
  std::vector<std::vector<float>> eps_;
  std::vector<std::pair<double, double>> limits_;  // max_median_mv, max_candidate_share
};

// The session's default thresholds without a table (empty when island_eps <= 0): per global op
// island_eps x its output scale (scale: per op, e.g. SparseExecutor::op_scale() right after reset()).
std::vector<float> default_eps(const Plan& plan, const std::vector<float>& scale, float island_eps);
inline std::vector<float> default_eps(const Plan& plan, const SparseExecutor& exec, float island_eps) {
  return default_eps(plan, exec.op_scale(), island_eps);
}

}  // namespace fx
