// AVX2 block SAD (compiled with -mavx2). Rows are summed in 32-, 16- and 8-byte pieces with
// _mm256_sad_epu8 / _mm_sad_epu8; the last < 8 bytes of a row (block sizes that are not multiples of
// 8 px) are summed in scalar code. No byte outside the block rows is read.
#include "ops/motion/sad.h"

#if defined(__AVX2__)
#include <immintrin.h>

namespace fx {
namespace detail {

namespace {

inline uint32_t row_sad_tail(const uint8_t* pa, const uint8_t* pb, int i, int row, __m256i& acc) {
  uint32_t s = 0;
  for (; i + 32 <= row; i += 32) {
    const __m256i va = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(pa + i));
    const __m256i vb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(pb + i));
    acc = _mm256_add_epi64(acc, _mm256_sad_epu8(va, vb));
  }
  if (i + 16 <= row) {
    const __m128i va = _mm_loadu_si128(reinterpret_cast<const __m128i*>(pa + i));
    const __m128i vb = _mm_loadu_si128(reinterpret_cast<const __m128i*>(pb + i));
    acc = _mm256_add_epi64(acc, _mm256_zextsi128_si256(_mm_sad_epu8(va, vb)));
    i += 16;
  }
  if (i + 8 <= row) {
    const __m128i va = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(pa + i));
    const __m128i vb = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(pb + i));
    acc = _mm256_add_epi64(acc, _mm256_zextsi128_si256(_mm_sad_epu8(va, vb)));
    i += 8;
  }
  for (; i < row; ++i) s += static_cast<uint32_t>(pa[i] > pb[i] ? pa[i] - pb[i] : pb[i] - pa[i]);
  return s;
}

inline uint32_t hsum(__m256i acc) {
  const __m128i s = _mm_add_epi64(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
  return static_cast<uint32_t>(_mm_cvtsi128_si64(s) + _mm_extract_epi64(s, 1));
}

}  // namespace

void block_sad_rgb_multi_avx2(const uint8_t* a, int a_stride, const uint8_t* b, int b_stride, int block,
                              const ptrdiff_t* offsets, int n, uint32_t* out, uint32_t limit) {
  const int half = block / 2;
  if (block == 16) {  // 48-byte rows: 32 + 16
    for (int k = 0; k < n; ++k) {
      const uint8_t* bb = b + offsets[k];
      __m256i acc0 = _mm256_setzero_si256();
      __m128i acc1 = _mm_setzero_si128();
      bool over = false;
      for (int y = 0; y < 16; ++y) {
        if (y == half && limit != kSadExact) {
          const uint32_t part = hsum(_mm256_add_epi64(acc0, _mm256_zextsi128_si256(acc1)));
          if (part > limit) {  // already above the limit: the rest cannot bring it back
            out[k] = part;
            over = true;
            break;
          }
        }
        const uint8_t* pa = a + static_cast<ptrdiff_t>(y) * a_stride;
        const uint8_t* pb = bb + static_cast<ptrdiff_t>(y) * b_stride;
        acc0 = _mm256_add_epi64(acc0, _mm256_sad_epu8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(pa)),
                                                      _mm256_loadu_si256(reinterpret_cast<const __m256i*>(pb))));
        acc1 = _mm_add_epi64(acc1, _mm_sad_epu8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(pa + 32)),
                                                _mm_loadu_si128(reinterpret_cast<const __m128i*>(pb + 32))));
      }
      if (!over) out[k] = hsum(_mm256_add_epi64(acc0, _mm256_zextsi128_si256(acc1)));
    }
    return;
  }
  const int row = 3 * block;
  for (int k = 0; k < n; ++k) {
    const uint8_t* bb = b + offsets[k];
    __m256i acc = _mm256_setzero_si256();
    uint32_t s = 0;
    for (int y = 0; y < block; ++y) {
      if (y == half && limit != kSadExact && s + hsum(acc) > limit) break;
      s += row_sad_tail(a + static_cast<ptrdiff_t>(y) * a_stride, bb + static_cast<ptrdiff_t>(y) * b_stride, 0,
                        row, acc);
    }
    out[k] = s + hsum(acc);
  }
}

}  // namespace detail
}  // namespace fx
#endif
