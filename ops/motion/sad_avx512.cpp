// AVX-512 block SAD (compiled with -mavx512f/bw). Each row is read in 64-byte pieces with zero-masked
// loads (the last piece masked to the row's length, e.g. 48 bytes for a 16-px block), so no byte
// outside the block rows is read and masked-off lanes contribute |0 - 0| = 0. For 16-px blocks the
// current block is kept in 16 registers while it is compared against all candidate offsets.
#include "ops/motion/sad.h"

#if defined(__AVX512F__) && defined(__AVX512BW__)
#include <immintrin.h>

// GCC 12 reports its own _mm512_undefined_* idiom (inside _mm512_reduce_add_epi64) as
// -Wmaybe-uninitialized once inlined.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace fx {
namespace detail {

namespace {

// The 16-px path: the current block stays in 16 registers; with kBounded, a candidate whose first
// eight rows already sum above `limit` stops there.
template <bool kBounded>
void sad16(const __m512i* va, const uint8_t* b, int b_stride, const ptrdiff_t* offsets, int n, uint32_t* out,
           uint32_t limit) {
  const __mmask64 m = (__mmask64{1} << 48) - 1;
  for (int k = 0; k < n; ++k) {
    const uint8_t* bb = b + offsets[k];
    __m512i acc0 = _mm512_setzero_si512(), acc1 = _mm512_setzero_si512();
    for (int y = 0; y < 8; y += 2) {
      const __m512i b0 = _mm512_maskz_loadu_epi8(m, bb + static_cast<ptrdiff_t>(y) * b_stride);
      const __m512i b1 = _mm512_maskz_loadu_epi8(m, bb + static_cast<ptrdiff_t>(y + 1) * b_stride);
      acc0 = _mm512_add_epi64(acc0, _mm512_sad_epu8(va[y], b0));
      acc1 = _mm512_add_epi64(acc1, _mm512_sad_epu8(va[y + 1], b1));
    }
    if (kBounded) {
      const uint32_t part = static_cast<uint32_t>(_mm512_reduce_add_epi64(_mm512_add_epi64(acc0, acc1)));
      if (part > limit) {
        out[k] = part;
        continue;
      }
    }
    for (int y = 8; y < 16; y += 2) {
      const __m512i b0 = _mm512_maskz_loadu_epi8(m, bb + static_cast<ptrdiff_t>(y) * b_stride);
      const __m512i b1 = _mm512_maskz_loadu_epi8(m, bb + static_cast<ptrdiff_t>(y + 1) * b_stride);
      acc0 = _mm512_add_epi64(acc0, _mm512_sad_epu8(va[y], b0));
      acc1 = _mm512_add_epi64(acc1, _mm512_sad_epu8(va[y + 1], b1));
    }
    out[k] = static_cast<uint32_t>(_mm512_reduce_add_epi64(_mm512_add_epi64(acc0, acc1)));
  }
}

}  // namespace

void block_sad_rgb_multi_avx512(const uint8_t* a, int a_stride, const uint8_t* b, int b_stride, int block,
                                const ptrdiff_t* offsets, int n, uint32_t* out, uint32_t limit) {
  if (block == 16) {
    const __mmask64 m = (__mmask64{1} << 48) - 1;
    __m512i va[16];
    for (int y = 0; y < 16; ++y) va[y] = _mm512_maskz_loadu_epi8(m, a + static_cast<ptrdiff_t>(y) * a_stride);
    if (limit == kSadExact) sad16<false>(va, b, b_stride, offsets, n, out, limit);
    else sad16<true>(va, b, b_stride, offsets, n, out, limit);
    return;
  }
  const int row = 3 * block, half = block / 2;
  for (int k = 0; k < n; ++k) {
    const uint8_t* bb = b + offsets[k];
    __m512i acc = _mm512_setzero_si512();
    for (int y = 0; y < block; ++y) {
      if (y == half && limit != kSadExact && static_cast<uint32_t>(_mm512_reduce_add_epi64(acc)) > limit) break;
      const uint8_t* pa = a + static_cast<ptrdiff_t>(y) * a_stride;
      const uint8_t* pb = bb + static_cast<ptrdiff_t>(y) * b_stride;
      for (int i = 0; i < row; i += 64) {
        const int len = row - i < 64 ? row - i : 64;
        const __mmask64 m = len == 64 ? ~__mmask64{0} : (__mmask64{1} << len) - 1;
        acc = _mm512_add_epi64(acc,
                               _mm512_sad_epu8(_mm512_maskz_loadu_epi8(m, pa + i), _mm512_maskz_loadu_epi8(m, pb + i)));
      }
    }
    out[k] = static_cast<uint32_t>(_mm512_reduce_add_epi64(acc));
  }
}

}  // namespace detail
}  // namespace fx
#endif
