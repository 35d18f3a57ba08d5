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

void LinkEstimator::on_transfer(size_t bytes, size_t ahead, double s, double recv_s) {
  if (!(s >= 0) || !std::isfinite(s)) return;
  const size_t total = bytes + ahead;
  const double ser = static_cast<double>(total) / std::max(bw_, 1.0);
  auto bw_sample = [&](double b) {
    if (!(b > 0) || !std::isfinite(b)) return;
    bw_ = have_bw_ ? (1 - o_.alpha) * bw_ + o_.alpha * b : b;
    have_bw_ = true;
    ++samples_;
  };
  if (bytes >= o_.min_bw_bytes && recv_s >= 0.002) {
    bw_sample(static_cast<double>(bytes) / recv_s);
  } else if (total <= o_.small_bytes || ser < 0.1 * rtt_) {
    on_rtt(std::max(0.0, s - ser));
  } else if (total >= o_.min_bw_bytes) {
    // When the RTT estimate swallows the whole transfer, the link was at least as fast as the bytes over
    // a small share of it (no infinite or negative estimates).
    bw_sample(static_cast<double>(total) / std::max(s - rtt_, 0.1 * s));
  }
}

double LinkEstimator::transfer_time(size_t bytes, size_t ahead) const {
  return static_cast<double>(bytes + ahead) / std::max(bw_, 1.0) + rtt_;
}

}  // namespace fx::net
