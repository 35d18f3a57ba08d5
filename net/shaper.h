// Bandwidth shaping of the edge's send path (DESIGN 7): a token bucket whose fill rate follows a rate
// trace: a constant preset (high 130 Mbit/s, medium 56, low 25) or a trace file of lines
// "time_s mbit_per_s" (rates hold from their time until the next line; the last holds for ever; '#'
// starts a comment). Time is in seconds from the start of the session.
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <vector>

namespace fx::net {

class RateTrace {
 public:
  RateTrace() = default;  // unlimited
  static RateTrace constant(double mbit_per_s);
  // "high", "medium", "low", or a number of Mbit/s ("80").
  static RateTrace preset(const std::string& name);
  static RateTrace from_file(const std::string& path);
  static RateTrace parse_text(const std::string& text, const std::string& source);
  // A preset name / number, else a trace file.
  static RateTrace parse(const std::string& spec);

  bool unlimited() const { return points_.empty(); }
  // Bytes per second at time t.
  double rate_at(double t) const;
  // When `bytes` started at t0 have gone through (fluid model over the piecewise-constant rate).
  double finish_time(double t0, double bytes) const;
  // Bytes that go through between t0 and t1.
  double bytes_between(double t0, double t1) const;
  const std::string& name() const { return name_; }

 private:
  struct Point {
    double t, bytes_per_s;
  };
  std::vector<Point> points_;  // t strictly increasing, first at 0
  std::string name_ = "unlimited";
};

// FIFO token bucket: tokens accrue at the trace's rate up to `burst` bytes; a message of n bytes is
// released once n tokens were available to it (bytes beyond the tokens in hand wait for the rate).
class TokenBucket {
 public:
  explicit TokenBucket(RateTrace trace = {}, double burst_bytes = 16 * 1024);
  // Reserves `bytes` at time `now`; returns when the last of them may be sent (>= now).
  double reserve(double now, size_t bytes);
  // Time at which everything reserved so far is through.
  double busy_until() const { return t_; }
  const RateTrace& trace() const { return trace_; }

 private:
  RateTrace trace_;
  double burst_;
  double tokens_;
  double t_ = 0;
};

// One shaped link under several edges' send paths (the multi-edge experiments on one machine): a token
// bucket behind a lock on a clock of its own, so every edge's bytes draw on the same rate, first come
// first served. Thread-safe.
class SharedTokenBucket {
 public:
  explicit SharedTokenBucket(RateTrace trace, double burst_bytes = 16 * 1024);
  // Reserves `bytes` at `now`; returns how many seconds after `now` the last of them may be sent.
  double reserve(std::chrono::steady_clock::time_point now, size_t bytes);

 private:
  std::mutex mu_;
  TokenBucket bucket_;
  std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now();
};

}  // namespace fx::net
