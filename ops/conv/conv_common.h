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

// Walks the positions of a span list in order, starting at linear position p.
struct SpanCursor {
  const Span* s;
  int count;
  int idx = 0;
  int x = 0;
  SpanCursor(SpanList l, int64_t p) : s(l.spans), count(l.count) {
    while (idx < count) {
      const int64_t len = s[idx].x1 > s[idx].x0 ? s[idx].x1 - s[idx].x0 : 0;
      if (p < len) break;
      p -= len;
      ++idx;
    }
    if (idx < count) x = s[idx].x0 + static_cast<int>(p);
  }
  // The next run of at most `max` positions within one span: row y, columns [x0, x1).
  void next_run(int64_t max, int& y, int& x0, int& x1) {
    y = s[idx].y;
    x0 = x;
    int64_t left = s[idx].x1 - x;
    x1 = left <= max ? s[idx].x1 : x + static_cast<int>(max);
    x = x1;
    if (x >= s[idx].x1) {
      ++idx;
      while (idx < count && s[idx].x1 <= s[idx].x0) ++idx;
      if (idx < count) x = s[idx].x0;
    }
  }
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
