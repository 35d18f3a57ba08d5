// Block sum of absolute differences (SAD) over packed RGB24 pixels, for the motion aligner
// (runtime/motion/aligner.h).
//
// A "block" is block x block pixels = block rows of 3 * block bytes. The SAD is the plain integer sum
// over all those bytes of |a - b|, so every ISA (portable, AVX2, AVX-512, NEON) returns exactly the same
// value; a CUDA port only has to sum the same bytes. The maximum is block^2 * 3 * 255, which fits in
// uint32_t for block <= 2300.
//
// Vector paths: AVX-512 loads each 48-byte row of a 16-pixel block with a zero-masked 64-byte load and
// sums with _mm512_sad_epu8 (the current block stays in 16 registers while it is compared with many
// candidate positions); AVX2 uses a 32-byte + 16-byte load per row; NEON three 16-byte loads per row.
// No path reads a byte outside the block x (3 * block) rectangles it is given.
#pragma once

#include <cstddef>
#include <cstdint>

#include "ops/cpu_features.h"

namespace fx {

// SAD of the block at `a` (rows `a_stride` bytes apart) against the block at `b`. Dispatches on
// best_isa() (FLUXSHARD_ISA lowers it); hot loops should fetch block_sad_rgb_multi_fn() once instead.
uint32_t block_sad_rgb(const uint8_t* a, int a_stride, const uint8_t* b, int b_stride, int block);

// Batched form: out[i] = SAD of the block at `a` against the block at `b + offsets[i]` (byte offsets,
// may be negative; each shifted block must be readable), i in [0, n). This is how the aligner
// evaluates several candidate vectors of one block at once: offset(dx, dy) = dy * b_stride + dx * 3.
// `limit` lets a search skip the rest of a hopeless candidate: out[i] is the SAD wherever the SAD is at
// most `limit`, and some value above `limit` (a partial sum, taken after half of the rows) elsewhere.
// kSadExact (UINT32_MAX) asks for every SAD exactly.
constexpr uint32_t kSadExact = UINT32_MAX;
using BlockSadMultiFn = void (*)(const uint8_t* a, int a_stride, const uint8_t* b, int b_stride, int block,
                                 const ptrdiff_t* offsets, int n, uint32_t* out, uint32_t limit);

// The kernel for `isa`; asking for an ISA the CPU lacks gives the best one it has below it.
BlockSadMultiFn block_sad_rgb_multi_fn(CpuIsa isa);

inline void block_sad_rgb_multi(const uint8_t* a, int a_stride, const uint8_t* b, int b_stride, int block,
                                const ptrdiff_t* offsets, int n, uint32_t* out) {
  block_sad_rgb_multi_fn(best_isa())(a, a_stride, b, b_stride, block, offsets, n, out, kSadExact);
}

// The portable definition (a plain loop); the tests compare every ISA against it.
uint32_t block_sad_rgb_reference(const uint8_t* a, int a_stride, const uint8_t* b, int b_stride, int block);

namespace detail {
void block_sad_rgb_multi_generic(const uint8_t*, int, const uint8_t*, int, int, const ptrdiff_t*, int, uint32_t*,
                                 uint32_t);
void block_sad_rgb_multi_avx2(const uint8_t*, int, const uint8_t*, int, int, const ptrdiff_t*, int, uint32_t*,
                              uint32_t);
void block_sad_rgb_multi_avx512(const uint8_t*, int, const uint8_t*, int, int, const ptrdiff_t*, int, uint32_t*,
                                uint32_t);
void block_sad_rgb_multi_neon(const uint8_t*, int, const uint8_t*, int, int, const ptrdiff_t*, int, uint32_t*,
                              uint32_t);
}  // namespace detail

}  // namespace fx
