#include "net/estimator.h"

#include <algorithm>
#include <cmath>

namespace fx::net {

void LinkEstimator::on_rtt(double s) {
  if (!(s >= 0) || !std::isfinite(s)) return;
  rtt_ = have_rtt_ ? (1 - o_.alpha) * rtt_ + o_.alpha * s : s;
  have_rtt_ = true;
  ++samples_;
}

void LinkEstimator::on_transfer(size_t bytes, size_t ahead, double s) {
  if (!(s >= 0) || !std::isfinite(s)) return;
  const size_t total = bytes + ahead;
  if (total <= o_.small_bytes) {
    on_rtt(s);
    return;
  }
  // Serialisation time; when the RTT estimate swallows the whole transfer, the link was at least as fast
  // as the transfer's bytes over a small share of it (avoids infinite or negative estimates).
  double ser = std::max(s - rtt_, 0.1 * s);
  if (ser <= 0) return;
  double b = static_cast<double>(total) / ser;
  bw_ = have_bw_ ? (1 - o_.alpha) * bw_ + o_.alpha * b : b;
  have_bw_ = true;
  ++samples_;
}

double LinkEstimator::transfer_time(size_t bytes, size_t ahead) const {
  return static_cast<double>(bytes + ahead) / std::max(bw_, 1.0) + rtt_;
}

}  // namespace fx::net
