// Private: nearest-neighbour upsampling over a vector trait (simd.h). Pure data movement: every ISA
// gives the same bits.
#pragma once

#include "ops/elementwise/simd.h"
#include "ops/map_view.h"

namespace fx {
namespace simd {
namespace {

template <class V>
inline void copy_floats(float* dst, const float* src, int n) {
  constexpr int W = V::W;
  int i = 0;
  for (; i + 4 * W <= n; i += 4 * W) {
    auto a = V::load(src + i), b = V::load(src + i + W), c = V::load(src + i + 2 * W),
         d = V::load(src + i + 3 * W);
    V::store(dst + i, a);
    V::store(dst + i + W, b);
    V::store(dst + i + 2 * W, c);
    V::store(dst + i + 3 * W, d);
  }
  for (; i + W <= n; i += W) V::store(dst + i, V::load(src + i));
  if (i < n) V::store_n(dst + i, V::load_n(src + i, n - i), n - i);
}

template <class V>
void resize_spans(int sh, int sw, const MapView& in, const MapView& out, const Span* spans, int count) {
  const int c = out.c;
  const int64_t ps = in.pixel_stride;
  for (int i = 0; i < count; ++i) {
    const Span& s = spans[i];
    if (s.x1 <= s.x0) continue;
    const float* irow = in.at(s.y / sh, 0);
    if (sw == 1 && ps == c && out.pixel_stride == c) {
      copy_floats<V>(out.at(s.y, s.x0), irow + static_cast<int64_t>(s.x0) * ps, (s.x1 - s.x0) * c);
      continue;
    }
    for (int x = s.x0; x < s.x1; ++x) copy_floats<V>(out.at(s.y, x), irow + static_cast<int64_t>(x / sw) * ps, c);
  }
}

}  // namespace
}  // namespace simd
}  // namespace fx
