// Private: the element-wise row kernels, written once over a vector trait (simd.h) and instantiated
// per ISA. Lanes are independent, so an element's bits do not depend on where it sits in a row.
#pragma once

#include <cstdint>

#include "ops/elementwise/elementwise.h"
#include "ops/elementwise/simd.h"

namespace fx {
namespace simd {
namespace {

template <class V, int OP>
inline typename V::T binary_apply(typename V::T a, typename V::T b) {
  if (OP == 0) return V::add(a, b);
  if (OP == 1) return V::sub(a, b);
  if (OP == 2) return V::mul(a, b);
  return V::div(a, b);
}

template <class V, int OP, bool AS, bool BS>
void binary_loop(const float* a, const float* b, float* out, int64_t n) {
  using T = typename V::T;
  constexpr int W = V::W;
  const T sa = V::set1(AS ? *a : 0.f);
  const T sb = V::set1(BS ? *b : 0.f);
  int64_t i = 0;
  for (; i + 2 * W <= n; i += 2 * W) {
    T x0 = AS ? sa : V::load(a + i), x1 = AS ? sa : V::load(a + i + W);
    T y0 = BS ? sb : V::load(b + i), y1 = BS ? sb : V::load(b + i + W);
    V::store(out + i, binary_apply<V, OP>(x0, y0));
    V::store(out + i + W, binary_apply<V, OP>(x1, y1));
  }
  for (; i < n; i += W) {
    int r = n - i < W ? static_cast<int>(n - i) : W;
    T x = AS ? sa : V::load_n(a + i, r);
    T y = BS ? sb : V::load_n(b + i, r);
    V::store_n(out + i, binary_apply<V, OP>(x, y), r);
  }
}

template <class V, int OP>
void binary_row_op(const float* a, bool as, const float* b, bool bs, float* out, int64_t n) {
  if (!as && !bs) binary_loop<V, OP, false, false>(a, b, out, n);
  else if (as && !bs) binary_loop<V, OP, true, false>(a, b, out, n);
  else if (!as && bs) binary_loop<V, OP, false, true>(a, b, out, n);
  else binary_loop<V, OP, true, true>(a, b, out, n);
}

template <class V>
void binary_row(BinaryOp op, const float* a, bool as, const float* b, bool bs, float* out, int64_t n) {
  switch (op) {
    case BinaryOp::Add: binary_row_op<V, 0>(a, as, b, bs, out, n); break;
    case BinaryOp::Sub: binary_row_op<V, 1>(a, as, b, bs, out, n); break;
    case BinaryOp::Mul: binary_row_op<V, 2>(a, as, b, bs, out, n); break;
    case BinaryOp::Div: binary_row_op<V, 3>(a, as, b, bs, out, n); break;
  }
}

template <class V, bool SILU>
void unary_loop(const float* in, float* out, int64_t n) {
  using T = typename V::T;
  constexpr int W = V::W;
  int64_t i = 0;
  for (; i + W <= n; i += W) {
    T x = V::load(in + i);
    V::store(out + i, SILU ? silu<V>(x) : sigmoid<V>(x));
  }
  if (i < n) {
    int r = static_cast<int>(n - i);
    T x = V::load_n(in + i, r);
    V::store_n(out + i, SILU ? silu<V>(x) : sigmoid<V>(x), r);
  }
}

template <class V>
void unary_row(UnaryOp op, const float* in, float* out, int64_t n) {
  if (op == UnaryOp::SiLU) unary_loop<V, true>(in, out, n);
  else unary_loop<V, false>(in, out, n);
}

}  // namespace
}  // namespace simd
}  // namespace fx
