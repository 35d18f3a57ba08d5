// NEON block SAD (aarch64). Bytes are compared 16 at a time (UABD), and the differences summed pairwise
// into 16-bit lanes (UADALP), which are widened into 32-bit lanes before they could overflow; rows whose
// length is not a multiple of 16 take one 8-byte piece and a scalar tail. No byte outside the block rows
// is read. Sums are exact integers, so the result equals the portable kernel's.
#include "ops/motion/sad.h"

#if defined(__aarch64__) && defined(__ARM_NEON)
#include <arm_neon.h>

namespace fx {
namespace detail {

namespace {

// 16-bit lanes take at most 128 UADALPs of byte differences (2 * 255 each) before they are widened.
constexpr int kChunksPer16 = 128;

// |pa - pb| summed over row bytes: whole 16-byte pieces into acc, the rest returned.
inline uint32_t row_sad(const uint8_t* pa, const uint8_t* pb, int row, uint32x4_t& acc) {
  int i = 0;
  while (i + 16 <= row) {
    uint16x8_t acc16 = vdupq_n_u16(0);
    const int end = row - i > 16 * kChunksPer16 ? i + 16 * kChunksPer16 : row;
    for (; i + 16 <= end; i += 16) acc16 = vpadalq_u8(acc16, vabdq_u8(vld1q_u8(pa + i), vld1q_u8(pb + i)));
    acc = vpadalq_u16(acc, acc16);
  }
  uint32_t s = 0;
  if (i + 8 <= row) {
    s += vaddlv_u8(vabd_u8(vld1_u8(pa + i), vld1_u8(pb + i)));
    i += 8;
  }
  for (; i < row; ++i) s += static_cast<uint32_t>(pa[i] > pb[i] ? pa[i] - pb[i] : pb[i] - pa[i]);
  return s;
}

// 16-px blocks: 48-byte rows, three vectors each, in two 16-bit accumulators (at most 16 rows * 2 *
// 2 * 255 = 16320 per lane); with kBounded, a candidate whose first eight rows already sum above
// `limit` stops there.
template <bool kBounded>
void sad16(const uint8_t* a, int a_stride, const uint8_t* b, int b_stride, const ptrdiff_t* offsets, int n,
           uint32_t* out, uint32_t limit) {
  for (int k = 0; k < n; ++k) {
    const uint8_t* bb = b + offsets[k];
    uint16x8_t acc0 = vdupq_n_u16(0), acc1 = vdupq_n_u16(0);
    auto rows = [&](int y0, int y1) {
      for (int y = y0; y < y1; ++y) {
        const uint8_t* pa = a + static_cast<ptrdiff_t>(y) * a_stride;
        const uint8_t* pb = bb + static_cast<ptrdiff_t>(y) * b_stride;
        acc0 = vpadalq_u8(acc0, vabdq_u8(vld1q_u8(pa), vld1q_u8(pb)));
        acc1 = vpadalq_u8(acc1, vabdq_u8(vld1q_u8(pa + 16), vld1q_u8(pb + 16)));
        acc0 = vpadalq_u8(acc0, vabdq_u8(vld1q_u8(pa + 32), vld1q_u8(pb + 32)));
      }
    };
    rows(0, 8);
    if (kBounded) {
      const uint32_t part = vaddlvq_u16(acc0) + vaddlvq_u16(acc1);
      if (part > limit) {  // already above the limit: the rest cannot bring it back
        out[k] = part;
        continue;
      }
    }
    rows(8, 16);
    out[k] = vaddlvq_u16(acc0) + vaddlvq_u16(acc1);
  }
}

}  // namespace

void block_sad_rgb_multi_neon(const uint8_t* a, int a_stride, const uint8_t* b, int b_stride, int block,
                              const ptrdiff_t* offsets, int n, uint32_t* out, uint32_t limit) {
  if (block == 16) {
    if (limit == kSadExact) sad16<false>(a, a_stride, b, b_stride, offsets, n, out, limit);
    else sad16<true>(a, a_stride, b, b_stride, offsets, n, out, limit);
    return;
  }
  const int row = 3 * block, half = block / 2;
  for (int k = 0; k < n; ++k) {
    const uint8_t* bb = b + offsets[k];
    uint32x4_t acc = vdupq_n_u32(0);
    uint32_t s = 0;
    for (int y = 0; y < block; ++y) {
      if (y == half && limit != kSadExact && s + vaddvq_u32(acc) > limit) break;
      s += row_sad(a + static_cast<ptrdiff_t>(y) * a_stride, bb + static_cast<ptrdiff_t>(y) * b_stride, row, acc);
    }
    out[k] = s + vaddvq_u32(acc);
  }
}

}  // namespace detail
}  // namespace fx
#endif
