// The path scheduler (DESIGN 6.5, paper IV.D): per frame, T_edge = f_e(N_ECB) and
// T_cloud = f_c(N_CCB) + bytes(CCB) / B + RTT (plus bytes still queued ahead on the link); the policy
// picks a side: local (always the edge), offload (always the cloud while it is reachable), fluxshard
// (the smaller estimate).
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace fx::net {

enum class Policy { FluxShard, Local, Offload };
Policy parse_policy(const std::string& s);  // throws fx::Error
const char* policy_name(Policy p);

// Execution time as a function of the number of fresh blocks: piecewise linear through measured points
// (blocks increasing), constant below the first point, extrapolated from the last two beyond the last.
// Points with a negative block count or a time that is negative or not finite are dropped.
class Profile {
 public:
  Profile() = default;
  explicit Profile(std::vector<std::pair<int, double>> points);
  double ms(int blocks) const;
  bool empty() const { return pts_.empty(); }
  const std::vector<std::pair<int, double>>& points() const { return pts_; }

 private:
  std::vector<std::pair<int, double>> pts_;
};

struct SchedulerInput {
  int ecb = 0, ccb = 0;          // critical blocks against the edge reference / the proxy
  size_t ccb_bytes = 0;          // the update's size on the wire
  size_t queued_bytes = 0;       // bytes still waiting on the link
  double bytes_per_s = 0, rtt_s = 0;
  double edge_scale = 1, cloud_scale = 1;  // observed / profiled time ratios
  bool cloud_ready = false;      // connected, handshake done, no result outstanding
};

struct Decision {
  bool cloud = false;
  double t_edge_ms = 0, t_cloud_ms = 0;
};

Decision decide(Policy p, const Profile& f_e, const Profile& f_c, const SchedulerInput& in);

}  // namespace fx::net
