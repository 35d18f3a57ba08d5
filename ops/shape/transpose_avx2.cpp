// AVX2 2-D transpose: 8 x 8 register tiles inside 32 x 32 cache blocks (also used on AVX-512 machines:
// the kernel is bound by memory, not by vector width).
#include "ops/shape/shape_internal.h"

#if defined(__AVX2__)
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#else
#include <immintrin.h>
#endif

namespace fx {
namespace detail {
namespace {

inline void tr8x8(const float* s, int64_t sld, float* d, int64_t dld) {
  __m256 r0 = _mm256_loadu_ps(s), r1 = _mm256_loadu_ps(s + sld), r2 = _mm256_loadu_ps(s + 2 * sld),
         r3 = _mm256_loadu_ps(s + 3 * sld), r4 = _mm256_loadu_ps(s + 4 * sld), r5 = _mm256_loadu_ps(s + 5 * sld),
         r6 = _mm256_loadu_ps(s + 6 * sld), r7 = _mm256_loadu_ps(s + 7 * sld);
  __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
  __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
  __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
  __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
  __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  _mm256_storeu_ps(d, _mm256_permute2f128_ps(u0, u4, 0x20));
  _mm256_storeu_ps(d + dld, _mm256_permute2f128_ps(u1, u5, 0x20));
  _mm256_storeu_ps(d + 2 * dld, _mm256_permute2f128_ps(u2, u6, 0x20));
  _mm256_storeu_ps(d + 3 * dld, _mm256_permute2f128_ps(u3, u7, 0x20));
  _mm256_storeu_ps(d + 4 * dld, _mm256_permute2f128_ps(u0, u4, 0x31));
  _mm256_storeu_ps(d + 5 * dld, _mm256_permute2f128_ps(u1, u5, 0x31));
  _mm256_storeu_ps(d + 6 * dld, _mm256_permute2f128_ps(u2, u6, 0x31));
  _mm256_storeu_ps(d + 7 * dld, _mm256_permute2f128_ps(u3, u7, 0x31));
}

inline void tr_scalar(const float* src, int64_t sld, float* dst, int64_t dld, int64_t rows, int64_t cols) {
  for (int64_t j = 0; j < cols; ++j)
    for (int64_t i = 0; i < rows; ++i) dst[j * dld + i] = src[i * sld + j];
}

}  // namespace

void transpose2d_avx2(const float* src, int64_t sld, float* dst, int64_t dld, int64_t rows, int64_t cols) {
  if (rows < 8 || cols < 8) {
    transpose2d_generic(src, sld, dst, dld, rows, cols);
    return;
  }
  constexpr int64_t B = 32;
  for (int64_t i0 = 0; i0 < rows; i0 += B) {
    const int64_t i1 = i0 + B < rows ? i0 + B : rows;
    const int64_t i8 = i0 + ((i1 - i0) & ~int64_t{7});
    for (int64_t j0 = 0; j0 < cols; j0 += B) {
      const int64_t j1 = j0 + B < cols ? j0 + B : cols;
      const int64_t j8 = j0 + ((j1 - j0) & ~int64_t{7});
      for (int64_t i = i0; i < i8; i += 8)
        for (int64_t j = j0; j < j8; j += 8) tr8x8(src + i * sld + j, sld, dst + j * dld + i, dld);
      if (j8 < j1) tr_scalar(src + i0 * sld + j8, sld, dst + j8 * dld + i0, dld, i1 - i0, j1 - j8);
      if (i8 < i1) tr_scalar(src + i8 * sld + j0, sld, dst + j0 * dld + i8, dld, i1 - i8, j8 - j0);
    }
  }
}

}  // namespace detail
}  // namespace fx
#endif
