// Private interface between the ISA-independent convolution drivers (conv2d.cpp, conv_transpose.cpp)
// and the per-ISA kernels (conv_kernels_avx512.cpp, conv_kernels_avx2.cpp, conv_kernels_neon.cpp,
// conv_kernels_generic.cpp).
//
// The drivers cut the work into blocks of output positions and output-channel panels; the kernels do
// the arithmetic. Every kernel computes an output element as one fused-multiply-add chain in the
// contract's (ky, kx, ci) order, so the split never changes a bit.
#pragma once

#include <cstddef>
#include <cstdint>

#include "ops/conv/conv.h"

namespace fx::conv_detail {

// The largest panel width (in vectors) and row count any ISA uses; tables are sized by these.
constexpr int kMaxNv = 8;
constexpr int kMaxMr = 16;

// One micro-kernel call: rows [0, MR) x one output-channel panel of NV vectors, over k terms.
//   acc = first ? bias : tile;  for kk < k: acc[m][:] = fma(a[m * lda + kk], b[kk][:], acc[m][:])
//   last ? c[m][c_off + :] = act(acc) (+ r[m][r_off + :]) for the n_valid columns : tile = acc
struct GemmArgs {
  const float* a = nullptr;  // row m, term kk at a[m * lda + kk]
  int64_t lda = 0;
  const float* b = nullptr;  // packed panel: [k][NV * W]
  int k = 0;
  const float* bias = nullptr;  // NV * W floats (zero padded); read when first
  float* tile = nullptr;        // carry buffer, row m at tile + m * ldt (NV * W floats); used unless first && last
  int64_t ldt = 0;
  float* const* c = nullptr;  // MR output row pointers; written when last
  int64_t c_off = 0;
  const float* const* r = nullptr;  // MR residual row pointers or null
  int64_t r_off = 0;
  int n_valid = 0;  // valid columns of the panel (the tail of the last vector is neither read nor written)
  bool first = true, last = true;
  Act act = Act::None;
  int rows = 0;  // pair kernels only: positions in this call (the last pair may be half)
};
using GemmFn = void (*)(const GemmArgs&);

// Builds rows of the A matrix (im2col, (ky, kx, ci) order, zeros for padding) for a list of output
// positions: row i is (oy[i], ox[i]) and lands at dst + i * lda. May write up to W floats past the
// last row's K values (the buffer has that much slack).
struct Im2colArgs {
  MapView in;
  int c0 = 0, cin = 0;  // the channel slice [c0, c0 + cin) of `in` (the group)
  int kh = 1, kw = 1, sh = 1, sw = 1, pad_t = 0, pad_l = 0, dh = 1, dw = 1;
  const int* oy = nullptr;
  const int* ox = nullptr;
  int rows = 0;
  float* dst = nullptr;
  int64_t lda = 0;
};
using Im2colFn = void (*)(const Im2colArgs&);

// Depthwise convolution (group == cin == cout) of one output run (y, [x0, x1)), all channels.
struct DwArgs {
  MapView in, out;
  const MapView* residual = nullptr;
  const float* w = nullptr;     // packed [kh * kw][cpad]
  const float* bias = nullptr;  // cpad floats
  const float* zeros = nullptr; // >= cpad zero floats: the input of padding taps
  const float** ptrs = nullptr; // scratch: kDwPixels * kh * kw pointers
  int64_t* offs = nullptr;      // scratch: kh * kw offsets
  int c = 0, cpad = 0;
  int kh = 1, kw = 1, sh = 1, sw = 1, pad_t = 0, pad_l = 0, dh = 1, dw = 1;
  Act act = Act::None;
};
constexpr int kDwPixels = 4;
using DwFn = void (*)(const DwArgs&, int y, int x0, int x1);

struct ConvIsaOps {
  CpuIsa isa = CpuIsa::Generic;
  int W = 1;       // floats per vector
  int nv_max = 1;  // widest panel, in vectors
  int mr[kMaxNv + 1] = {};  // rows per micro-kernel call for a panel of nv vectors
  GemmFn gemm[kMaxNv + 1][kMaxMr + 1] = {};  // [nv][rows], rows in [1, mr[nv]]
  Im2colFn im2col = nullptr;
  DwFn depthwise = nullptr;
  void (*activation)(Act, float*, int) = nullptr;

  // Narrow outputs (n <= W / 2 columns, AVX-512 only): two positions share a vector, lanes 2j and 2j + 1
  // holding column j of positions 2p and 2p + 1. A is pair-interleaved (pair p at a + p * lda, term k at
  // [2k, 2k + 1]), the panel holds each weight twice ([k][2j] = [k][2j + 1] = w(k, j)), and so does the
  // bias; the tile holds W floats per pair. Each lane is still one element's fma chain.
  int pair_mr = 0;                  // positions per call (0: no pair kernels)
  GemmFn gemm_pair[kMaxMr + 1] = {};  // [pairs]
  // Interleaves rows 2p and 2p + 1 of A (k < K; rows past `rows` read as zeros) into dst + p * dst_ld.
  void (*interleave_pairs)(const float* a, int64_t lda, int K, int rows, float* dst, int64_t dst_ld) = nullptr;
  // im2col rows straight into that layout (tmp: scratch for 2 rows of args.lda floats + W); writes up
  // to 2 W floats past the last pair's 2 K values.
  void (*im2col_pairs)(const Im2colArgs& args, float* tmp, float* dst, int64_t dst_ld) = nullptr;
};

const ConvIsaOps& conv_ops_generic();
#if defined(__x86_64__) || defined(__i386__)
const ConvIsaOps& conv_ops_avx2();
const ConvIsaOps& conv_ops_avx512();
#endif
#if defined(__aarch64__) && defined(__ARM_NEON)
const ConvIsaOps& conv_ops_neon();
#endif
// The ops for `isa`, lowered to what this CPU supports.
const ConvIsaOps& conv_ops(CpuIsa isa);

// Blocking of Conv2d objects constructed from now on (<= 0: the default): bytes of one K block of a
// weight panel, bytes of one chunk's A matrix. For tests (forcing K blocks) and tuning.
void set_conv_blocking(long k_block_bytes, long a_chunk_bytes);

// apply_activation with a given ISA's code (tests check all ISAs agree bit for bit).
void apply_activation_isa(CpuIsa isa, Act act, float* x, int n);

// Partition of n columns into panels of at most nv_max vectors of W floats, balanced.
struct Panel {
  int n0 = 0;  // first column
  int n = 0;   // columns
  int nv = 0;  // vectors
};

}  // namespace fx::conv_detail
