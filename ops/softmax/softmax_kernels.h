// Private: numerically stable softmax over a vector trait (simd.h): max, exp(x - max) with the shared
// polynomial, sum, multiply by the reciprocal of the sum. Results are identical on every ISA:
//  - contiguous rows: element i of a row is summed into lane i % 16 (sequentially), the 16 lanes are
//    then reduced by a fixed tree (lanes j and j + 8, then j + 4, j + 2, j + 1);
//  - strided axes: each column is summed sequentially along the axis.
#pragma once

#include <cstdint>

#include "ops/elementwise/simd.h"

namespace fx {
namespace simd {
namespace {

template <class V>
void softmax_rows(const float* in, float* out, int64_t rows, int64_t len) {
  using T = typename V::T;
  constexpr int W = V::W;
  constexpr int NA = 16 / W;  // accumulators covering 16 lanes
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = in + r * len;
    float* y = out + r * len;
    // Maximum (any order: max is exact, and a NaN anywhere makes the whole row NaN below).
    float m = x[0];
    int64_t i = 0;
    if (len >= W) {
      T mv = V::load(x);
      for (i = W; i + W <= len; i += W) mv = V::max(mv, V::load(x + i));
      alignas(64) float lanes[W];
      V::store(lanes, mv);
      m = lanes[0];
      for (int l = 1; l < W; ++l) m = m > lanes[l] ? m : lanes[l];
    }
    for (; i < len; ++i) m = m > x[i] ? m : x[i];
    const T mv = V::set1(m);
    // exp(x - m) into y, summed in 16 lanes.
    T acc[NA];
    for (int t = 0; t < NA; ++t) acc[t] = V::set1(0.f);
    int64_t q = 0;
    for (; q + 16 <= len; q += 16)
      for (int t = 0; t < NA; ++t) {
        T e = exp_nonpos<V>(V::sub(V::load(x + q + t * W), mv));
        V::store(y + q + t * W, e);
        acc[t] = V::add(acc[t], e);
      }
    for (int64_t j = q; j < len; j += W) {
      const int nl = len - j < W ? static_cast<int>(len - j) : W;
      V::store_n(y + j, exp_nonpos<V>(V::sub(V::load_n(x + j, nl), mv)), nl);
    }
    alignas(64) float s[16];
    for (int t = 0; t < NA; ++t) V::store(s + t * W, acc[t]);
    for (int64_t j = q; j < len; ++j) s[j - q] += y[j];
    for (int w = 8; w >= 1; w /= 2)
      for (int j = 0; j < w; ++j) s[j] += s[j + w];
    const T inv = V::set1(1.f / s[0]);
    for (int64_t j = 0; j < len; j += W) {
      const int nl = len - j < W ? static_cast<int>(len - j) : W;
      if (nl == W) V::store(y + j, V::mul(V::load(y + j), inv));
      else V::store_n(y + j, V::mul(V::load_n(y + j, nl), inv), nl);
    }
  }
}

template <class V>
void softmax_cols(const float* in, float* out, int64_t len, int64_t inner, int64_t j0, int64_t j1) {
  using T = typename V::T;
  constexpr int W = V::W;
  for (int64_t j = j0; j < j1; j += W) {
    const int nl = j1 - j < W ? static_cast<int>(j1 - j) : W;
    const float* x = in + j;
    float* y = out + j;
    T m = V::load_n(x, nl);
    for (int64_t l = 1; l < len; ++l) m = V::max(m, V::load_n(x + l * inner, nl));
    T sum = V::set1(0.f);
    for (int64_t l = 0; l < len; ++l) {
      T e = exp_nonpos<V>(V::sub(V::load_n(x + l * inner, nl), m));
      V::store_n(y + l * inner, e, nl);
      sum = V::add(sum, e);
    }
    const T inv = V::div(V::set1(1.f), sum);
    for (int64_t l = 0; l < len; ++l) V::store_n(y + l * inner, V::mul(V::load_n(y + l * inner, nl), inv), nl);
  }
}

}  // namespace
}  // namespace simd
}  // namespace fx
