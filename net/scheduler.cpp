#include "net/scheduler.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "runtime/error.h"

namespace fx::net {

Policy parse_policy(const std::string& s) {
  if (s == "fluxshard") return Policy::FluxShard;
  if (s == "local") return Policy::Local;
  if (s == "offload") return Policy::Offload;
  throw Error("unknown policy '" + s + "' (fluxshard, local or offload)");
}

const char* policy_name(Policy p) {
  switch (p) {
    case Policy::FluxShard: return "fluxshard";
    case Policy::Local: return "local";
    case Policy::Offload: return "offload";
  }
  return "?";
}

Profile::Profile(std::vector<std::pair<int, double>> points) : pts_(std::move(points)) {
  // The cloud's points come from the server: a NaN would break the sort's ordering, and negative or
  // infinite times mean nothing.
  pts_.erase(std::remove_if(pts_.begin(), pts_.end(),
                            [](const std::pair<int, double>& p) {
                              return p.first < 0 || !std::isfinite(p.second) || p.second < 0;
                            }),
             pts_.end());
  std::sort(pts_.begin(), pts_.end());
  // Keep one point per block count and a non-decreasing time.
  std::vector<std::pair<int, double>> out;
  for (auto& p : pts_) {
    if (!out.empty() && p.first == out.back().first) {
      out.back().second = std::min(out.back().second, p.second);
      continue;
    }
    out.push_back(p);
  }
  for (size_t i = 1; i < out.size(); ++i) out[i].second = std::max(out[i].second, out[i - 1].second);
  pts_ = std::move(out);
}

double Profile::ms(int blocks) const {
  if (pts_.empty()) return 0;
  if (pts_.size() == 1) return pts_[0].second;
  if (blocks <= pts_.front().first) return pts_.front().second;
  for (size_t i = 1; i < pts_.size(); ++i)
    if (blocks <= pts_[i].first) {
      const auto& a = pts_[i - 1];
      const auto& b = pts_[i];
      double f = double(blocks - a.first) / double(b.first - a.first);
      return a.second + f * (b.second - a.second);
    }
  const auto& a = pts_[pts_.size() - 2];
  const auto& b = pts_.back();
  double slope = (b.second - a.second) / double(b.first - a.first);
  return b.second + slope * (blocks - b.first);
}

Decision decide(Policy p, const Profile& f_e, const Profile& f_c, const SchedulerInput& in) {
  Decision d;
  d.t_edge_ms = in.edge_scale * f_e.ms(in.ecb);
  if (in.cloud_ready) {
    double bw = std::max(in.bytes_per_s, 1.0);
    d.t_cloud_ms = in.cloud_scale * f_c.ms(in.ccb) +
                   1e3 * (static_cast<double>(in.ccb_bytes + in.queued_bytes) / bw + in.rtt_s);
  } else {
    d.t_cloud_ms = std::numeric_limits<double>::infinity();
  }
  switch (p) {
    case Policy::Local: d.cloud = false; break;
    case Policy::Offload: d.cloud = in.cloud_ready; break;
    case Policy::FluxShard: d.cloud = in.cloud_ready && d.t_cloud_ms < d.t_edge_ms; break;
  }
  return d;
}

}  // namespace fx::net
