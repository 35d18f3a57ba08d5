// Link estimation on the edge (DESIGN 6.5): bandwidth B and round-trip time from recent transfers.
//
// A sample is one update that got an answer: `bytes` sent (plus `ahead`: bytes still queued in front of
// it when it was queued), the transfer time = answer received - update queued - the time the server
// reports it spent (queueing + computing), and the server's receive time (its first byte to its last).
// Then transfer ~ (ahead + bytes) / B + RTT. A sample whose serialisation is small next to the RTT
// measures the RTT; a large update measures B: from the server's receive time when it spans several
// milliseconds (both ends of that interval are on the server's clock: no RTT or scheduling noise), else
// from the round trip less the RTT. Both are exponentially weighted moving averages.
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
    size_t min_bw_bytes = 16 * 1024;       // smaller updates say little about B
  };
  LinkEstimator() : LinkEstimator(Options{}) {}
  explicit LinkEstimator(Options o) : o_(o), bw_(o.initial_bytes_per_s), rtt_(o.initial_rtt_s) {}

  // A round trip of small messages (handshake, ...).
  void on_rtt(double rtt_s);
  void on_transfer(size_t bytes, size_t ahead, double transfer_s, double server_recv_s = 0);

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
