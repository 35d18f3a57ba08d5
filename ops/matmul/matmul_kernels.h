// Private: a register-tiled matrix multiply over a vector trait (simd.h): MR rows x 2 vectors of
// columns per micro-tile, B read in place (the attention island's matrices are at most a few hundred
// wide, so no packing).
#pragma once

#include <cstdint>

#include "ops/elementwise/simd.h"

namespace fx {
namespace simd {
namespace {

template <class V, int MR, bool FULL>
inline void matmul_micro(const float* a, int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc,
                         int64_t k, int n1, int n2) {
  using T = typename V::T;
  constexpr int W = V::W;
  T acc0[MR], acc1[MR];
  for (int r = 0; r < MR; ++r) acc0[r] = acc1[r] = V::set1(0.f);
  const T zero = V::set1(0.f);
  for (int64_t kk = 0; kk < k; ++kk) {
    const float* bk = b + kk * ldb;
    T b0 = FULL ? V::load(bk) : V::load_n(bk, n1);
    T b1 = FULL ? V::load(bk + W) : (n2 > 0 ? V::load_n(bk + W, n2) : zero);
    for (int r = 0; r < MR; ++r) {
      T av = V::set1(a[r * lda + kk]);
      acc0[r] = V::fmadd(av, b0, acc0[r]);
      acc1[r] = V::fmadd(av, b1, acc1[r]);
    }
  }
  for (int r = 0; r < MR; ++r) {
    float* cr = c + r * ldc;
    if (FULL) {
      V::store(cr, acc0[r]);
      V::store(cr + W, acc1[r]);
    } else {
      V::store_n(cr, acc0[r], n1);
      if (n2 > 0) V::store_n(cr + W, acc1[r], n2);
    }
  }
}

template <class V, bool FULL>
inline void matmul_column_panel(const float* a, int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc,
                                int64_t m, int64_t k, int n1, int n2) {
  constexpr int MR = 6;
  int64_t i = 0;
  for (; i + MR <= m; i += MR) matmul_micro<V, MR, FULL>(a + i * lda, lda, b, ldb, c + i * ldc, ldc, k, n1, n2);
  const float* ai = a + i * lda;
  float* ci = c + i * ldc;
  switch (m - i) {
    case 5: matmul_micro<V, 5, FULL>(ai, lda, b, ldb, ci, ldc, k, n1, n2); break;
    case 4: matmul_micro<V, 4, FULL>(ai, lda, b, ldb, ci, ldc, k, n1, n2); break;
    case 3: matmul_micro<V, 3, FULL>(ai, lda, b, ldb, ci, ldc, k, n1, n2); break;
    case 2: matmul_micro<V, 2, FULL>(ai, lda, b, ldb, ci, ldc, k, n1, n2); break;
    case 1: matmul_micro<V, 1, FULL>(ai, lda, b, ldb, ci, ldc, k, n1, n2); break;
    default: break;
  }
}

template <class V>
void matmul_block(const float* a, int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc, int64_t m,
                  int64_t n, int64_t k) {
  constexpr int W = V::W;
  constexpr int NR = 2 * W;
  for (int64_t j0 = 0; j0 < n; j0 += NR) {
    const int nc = n - j0 < NR ? static_cast<int>(n - j0) : NR;
    if (nc == NR) {
      matmul_column_panel<V, true>(a, lda, b + j0, ldb, c + j0, ldc, m, k, W, W);
    } else {
      const int n1 = nc < W ? nc : W;
      matmul_column_panel<V, false>(a, lda, b + j0, ldb, c + j0, ldc, m, k, n1, nc - n1);
    }
  }
}

}  // namespace
}  // namespace simd
}  // namespace fx
