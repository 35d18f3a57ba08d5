// Test harness for kernels, in the spirit of ggml's test-backend-ops: random inputs, outputs compared
// with a reference by normalised mean squared error, NaN/Inf checks, and guard bytes around every
// output so a kernel writing outside its view is caught.
#pragma once

#include <cmath>
#include <cstdint>
#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "ops/map_view.h"

namespace fx::test {

// sum((a - ref)^2) / sum(ref^2); 0 when both are zero.
inline double nmse(const float* a, const float* ref, size_t n) {
  double num = 0, den = 0;
  for (size_t i = 0; i < n; ++i) {
    double d = static_cast<double>(a[i]) - ref[i];
    num += d * d;
    den += static_cast<double>(ref[i]) * ref[i];
  }
  if (den == 0) return num == 0 ? 0 : 1e30;
  return num / den;
}

inline bool all_finite(const float* a, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (!std::isfinite(a[i])) return false;
  return true;
}

inline void fill_uniform(float* p, size_t n, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  for (size_t i = 0; i < n; ++i) p[i] = dist(rng);
}

inline std::vector<float> random_vector(size_t n, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  std::vector<float> v(n);
  fill_uniform(v.data(), n, seed, lo, hi);
  return v;
}

// A float buffer with guard zones before and after, filled with a NaN pattern that kernels must not
// touch. Pointer alignment of data() is 64 bytes, like the executor's arena.
class Guarded {
 public:
  static constexpr size_t kGuard = 64;  // floats on each side
  explicit Guarded(size_t n, float fill = 0.f) : n_(n), storage_(n + 2 * kGuard + 16) {
    uintptr_t p = reinterpret_cast<uintptr_t>(storage_.data());
    offset_ = ((64 - (p % 64)) % 64) / sizeof(float);
    for (auto& v : storage_) v = sentinel();
    for (size_t i = 0; i < n_; ++i) data()[i] = fill;
  }
  float* data() { return storage_.data() + offset_ + kGuard; }
  const float* data() const { return storage_.data() + offset_ + kGuard; }
  size_t size() const { return n_; }
  bool guards_intact() const {
    const float* base = storage_.data() + offset_;
    for (size_t i = 0; i < kGuard; ++i) {
      if (!same_bits(base[i], sentinel())) return false;
      if (!same_bits(base[kGuard + n_ + i], sentinel())) return false;
    }
    return true;
  }
  static float sentinel() {
    uint32_t bits = 0x7fc0dead;  // a quiet NaN with a recognisable payload
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
  }
  static bool same_bits(float a, float b) { return std::memcmp(&a, &b, 4) == 0; }

 private:
  size_t n_;
  std::vector<float> storage_;
  size_t offset_ = 0;
};

// An NHWC map in a guarded buffer. With extra_channels > 0 the map is a channel slice of a wider
// buffer (pixel_stride = c + extra_channels, starting at channel `first`): kernels must leave the other
// channels alone, which unused() checks.
struct TestMap {
  int h, w, c, extra, first;
  Guarded buf;
  TestMap(int h_, int w_, int c_, int extra_channels = 0, int first_channel = 0, float fill = 0.f)
      : h(h_), w(w_), c(c_), extra(extra_channels), first(first_channel),
        buf(static_cast<size_t>(h_) * w_ * (c_ + extra_channels), fill) {}
  MapView view() { return {buf.data() + first, h, w, c, c + extra}; }
  void randomize(uint32_t seed, float lo = -1.f, float hi = 1.f) {
    MapView v = view();
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> dist(lo, hi);
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        for (int ch = 0; ch < c; ++ch) v.at(y, x)[ch] = dist(rng);
  }
  // The map's own values, packed densely (h, w, c).
  std::vector<float> packed() {
    std::vector<float> out(static_cast<size_t>(h) * w * c);
    MapView v = view();
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        for (int ch = 0; ch < c; ++ch) out[(static_cast<size_t>(y) * w + x) * c + ch] = v.at(y, x)[ch];
    return out;
  }
  // True when every value outside this view's channels still holds `fill`.
  bool others_untouched(float fill) const {
    const float* d = buf.data();
    int stride = c + extra;
    for (size_t p = 0; p < static_cast<size_t>(h) * w; ++p)
      for (int ch = 0; ch < stride; ++ch) {
        if (ch >= first && ch < first + c) continue;
        if (!Guarded::same_bits(d[p * stride + ch], fill)) return false;
      }
    return true;
  }
};

// Random spans covering a random subset of an h x w map: what the sparse executor passes.
inline std::vector<Span> random_spans(int h, int w, uint32_t seed, double keep = 0.3) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<Span> spans;
  for (int y = 0; y < h; ++y) {
    int x = 0;
    while (x < w) {
      int len = 1 + static_cast<int>(u(rng) * std::max(1, w / 3));
      int x1 = std::min(w, x + len);
      if (u(rng) < keep) spans.push_back({y, x, x1});
      x = x1;
    }
  }
  return spans;
}

inline std::vector<Span> full_spans(int h, int w) {
  std::vector<Span> s;
  for (int y = 0; y < h; ++y) s.push_back({y, 0, w});
  return s;
}

// Elements of a packed [h][w][c] output that are wrong after a run over `spans`: inside a span the bits must
// equal `ref`'s, outside it the output must still hold `fill`.
inline size_t span_mismatches(const std::vector<float>& got, const std::vector<float>& ref,
                              const std::vector<Span>& spans, int h, int w, int c, float fill) {
  std::vector<char> covered(static_cast<size_t>(h) * w, 0);
  for (const Span& s : spans)
    for (int x = s.x0; x < s.x1; ++x) covered[static_cast<size_t>(s.y) * w + x] = 1;
  size_t bad = 0;
  for (size_t pos = 0; pos < covered.size(); ++pos)
    for (int k = 0; k < c; ++k) {
      const size_t i = pos * c + k;
      const float want = covered[pos] ? ref[i] : fill;
      bad += std::memcmp(&got[i], &want, 4) != 0;
    }
  return bad;
}

}  // namespace fx::test
