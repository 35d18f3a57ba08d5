// Link estimation on the edge (DESIGN 6.5): bandwidth B and round-trip time from recent transfers.
//
// A sample is one message that got an answer: `bytes` sent (plus `ahead`: bytes still queued in front
// of it when it was queued), and the transfer time = answer received - message queued - the time the
// server reports it spent (queueing + computing). Then transfer = (ahead + bytes) / B + RTT + (the small
// answer). Small transfers (<= small_bytes in all) measure the RTT; larger ones measure B given the
// current RTT. Both are exponentially weighted moving averages.
#pragma once

#include <cstddef>

namespace fx::net {

class LinkEstimator {
 public:
  struct Options {
    double alpha = 0.3;                    // EWMA weight of a new sample
    double initial_bytes_per_s = 2.5e6;    // 20 Mbit/s until measured
    double initial_rtt_s = 0.02;
    size_t small_bytes = 1500;
  };
  LinkEstimator() : LinkEstimator(Options{}) {}
  explicit LinkEstimator(Options o) : o_(o), bw_(o.initial_bytes_per_s), rtt_(o.initial_rtt_s) {}

  // A round trip of small messages (handshake, ...).
  void on_rtt(double rtt_s);
  void on_transfer(size_t bytes, size_t ahead, double transfer_s);

  double bytes_per_s() const { return bw_; }
  double rtt_s() const { return rtt_; }
  // Predicted time for `bytes` queued behind `ahead` bytes to reach the server and get an answer back
  // (not counting the server's own time).
  double transfer_time(size_t bytes, size_t ahead = 0) const;
  int samples() const { return samples_; }

 private:
  Options o_;
  double bw_, rtt_;
  bool have_rtt_ = false, have_bw_ = false;
  int samples_ = 0;
};

}  // namespace fx::net
