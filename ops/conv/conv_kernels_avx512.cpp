// AVX-512 instantiation of the convolution kernels (built with -mavx512f/bw/dq/vl -mfma; called only
// after a run-time CPU check).
#if defined(__x86_64__) || defined(__i386__)
// GCC 12 warns about the deliberately undefined pass-through operand inside its own AVX-512 intrinsics.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include "ops/conv/conv_kernels.h"

namespace fx::conv_detail {
namespace {

struct V512 {
  using vec = __m512;
  static constexpr int W = 16;
  static __mmask16 mask(int n) { return static_cast<__mmask16>((1u << n) - 1u); }
  static vec load(const float* p) { return _mm512_loadu_ps(p); }
  static vec load_n(const float* p, int n) { return _mm512_maskz_loadu_ps(mask(n), p); }
  static vec load_m(const float* p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }
  static void store(float* p, vec v) { _mm512_storeu_ps(p, v); }
  static void store_n(float* p, vec v, int n) { _mm512_mask_storeu_ps(p, mask(n), v); }
  static vec set1(float x) { return _mm512_set1_ps(x); }
  static vec zero() { return _mm512_setzero_ps(); }
  static vec fma(vec a, vec b, vec c) { return _mm512_fmadd_ps(a, b, c); }
  static vec fnma(vec a, vec b, vec c) { return _mm512_fnmadd_ps(a, b, c); }
  static vec fms(vec a, vec b, vec c) { return _mm512_fmsub_ps(a, b, c); }
  static vec add(vec a, vec b) { return _mm512_add_ps(a, b); }
  static vec sub(vec a, vec b) { return _mm512_sub_ps(a, b); }
  static vec mul(vec a, vec b) { return _mm512_mul_ps(a, b); }
  static vec div(vec a, vec b) { return _mm512_div_ps(a, b); }
  static vec max(vec a, vec b) { return _mm512_max_ps(a, b); }
  static vec min(vec a, vec b) { return _mm512_min_ps(a, b); }
  static vec scale2(vec p, vec n, vec) { return _mm512_scalef_ps(p, n); }
};

// ---------------------------------------------------------------------------------------------------
// Pair kernels for panels of at most 8 columns (see ConvIsaOps::gemm_pair).

template <Act A, int MRP>
inline void pair_epilogue(const GemmArgs& g, __m512 (&acc)[MRP]) {
  const __m512i deint = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
  const __mmask16 m16 = static_cast<__mmask16>((1u << g.n_valid) - 1u);
  const __mmask8 m8 = static_cast<__mmask8>((1u << g.n_valid) - 1u);
  FX_UNROLL for (int p = 0; p < MRP; ++p) {
    const bool second = 2 * p + 1 < g.rows;
    if (2 * p >= g.rows) break;
    // Lanes 0-7: position 2p, lanes 8-15: position 2p + 1.
    __m512 x = _mm512_permutexvar_ps(deint, act_vec<V512, A>(acc[p]));
    if (g.r) {
      const __m256 r0 = _mm256_maskz_loadu_ps(m8, g.r[2 * p] + g.r_off);
      const __m256 r1 = second ? _mm256_maskz_loadu_ps(m8, g.r[2 * p + 1] + g.r_off) : _mm256_setzero_ps();
      x = _mm512_add_ps(x, _mm512_insertf32x8(_mm512_castps256_ps512(r0), r1, 1));
    }
    _mm512_mask_storeu_ps(g.c[2 * p] + g.c_off, m16, x);
    if (second) _mm256_mask_storeu_ps(g.c[2 * p + 1] + g.c_off, m8, _mm512_extractf32x8_ps(x, 1));
  }
}

template <int MRP>
void gemm_pair_kernel(const GemmArgs& g) {
  __m512 acc[MRP];
  if (g.first) {
    const __m512 bv = _mm512_loadu_ps(g.bias);
    FX_UNROLL for (int p = 0; p < MRP; ++p) acc[p] = bv;
  } else {
    FX_UNROLL for (int p = 0; p < MRP; ++p) acc[p] = _mm512_loadu_ps(g.tile + p * g.ldt);
  }
  const float* a = g.a;
  const float* b = g.b;
  const int64_t lda = g.lda;
  const int k = g.k;
  for (int kk = 0; kk < k; ++kk) {
    __builtin_prefetch(b + kPrefetchK * 16);
    const __m512 bv = _mm512_loadu_ps(b);
    b += 16;
    FX_UNROLL for (int p = 0; p < MRP; ++p) {
      double pair;
      __builtin_memcpy(&pair, a + p * lda + 2 * kk, 8);
      acc[p] = _mm512_fmadd_ps(_mm512_castpd_ps(_mm512_set1_pd(pair)), bv, acc[p]);
    }
  }
  if (!g.last) {
    FX_UNROLL for (int p = 0; p < MRP; ++p) _mm512_storeu_ps(g.tile + p * g.ldt, acc[p]);
    return;
  }
  switch (g.act) {
    case Act::None: pair_epilogue<Act::None, MRP>(g, acc); break;
    case Act::SiLU: pair_epilogue<Act::SiLU, MRP>(g, acc); break;
    case Act::Sigmoid: pair_epilogue<Act::Sigmoid, MRP>(g, acc); break;
  }
}

template <int MRP>
void fill_pair_table(ConvIsaOps& o) {
  o.gemm_pair[MRP] = &gemm_pair_kernel<MRP>;
  if constexpr (MRP > 1) fill_pair_table<MRP - 1>(o);
}

void interleave_pairs(const float* a, int64_t lda, int K, int rows, float* dst, int64_t dst_ld) {
  const __m512i lo_idx = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i hi_idx = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  for (int p = 0; 2 * p < rows; ++p) {
    const float* x = a + 2 * p * lda;
    const float* y = x + lda;
    const bool has_y = 2 * p + 1 < rows;
    float* d = dst + p * dst_ld;
    for (int k0 = 0; k0 < K; k0 += 16) {
      const __mmask16 m = K - k0 >= 16 ? static_cast<__mmask16>(0xffff) : V512::mask(K - k0);
      const __m512 xv = _mm512_maskz_loadu_ps(m, x + k0);
      const __m512 yv = has_y ? _mm512_maskz_loadu_ps(m, y + k0) : _mm512_setzero_ps();
      _mm512_storeu_ps(d + 2 * k0, _mm512_permutex2var_ps(xv, lo_idx, yv));
      _mm512_storeu_ps(d + 2 * k0 + 16, _mm512_permutex2var_ps(xv, hi_idx, yv));
    }
  }
}

// im2col straight into pair-interleaved rows: pairs whose two windows are inside the map and contiguous
// per kernel row are interleaved from the input directly; the others go through im2col rows in
// `tmp` (2 rows of lda floats, plus W of slack) and interleave_pairs.
void im2col_pairs(const Im2colArgs& args, float* tmp, float* dst, int64_t dst_ld) {
  const __m512i lo_idx = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i hi_idx = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const float* const in_data = args.in.data;
  const int in_h = args.in.h, in_w = args.in.w;
  const int64_t ps = args.in.pixel_stride;
  const int cin = args.cin, kh = args.kh, kw = args.kw, sh = args.sh, sw = args.sw;
  const int pad_t = args.pad_t, pad_l = args.pad_l, dh = args.dh, dw = args.dw;
  const int* const oy = args.oy;
  const int* const ox = args.ox;
  const int rows = args.rows;
  const int row_len = kw * cin;
  const int K = kh * row_len;
  const int64_t row_step = static_cast<int64_t>(dh) * in_w * ps;
  const bool contig = dw == 1 && ps == cin;
  auto inside = [&](int i) {
    const int iy0 = oy[i] * sh - pad_t, ix0 = ox[i] * sw - pad_l;
    return contig && iy0 >= 0 && iy0 + (kh - 1) * dh < in_h && ix0 >= 0 && ix0 + (kw - 1) * dw < in_w;
  };
  auto src = [&](int i) {
    const int iy0 = oy[i] * sh - pad_t, ix0 = ox[i] * sw - pad_l;
    return in_data + (static_cast<int64_t>(iy0) * in_w + ix0) * ps + args.c0;
  };
  Im2colArgs one = args;
  one.dst = tmp;
  for (int p = 0; 2 * p < rows; ++p) {
    const int i0 = 2 * p, i1 = 2 * p + 1;
    const bool has1 = i1 < rows;
    float* d = dst + p * dst_ld;
    if (inside(i0) && (!has1 || inside(i1))) {
      const float* s0 = src(i0);
      const float* s1 = has1 ? src(i1) : s0;
      for (int ky = 0; ky < kh; ++ky, s0 += row_step, s1 += row_step, d += 2 * row_len) {
        for (int j = 0; j < row_len; j += 16) {
          const __mmask16 m = row_len - j >= 16 ? static_cast<__mmask16>(0xffff) : V512::mask(row_len - j);
          const __m512 xv = _mm512_maskz_loadu_ps(m, s0 + j);
          const __m512 yv = has1 ? _mm512_maskz_loadu_ps(m, s1 + j) : _mm512_setzero_ps();
          _mm512_storeu_ps(d + 2 * j, _mm512_permutex2var_ps(xv, lo_idx, yv));
          _mm512_storeu_ps(d + 2 * j + 16, _mm512_permutex2var_ps(xv, hi_idx, yv));
        }
      }
      continue;
    }
    one.oy = oy + i0;
    one.ox = ox + i0;
    one.rows = has1 ? 2 : 1;
    im2col<V512>(one);
    interleave_pairs(tmp, one.lda, K, one.rows, d, dst_ld);
  }
}

ConvIsaOps make_ops() {
  ConvIsaOps o;
  o.isa = CpuIsa::Avx512;
  o.W = V512::W;
  o.nv_max = 4;
  // Rows per call: 24 accumulators for panels of 2-4 vectors; 10 rows for one vector (more rows spill
  // the row-address registers). Measured on Sapphire Rapids.
  o.mr[1] = 10;
  o.mr[2] = 12;
  o.mr[3] = 8;
  o.mr[4] = 6;
  fill_gemm_table<V512, 1, 10>(o);
  fill_gemm_table<V512, 2, 12>(o);
  fill_gemm_table<V512, 3, 8>(o);
  fill_gemm_table<V512, 4, 6>(o);
  o.im2col = &im2col<V512>;
  o.depthwise = &depthwise<V512>;
  o.activation = &activation<V512>;
  o.pair_mr = 24;
  fill_pair_table<12>(o);
  o.interleave_pairs = &interleave_pairs;
  o.im2col_pairs = &im2col_pairs;
  return o;
}

}  // namespace

const ConvIsaOps& conv_ops_avx512() {
  static const ConvIsaOps ops = make_ops();
  return ops;
}

}  // namespace fx::conv_detail
#endif
