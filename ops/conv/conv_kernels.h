// The convolution kernels, written once over a vector policy V and instantiated by each per-ISA
// translation unit with its own policy type (declared in an anonymous namespace there, so every
// instantiation is a distinct internal symbol compiled for that ISA: nothing built with AVX-512 can be
// picked by the linker for the baseline build).
//
// A policy provides:
//   using vec; static constexpr int W (floats per vector);
//   load/store (unaligned), load_n/store_n (first n lanes, n in [1, W]; others read as 0 / untouched),
//   mask(n) and load_m(p, mask): load_n with the mask computed once,
//   set1, zero, fma(a, b, c) = a * b + c, fnma(a, b, c) = c - a * b, fms(a, b, c) = a * b - c (each
//   rounded once), add, sub, mul, div,
//   max(a, b) = a > b ? a : b and min(a, b) = a < b ? a : b (the SSE rule: b when either is NaN),
//   scale2(p, n, z): p * 2^n correctly rounded (inf on overflow) for p in [0.5, 2] and n integral in
//   [-116, 128], given also z = 1.5 * 2^23 + n (so 2^(n-1) can be built in the exponent field by integer
//   arithmetic: p * 2^(n-1) is exact, and doubling it rounds only on overflow).
// Every operation is a correctly rounded IEEE operation, so all policies give the same bits.
#pragma once

#include <cstdint>

#include "ops/conv/conv_internal.h"

#if defined(__GNUC__) && !defined(__clang__)
#define FX_UNROLL _Pragma("GCC unroll 64")
#elif defined(__clang__)
#define FX_UNROLL _Pragma("unroll")
#else
#define FX_UNROLL
#endif

namespace fx::conv_detail {

// 1 + e^-x for the logistic function, from Cephes' expf (Cody-Waite reduction, degree-7 polynomial),
// written in u = -r so that no negation is needed: every step is one IEEE operation. x is clamped to
// [-89, 80] (past 80, 1 + e^-x rounds to 1 anyway), so n = round(-x / ln 2) is in [-116, 128] and
// p * 2^n is formed by the policy's exact scaling; it overflows to +inf exactly when e^-x does
// (x below about -88.72), where the logistic becomes 0 instead of a denormal below 3e-39 and SiLU -0.
template <class V>
inline typename V::vec one_plus_exp_neg(typename V::vec x) {
  using vec = typename V::vec;
  vec xc = V::min(V::set1(80.0f), x);  // NaN stays NaN (second operand)
  xc = V::max(V::set1(-89.0f), xc);
  const vec magic = V::set1(12582912.0f);  // 1.5 * 2^23: adding it rounds to an integer (RNE)
  const vec z = V::fma(xc, V::set1(-1.44269504088896341f), magic);  // magic + n, n = round(-x / ln 2)
  const vec n = V::sub(z, magic);
  vec u = V::fma(n, V::set1(0.693359375f), xc);  // u = x + n ln 2 = -r, r = -x - n ln 2 in [-ln2/2, ln2/2]
  u = V::fma(n, V::set1(-2.12194440e-4f), u);
  // e^r = 1 + r + r^2 (c0 + c1 r + ... + c5 r^5); with r = -u each Horner step c + p r is c - p u.
  vec p = V::set1(1.9875691500e-4f);
  p = V::fnma(p, u, V::set1(1.3981999507e-3f));
  p = V::fnma(p, u, V::set1(8.3334519073e-3f));
  p = V::fnma(p, u, V::set1(4.1665795894e-2f));
  p = V::fnma(p, u, V::set1(1.6666665459e-1f));
  p = V::fnma(p, u, V::set1(5.0000001201e-1f));
  const vec u2 = V::mul(u, u);
  p = V::fms(p, u2, u);  // p r^2 + r
  p = V::add(p, V::set1(1.0f));
  return V::add(V::set1(1.0f), V::scale2(p, n, z));
}

template <class V, Act A>
inline typename V::vec act_vec(typename V::vec x) {
  if constexpr (A == Act::None) {
    return x;
  } else {
    const typename V::vec d = one_plus_exp_neg<V>(x);
    if constexpr (A == Act::Sigmoid) return V::div(V::set1(1.0f), d);
    else return V::div(x, d);  // SiLU: x * sigmoid(x) = x / (1 + e^-x), one rounding
  }
}

template <class V, Act A>
void activation_t(float* x, int n) {
  constexpr int W = V::W;
  int i = 0;
  for (; i + W <= n; i += W) V::store(x + i, act_vec<V, A>(V::load(x + i)));
  if (i < n) V::store_n(x + i, act_vec<V, A>(V::load_n(x + i, n - i)), n - i);
}

template <class V>
void activation(Act act, float* x, int n) {
  switch (act) {
    case Act::None: return;
    case Act::SiLU: activation_t<V, Act::SiLU>(x, n); return;
    case Act::Sigmoid: activation_t<V, Act::Sigmoid>(x, n); return;
  }
}

// ---------------------------------------------------------------------------------------------------
// GEMM micro-kernel: MR rows x NV vectors. Each accumulator lane is one output element's fma chain.

template <class V, int MR, int NV, Act A>
inline void gemm_epilogue(const GemmArgs& g, typename V::vec (&acc)[MR][NV]) {
  using vec = typename V::vec;
  constexpr int W = V::W;
  const int nl = g.n_valid - (NV - 1) * W;  // valid lanes of the last vector, in [1, W]
  FX_UNROLL for (int m = 0; m < MR; ++m) {
    float* c = g.c[m] + g.c_off;
    const float* r = g.r ? g.r[m] + g.r_off : nullptr;
    FX_UNROLL for (int v = 0; v < NV; ++v) {
      vec x = act_vec<V, A>(acc[m][v]);
      if (v < NV - 1) {
        if (r) x = V::add(x, V::load(r + v * W));
        V::store(c + v * W, x);
      } else {
        if (r) x = V::add(x, V::load_n(r + v * W, nl));
        V::store_n(c + v * W, x, nl);
      }
    }
  }
}

// How far ahead (in k terms) the micro-kernel prefetches its weight panel: +10% on Sapphire Rapids
// for panels that live in L2 (measured with panels of 1-4 vectors, K = 576 and 2304).
constexpr int kPrefetchK = 8;

template <class V, int MR, int NV>
void gemm_kernel(const GemmArgs& g) {
  using vec = typename V::vec;
  constexpr int W = V::W;
  constexpr int NR = NV * W;
  vec acc[MR][NV];
  if (g.first) {
    FX_UNROLL for (int v = 0; v < NV; ++v) {
      vec bv = V::load(g.bias + v * W);
      FX_UNROLL for (int m = 0; m < MR; ++m) acc[m][v] = bv;
    }
  } else {
    FX_UNROLL for (int m = 0; m < MR; ++m) {
      FX_UNROLL for (int v = 0; v < NV; ++v) acc[m][v] = V::load(g.tile + m * g.ldt + v * W);
    }
  }
  const float* a = g.a;
  const float* b = g.b;
  const int64_t lda = g.lda;
  const int k = g.k;
  for (int kk = 0; kk < k; ++kk) {
    vec bv[NV];
    FX_UNROLL for (int v = 0; v < NV; ++v) {
      // The panel streams from L2: fetch it kPrefetchK terms ahead, one prefetch per cache line.
      if ((v * W) % 16 == 0) __builtin_prefetch(b + kPrefetchK * NR + v * W);
      bv[v] = V::load(b + v * W);
    }
    b += NR;
    FX_UNROLL for (int m = 0; m < MR; ++m) {
      vec av = V::set1(a[m * lda + kk]);
      FX_UNROLL for (int v = 0; v < NV; ++v) acc[m][v] = V::fma(av, bv[v], acc[m][v]);
    }
  }
  if (!g.last) {
    FX_UNROLL for (int m = 0; m < MR; ++m) {
      FX_UNROLL for (int v = 0; v < NV; ++v) V::store(g.tile + m * g.ldt + v * W, acc[m][v]);
    }
    return;
  }
  switch (g.act) {
    case Act::None: gemm_epilogue<V, MR, NV, Act::None>(g, acc); break;
    case Act::SiLU: gemm_epilogue<V, MR, NV, Act::SiLU>(g, acc); break;
    case Act::Sigmoid: gemm_epilogue<V, MR, NV, Act::Sigmoid>(g, acc); break;
  }
}

template <class V, int NV, int MR>
void fill_gemm_table(ConvIsaOps& o) {
  o.gemm[NV][MR] = &gemm_kernel<V, MR, NV>;
  if constexpr (MR > 1) fill_gemm_table<V, NV, MR - 1>(o);
}

// ---------------------------------------------------------------------------------------------------
// im2col

template <class V>
inline void copy_n(float* d, const float* s, int n) {
  constexpr int W = V::W;
  int i = 0;
  for (; i + W <= n; i += W) V::store(d + i, V::load(s + i));
  if (i < n) V::store_n(d + i, V::load_n(s + i, n - i), n - i);
}

template <class V>
inline void zero_n(float* d, int n) {
  constexpr int W = V::W;
  int i = 0;
  for (; i + W <= n; i += W) V::store(d + i, V::zero());
  if (i < n) V::store_n(d + i, V::zero(), n - i);
}

// Copies / zeroes n floats, writing whole vectors: up to W - 1 floats past d + n are overwritten
// (with zeros). im2col fills its rows in increasing address order and its buffer has W floats of
// slack, so the overrun is always rewritten or unused; whole-vector stores avoid the slow masked
// stores across cache lines.
template <class V>
inline void copy_n_over(float* d, const float* s, int n) {
  constexpr int W = V::W;
  int i = 0;
  for (; i + W <= n; i += W) V::store(d + i, V::load(s + i));
  if (i < n) V::store(d + i, V::load_n(s + i, n - i));
}

template <class V>
inline void zero_n_over(float* d, int n) {
  constexpr int W = V::W;
  for (int i = 0; i < n; i += W) V::store(d + i, V::zero());
}

template <class V>
void im2col(const Im2colArgs& args) {
  // Everything in locals: the vector stores below may alias anything, so fields read through `args`
  // would be reloaded after every store.
  const float* const in_data = args.in.data;
  const int in_h = args.in.h, in_w = args.in.w;
  const int64_t ps = args.in.pixel_stride;
  const int c0 = args.c0, cin = args.cin, kh = args.kh, kw = args.kw, sh = args.sh, sw = args.sw;
  const int pad_t = args.pad_t, pad_l = args.pad_l, dh = args.dh, dw = args.dw;
  const int* const oy = args.oy;
  const int* const ox = args.ox;
  const int rows = args.rows;
  float* const dst = args.dst;
  const int64_t lda = args.lda;
  const int row_len = kw * cin;
  const bool contig = dw == 1 && ps == cin;  // a whole kernel row is one contiguous run
  const int64_t row_step = static_cast<int64_t>(dh) * in_w * ps;
  const int x_span = (kw - 1) * dw, y_span = (kh - 1) * dh;
  const int nfull = row_len / V::W, tail = row_len % V::W;
  const auto tail_mask = V::mask(tail ? tail : V::W);
  for (int i = 0; i < rows; ++i) {
    float* d = dst + i * lda;
    const int iy0 = oy[i] * sh - pad_t;
    const int ix0 = ox[i] * sw - pad_l;
    const bool x_inside = ix0 >= 0 && ix0 + x_span < in_w;
    if (contig && x_inside && iy0 >= 0 && iy0 + y_span < in_h) {
      // The common case: kh contiguous runs of kw * cin floats.
      const float* s = in_data + (static_cast<int64_t>(iy0) * in_w + ix0) * ps + c0;
      for (int ky = 0; ky < kh; ++ky, d += row_len, s += row_step) {
        for (int f = 0; f < nfull; ++f) V::store(d + f * V::W, V::load(s + f * V::W));
        if (tail) V::store(d + nfull * V::W, V::load_m(s + nfull * V::W, tail_mask));
      }
      continue;
    }
    for (int ky = 0; ky < kh; ++ky, d += row_len) {
      const int iy = iy0 + ky * dh;
      if (iy < 0 || iy >= in_h) {
        zero_n_over<V>(d, row_len);
        continue;
      }
      const float* row = in_data + static_cast<int64_t>(iy) * in_w * ps + c0;
      if (x_inside) {
        if (contig) {
          copy_n_over<V>(d, row + ix0 * ps, row_len);
        } else {
          for (int kx = 0; kx < kw; ++kx) copy_n_over<V>(d + kx * cin, row + (ix0 + kx * dw) * ps, cin);
        }
        continue;
      }
      for (int kx = 0; kx < kw; ++kx) {
        const int ix = ix0 + kx * dw;
        if (ix < 0 || ix >= in_w) zero_n_over<V>(d + kx * cin, cin);
        else copy_n_over<V>(d + kx * cin, row + ix * ps, cin);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Depthwise: vectorised over channels, kDwPixels output pixels per pass sharing each weight load.

template <class V, Act A>
inline void dw_store(float* o, const float* r, int n, typename V::vec acc) {
  typename V::vec v = act_vec<V, A>(acc);
  if (n == V::W) {
    if (r) v = V::add(v, V::load(r));
    V::store(o, v);
  } else {
    if (r) v = V::add(v, V::load_n(r, n));
    V::store_n(o, v, n);
  }
}

template <class V, Act A>
void depthwise_t(const DwArgs& a, int y, int x0, int x1) {
  using vec = typename V::vec;
  constexpr int W = V::W;
  constexpr int P = kDwPixels;
  // Locals: vector stores may alias anything reachable through `a`.
  const float* const in_data = a.in.data;
  const int in_h = a.in.h, in_w = a.in.w;
  const int64_t ps = a.in.pixel_stride;
  const MapView out = a.out;
  const MapView* const residual = a.residual;
  const float* const wts = a.w;
  const float* const bias = a.bias;
  const float* const zeros = a.zeros;
  const float** const ptrs = a.ptrs;
  int64_t* const offs = a.offs;
  const int C = a.c;
  const int64_t cpad = a.cpad;
  const int kh = a.kh, kw = a.kw, sw = a.sw, dh = a.dh, dw = a.dw, pad_l = a.pad_l;
  const int taps = kh * kw;
  const int iy0 = y * a.sh - a.pad_t;
  const bool rows_inside = iy0 >= 0 && iy0 + (kh - 1) * dh < in_h;
  for (int ky = 0; ky < kh; ++ky)
    for (int kx = 0; kx < kw; ++kx)
      offs[ky * kw + kx] = (static_cast<int64_t>(ky) * dh * in_w + static_cast<int64_t>(kx) * dw) * ps;

  for (int x = x0; x < x1; x += P) {
    const int np = x1 - x < P ? x1 - x : P;
    const int ix_first = x * sw - pad_l;
    float* o[P];
    const float* r[P];
    FX_UNROLL for (int p = 0; p < P; ++p) {
      o[p] = out.at(y, x + (p < np ? p : 0));
      r[p] = residual ? residual->at(y, x + (p < np ? p : 0)) : nullptr;
    }
    if (rows_inside && np == P && ix_first >= 0 && ix_first + (P - 1) * sw + (kw - 1) * dw < in_w) {
      // Interior: every tap of every pixel is inside the map.
      const float* base = in_data + (static_cast<int64_t>(iy0) * in_w + ix_first) * ps;
      const int64_t xstep = sw * ps;
      for (int c = 0; c < C; c += W) {
        const int n = C - c < W ? C - c : W;
        vec acc[P];
        const vec bv = V::load(bias + c);
        FX_UNROLL for (int p = 0; p < P; ++p) acc[p] = bv;
        const float* wc = wts + c;
        const float* bc = base + c;
        if (n == W) {
          for (int t = 0; t < taps; ++t) {
            const vec wv = V::load(wc + t * cpad);
            const float* s = bc + offs[t];
            FX_UNROLL for (int p = 0; p < P; ++p) acc[p] = V::fma(V::load(s + p * xstep), wv, acc[p]);
          }
        } else {
          for (int t = 0; t < taps; ++t) {
            const vec wv = V::load(wc + t * cpad);
            const float* s = bc + offs[t];
            FX_UNROLL for (int p = 0; p < P; ++p) acc[p] = V::fma(V::load_n(s + p * xstep, n), wv, acc[p]);
          }
        }
        FX_UNROLL for (int p = 0; p < P; ++p) dw_store<V, A>(o[p] + c, r[p] ? r[p] + c : nullptr, n, acc[p]);
      }
      continue;
    }
    // Border: a pointer per (pixel, tap), the zero row for padding taps (which still take their fma).
    for (int p = 0; p < P; ++p) {
      const float** pp = ptrs + p * taps;
      const int ix0 = ix_first + p * sw;
      for (int ky = 0; ky < kh; ++ky) {
        const int iy = iy0 + ky * dh;
        for (int kx = 0; kx < kw; ++kx) {
          const int ix = ix0 + kx * dw;
          const bool inside = p < np && iy >= 0 && iy < in_h && ix >= 0 && ix < in_w;
          pp[ky * kw + kx] = inside ? in_data + (static_cast<int64_t>(iy) * in_w + ix) * ps : zeros;
        }
      }
    }
    for (int c = 0; c < C; c += W) {
      const int n = C - c < W ? C - c : W;
      vec acc[P];
      const vec bv = V::load(bias + c);
      FX_UNROLL for (int p = 0; p < P; ++p) acc[p] = bv;
      const float* wc = wts + c;
      for (int t = 0; t < taps; ++t) {
        const vec wv = V::load(wc + t * cpad);
        if (n == W) {
          FX_UNROLL for (int p = 0; p < P; ++p) acc[p] = V::fma(V::load(ptrs[p * taps + t] + c), wv, acc[p]);
        } else {
          FX_UNROLL for (int p = 0; p < P; ++p) acc[p] = V::fma(V::load_n(ptrs[p * taps + t] + c, n), wv, acc[p]);
        }
      }
      FX_UNROLL for (int p = 0; p < P; ++p) {
        if (p < np) dw_store<V, A>(o[p] + c, r[p] ? r[p] + c : nullptr, n, acc[p]);
      }
    }
  }
}

template <class V>
void depthwise(const DwArgs& a, int y, int x0, int x1) {
  switch (a.act) {
    case Act::None: depthwise_t<V, Act::None>(a, y, x0, x1); return;
    case Act::SiLU: depthwise_t<V, Act::SiLU>(a, y, x0, x1); return;
    case Act::Sigmoid: depthwise_t<V, Act::Sigmoid>(a, y, x0, x1); return;
  }
}

}  // namespace fx::conv_detail
