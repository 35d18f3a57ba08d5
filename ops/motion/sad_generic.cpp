// Portable block SAD, the reference definition, and the run-time ISA dispatch.
#include "ops/motion/sad.h"

namespace fx {

uint32_t block_sad_rgb_reference(const uint8_t* a, int a_stride, const uint8_t* b, int b_stride, int block) {
  uint32_t s = 0;
  for (int y = 0; y < block; ++y) {
    const uint8_t* pa = a + static_cast<ptrdiff_t>(y) * a_stride;
    const uint8_t* pb = b + static_cast<ptrdiff_t>(y) * b_stride;
    for (int i = 0; i < 3 * block; ++i) s += static_cast<uint32_t>(pa[i] > pb[i] ? pa[i] - pb[i] : pb[i] - pa[i]);
  }
  return s;
}

namespace detail {

void block_sad_rgb_multi_generic(const uint8_t* a, int a_stride, const uint8_t* b, int b_stride, int block,
                                 const ptrdiff_t* offsets, int n, uint32_t* out, uint32_t limit) {
  const int row = 3 * block, half = block / 2;
  for (int k = 0; k < n; ++k) {
    const uint8_t* bb = b + offsets[k];
    uint32_t s = 0;
    for (int y = 0; y < block; ++y) {
      if (y == half && s > limit) break;  // already above the limit: the rest cannot bring it back
      const uint8_t* pa = a + static_cast<ptrdiff_t>(y) * a_stride;
      const uint8_t* pb = bb + static_cast<ptrdiff_t>(y) * b_stride;
      uint32_t r = 0;  // <= 3 * block * 255 per row: the compiler may vectorise this (psadbw)
      for (int i = 0; i < row; ++i) {
        const int d = static_cast<int>(pa[i]) - static_cast<int>(pb[i]);
        r += static_cast<uint32_t>(d < 0 ? -d : d);
      }
      s += r;
    }
    out[k] = s;
  }
}

}  // namespace detail

BlockSadMultiFn block_sad_rgb_multi_fn(CpuIsa isa) {
#if defined(__x86_64__) || defined(__i386__)
  const CpuFeatures& f = cpu_features();
  if (isa == CpuIsa::Avx512 && f.avx512) return detail::block_sad_rgb_multi_avx512;
  if ((isa == CpuIsa::Avx512 || isa == CpuIsa::Avx2) && f.avx2_fma) return detail::block_sad_rgb_multi_avx2;
#elif defined(__aarch64__) && defined(__ARM_NEON)
  if (isa == CpuIsa::Neon && cpu_features().neon) return detail::block_sad_rgb_multi_neon;
#endif
  (void)isa;
  return detail::block_sad_rgb_multi_generic;
}

uint32_t block_sad_rgb(const uint8_t* a, int a_stride, const uint8_t* b, int b_stride, int block) {
  const ptrdiff_t zero = 0;
  uint32_t s = 0;
  block_sad_rgb_multi_fn(best_isa())(a, a_stride, b, b_stride, block, &zero, 1, &s, kSadExact);
  return s;
}

}  // namespace fx
