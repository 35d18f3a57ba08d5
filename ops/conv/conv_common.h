// Helpers shared by the convolution drivers (baseline translation units only).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>
#include <vector>

#include "ops/conv/conv_internal.h"

namespace fx::conv_detail {

// A zero-initialised, 64-byte aligned float array (packed weights).
class AlignedFloats {
 public:
  AlignedFloats() = default;
  explicit AlignedFloats(size_t n) : n_(n) {
    size_t bytes = ((n * sizeof(float) + 63) / 64) * 64;
    if (bytes == 0) bytes = 64;
    p_ = static_cast<float*>(std::aligned_alloc(64, bytes));
    if (!p_) throw std::bad_alloc();
    std::memset(p_, 0, bytes);
  }
  ~AlignedFloats() { std::free(p_); }
  AlignedFloats(AlignedFloats&& o) noexcept : p_(o.p_), n_(o.n_) { o.p_ = nullptr; o.n_ = 0; }
  AlignedFloats& operator=(AlignedFloats&& o) noexcept {
    std::swap(p_, o.p_);
    std::swap(n_, o.n_);
    return *this;
  }
  AlignedFloats(const AlignedFloats&) = delete;
  AlignedFloats& operator=(const AlignedFloats&) = delete;
  float* data() { return p_; }
  const float* data() const { return p_; }
  size_t size() const { return n_; }

 private:
  float* p_ = nullptr;
  size_t n_ = 0;
};

// Walks the positions of a span list in order.
struct SpanCursor {
  const Span* s = nullptr;
  int count = 0;
  int idx = 0;
  int x = 0;
  SpanCursor() = default;
  explicit SpanCursor(SpanList l) : s(l.spans), count(l.count) { skip_empty(); }
  // Moves n positions forward (whole spans at a time).
  void advance(int64_t n) {
    while (n > 0 && idx < count) {
      const int64_t left = s[idx].x1 - x;
      if (n < left) {
        x += static_cast<int>(n);
        return;
      }
      n -= left;
      ++idx;
      skip_empty();
    }
  }
  // The next run of at most `max` positions within one span: row y, columns [x0, x1).
  void next_run(int64_t max, int& y, int& x0, int& x1) {
    y = s[idx].y;
    x0 = x;
    const int64_t left = s[idx].x1 - x;
    x1 = left <= max ? s[idx].x1 : x + static_cast<int>(max);
    x = x1;
    if (x >= s[idx].x1) {
      ++idx;
      skip_empty();
    }
  }

 private:
  void skip_empty() {
    while (idx < count && s[idx].x1 <= s[idx].x0) ++idx;
    if (idx < count) x = s[idx].x0;
  }
};

// Work split for ThreadPool::run: task t covers positions [begin(t), begin(t + 1)), in chunks of
// `chunk` positions, and starts its walk at cursor(t). The cursors come from one pass over the spans
// in the calling thread (no per-task search, no allocation).
class TaskSplit {
 public:
  static constexpr int kMaxTasks = 256;
  TaskSplit(SpanList spans, int64_t chunk, int threads) : chunk_(chunk) {
    const int64_t P = spans.positions;
    nchunks_ = (P + chunk - 1) / chunk;
    positions_ = P;
    tasks_ = threads <= 1 ? 1 : static_cast<int>(std::min<int64_t>({nchunks_, int64_t{threads} * 16, kMaxTasks}));
    if (tasks_ < 1) tasks_ = 1;
    SpanCursor c(spans);
    int64_t at = 0;
    for (int t = 0; t < tasks_; ++t) {
      const int64_t b = begin(t);
      c.advance(b - at);
      at = b;
      cursors_[t] = c;
    }
  }
  int tasks() const { return tasks_; }
  int64_t begin(int t) const { return std::min(positions_, nchunks_ * t / tasks_ * chunk_); }
  int64_t end(int t) const { return begin(t + 1); }
  SpanCursor cursor(int t) const { return cursors_[t]; }

 private:
  int64_t chunk_ = 1, nchunks_ = 0, positions_ = 0;
  int tasks_ = 1;
  SpanCursor cursors_[kMaxTasks];
};

// Splits n columns into balanced panels of at most nv_max vectors of W floats.
inline std::vector<Panel> make_panels(int n, int W, int nv_max) {
  std::vector<Panel> out;
  int nvt = (n + W - 1) / W;
  if (nvt == 0) return out;
  int np = (nvt + nv_max - 1) / nv_max;
  int base = nvt / np, extra = nvt % np;
  int n0 = 0;
  for (int i = 0; i < np; ++i) {
    Panel p;
    p.nv = base + (i < extra ? 1 : 0);
    p.n0 = n0;
    p.n = std::min(p.nv * W, n - n0);
    n0 += p.nv * W;
    out.push_back(p);
  }
  return out;
}

inline size_t align64(size_t b) { return (b + 63) / 64 * 64; }

}  // namespace fx::conv_detail
