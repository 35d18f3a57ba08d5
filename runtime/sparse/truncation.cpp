#include "runtime/sparse/truncation.h"

#include <algorithm>

#include "runtime/error.h"

namespace fx {

TruncationTable::TruncationTable(const Plan& plan, float eps_scale) {
  const auto* table = plan.fb().truncation();
  if (!table) return;
  for (const auto* b : *table) {
    std::vector<float> eps(static_cast<size_t>(plan.op_count()), 0.f);
    if (b->eps())
      for (flatbuffers::uoffset_t i = 0; i < b->eps()->size() && i < eps.size(); ++i)
        eps[i] = std::max(0.f, b->eps()->Get(i)) * eps_scale;
    eps_.push_back(std::move(eps));
    limits_.emplace_back(b->max_median_mv(), b->max_candidate_share());
  }
}

int TruncationTable::bucket(const MotionStats& m) const {
  if (eps_.empty()) return -1;
  for (size_t i = 0; i < limits_.size(); ++i)
    if (m.median_mv <= limits_[i].first && m.candidate_share <= limits_[i].second) return static_cast<int>(i);
  return static_cast<int>(eps_.size()) - 1;
}

const std::vector<float>* TruncationTable::eps(int bucket, const std::vector<float>* fallback) const {
  if (bucket < 0) return eps_.empty() && fallback && !fallback->empty() ? fallback : nullptr;
  if (bucket >= static_cast<int>(eps_.size()))
    throw Error("truncation bucket " + std::to_string(bucket) + " out of range");
  return &eps_[static_cast<size_t>(bucket)];
}

std::vector<float> default_eps(const Plan& plan, const std::vector<float>& scale, float island_eps) {
  std::vector<float> eps;
  if (island_eps <= 0) return eps;
  eps.assign(static_cast<size_t>(plan.op_count()), 0.f);
  for (int i = 0; i < plan.op_count(); ++i) {
    if (plan.op(i).region == PlanRegion::Global)
      eps[static_cast<size_t>(i)] = island_eps * scale.at(static_cast<size_t>(i));
  }
  return eps;
}

}  // namespace fx
