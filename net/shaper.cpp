#include "net/shaper.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>

#include "runtime/error.h"

namespace fx::net {

namespace {
constexpr double kBytesPerMbit = 1e6 / 8;
}

RateTrace RateTrace::constant(double mbit) {
  if (!(mbit > 0) || !std::isfinite(mbit)) throw Error("bandwidth must be a positive number of Mbit/s");
  RateTrace t;
  t.points_.push_back({0.0, mbit * kBytesPerMbit});
  std::ostringstream n;
  n << mbit << " Mbit/s";
  t.name_ = n.str();
  return t;
}

RateTrace RateTrace::preset(const std::string& name) {
  RateTrace t;
  if (name == "high") t = constant(130);
  else if (name == "medium") t = constant(56);
  else if (name == "low") t = constant(25);
  else {
    char* end = nullptr;
    double v = std::strtod(name.c_str(), &end);
    if (name.empty() || !end || *end) throw Error("unknown bandwidth preset '" + name + "' (high, medium, low)");
    return constant(v);
  }
  t.name_ = name + " (" + t.name_ + ")";
  return t;
}

RateTrace RateTrace::parse_text(const std::string& text, const std::string& source) {
  RateTrace t;
  std::istringstream in(text);
  std::string line;
  int no = 0;
  while (std::getline(in, line)) {
    ++no;
    auto hash = line.find('#');
    if (hash != std::string::npos) line.resize(hash);
    std::istringstream ls(line);
    double time = 0, mbit = 0;
    if (!(ls >> time)) continue;  // blank line
    std::string rest;
    if (!(ls >> mbit) || (ls >> rest) || !std::isfinite(time) || !std::isfinite(mbit) || time < 0 || mbit <= 0)
      throw Error("trace '" + source + "' line " + std::to_string(no) +
                  ": expected 'time_s mbit_per_s' with a positive rate");
    if (t.points_.empty() ? time != 0 : time <= t.points_.back().t)
      throw Error("trace '" + source + "' line " + std::to_string(no) +
                  ": times must start at 0 and increase strictly");
    t.points_.push_back({time, mbit * kBytesPerMbit});
  }
  if (t.points_.empty()) throw Error("trace '" + source + "' has no 'time_s mbit_per_s' lines");
  t.name_ = source;
  return t;
}

RateTrace RateTrace::from_file(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw Error("cannot open bandwidth trace '" + path + "'");
  std::stringstream ss;
  ss << f.rdbuf();
  return parse_text(ss.str(), path);
}

RateTrace RateTrace::parse(const std::string& spec) {
  if (spec == "high" || spec == "medium" || spec == "low") return preset(spec);
  char* end = nullptr;
  std::strtod(spec.c_str(), &end);
  if (!spec.empty() && end && !*end) return preset(spec);
  return from_file(spec);
}

double RateTrace::rate_at(double t) const {
  if (points_.empty()) return std::numeric_limits<double>::infinity();
  auto it = std::upper_bound(points_.begin(), points_.end(), t, [](double v, const Point& p) { return v < p.t; });
  return it == points_.begin() ? points_.front().bytes_per_s : std::prev(it)->bytes_per_s;
}

double RateTrace::finish_time(double t0, double bytes) const {
  if (bytes <= 0 || points_.empty()) return t0;
  size_t i = 0;
  while (i + 1 < points_.size() && points_[i + 1].t <= t0) ++i;
  double t = t0;
  for (;; ++i) {
    double r = points_[i].bytes_per_s;
    double end = i + 1 < points_.size() ? points_[i + 1].t : std::numeric_limits<double>::infinity();
    double can = (end - t) * r;
    if (can >= bytes) return t + bytes / r;
    bytes -= can;
    t = end;
  }
}

double RateTrace::bytes_between(double t0, double t1) const {
  if (t1 <= t0) return 0;
  if (points_.empty()) return std::numeric_limits<double>::infinity();
  size_t i = 0;
  while (i + 1 < points_.size() && points_[i + 1].t <= t0) ++i;
  double sum = 0, t = t0;
  for (; t < t1; ++i) {
    double end = i + 1 < points_.size() ? std::min(t1, points_[i + 1].t) : t1;
    sum += (end - t) * points_[i].bytes_per_s;
    t = end;
    if (i + 1 >= points_.size()) break;
  }
  return sum;
}

TokenBucket::TokenBucket(RateTrace trace, double burst_bytes)
    : trace_(std::move(trace)), burst_(std::max(0.0, burst_bytes)), tokens_(burst_) {}

double TokenBucket::reserve(double now, size_t bytes) {
  if (trace_.unlimited()) return now;
  if (now > t_) {
    tokens_ = std::min(burst_, tokens_ + trace_.bytes_between(t_, now));
    t_ = now;
  }
  double n = static_cast<double>(bytes);
  if (tokens_ >= n) {
    tokens_ -= n;
    return t_;
  }
  double need = n - tokens_;
  tokens_ = 0;
  t_ = trace_.finish_time(t_, need);
  return t_;
}

SharedTokenBucket::SharedTokenBucket(RateTrace trace, double burst_bytes) : bucket_(std::move(trace), burst_bytes) {}

double SharedTokenBucket::reserve(std::chrono::steady_clock::time_point now, size_t bytes) {
  std::lock_guard<std::mutex> lk(mu_);
  const double t = std::chrono::duration<double>(now - t0_).count();
  return std::max(0.0, bucket_.reserve(t, bytes) - t);
}

}  // namespace fx::net
