// Private: the max-pooling kernel over a vector trait (simd.h).
//
// Order of evaluation (identical in the reference, so results are bit-identical to it and across
// ISAs, span lists and thread counts, including for +-0 and NaN):
//   col(kx) = fold over the valid ky, ascending, of max(col, in)      (max(a, b) = a > b ? a : b)
//   out     = fold over the valid kx, ascending, of max(out, col(kx))
// with both folds starting from -inf (max(-inf, v) == v, so the first term simply starts the fold).
// Window positions in the padding are skipped; a window entirely in the padding gives -inf.
//
// The kernel is separable (column maxima first, then their row maxima), so a k x k window costs about
// 2k instead of k^2 max operations per output:
//  - stride 1, dilation 1, 3 or 5 taps (SPPF): the column maxima slide through registers along x;
//  - other strides / dilations: the column maxima of a chunk go through a 32 KiB stack buffer;
//  - windows wider than 64 input columns, and border outputs of the sliding path: direct evaluation.
// All three evaluate the same expression in the same order.
#pragma once

#include <limits>

#include "ops/elementwise/simd.h"
#include "ops/pool/maxpool.h"

namespace fx {
namespace simd {
namespace {

// Valid [k0, k1) of a window starting at i0 with k taps dilated by d over [0, n).
inline void valid_taps(int i0, int k, int d, int n, int& k0, int& k1) {
  k0 = 0;
  k1 = k;
  if (i0 < 0) k0 = (-i0 + d - 1) / d;
  if (i0 + (k - 1) * d >= n) k1 = i0 >= n ? 0 : (n - 1 - i0) / d + 1;
  if (k1 < k0) k1 = k0;
}

// Output x reads input columns x * sw - pad_l + kx * dw; col(ix) is the fold over the valid rows.
template <class V>
struct PoolRow {
  using T = typename V::T;
  const PoolParams& p;
  const MapView& in;
  const float* row0;  // first valid window row
  int64_t ky_step;    // floats between valid window rows
  int nky;            // valid window rows
  int64_t ps;

  T col(const float* q) const {
    if (nky == 5) {  // SPPF interior rows: unrolled
      T a = V::max(V::load(q), V::load(q + ky_step));
      a = V::max(a, V::load(q + 2 * ky_step));
      a = V::max(a, V::load(q + 3 * ky_step));
      return V::max(a, V::load(q + 4 * ky_step));
    }
    T v = V::load(q);
    for (int k = 1; k < nky; ++k) v = V::max(v, V::load(q + k * ky_step));
    return v;
  }
  T col_n(const float* q, int n) const {
    T v = V::load_n(q, n);
    for (int k = 1; k < nky; ++k) v = V::max(v, V::load_n(q + k * ky_step, n));
    return v;
  }

  // Direct evaluation of outputs [x0, x1) for channels [c0, c1): any window.
  void direct(float* out_row, int64_t out_ps, int x0, int x1, int c0, int c1) const {
    constexpr int W = V::W;
    for (int x = x0; x < x1; ++x) {
      const int ix0 = x * p.sw - p.pad_l;
      int kx0, kx1;
      valid_taps(ix0, p.kw, p.dw, in.w, kx0, kx1);
      float* o = out_row + static_cast<int64_t>(x) * out_ps;
      for (int ch = c0; ch < c1; ch += W) {
        const int nl = c1 - ch < W ? c1 - ch : W;
        T acc = V::set1(-std::numeric_limits<float>::infinity());
        for (int kx = kx0; kx < kx1; ++kx) {
          const float* q = row0 + static_cast<int64_t>(ix0 + kx * p.dw) * ps + ch;
          T cv = nl == W ? col(q) : col_n(q, nl);
          acc = kx == kx0 ? cv : V::max(acc, cv);
        }
        if (nl == W) V::store(o + ch, acc);
        else V::store_n(o + ch, acc, nl);
      }
    }
  }

  // Stride 1, dilation 1, KW taps, every tap inside the map: a sliding window of column maxima kept in
  // registers (NV vectors of channels at a time), so each output costs one new column plus KW - 1 max
  // operations per vector. The window is a ring indexed by compile-time constants (the loop over x is
  // unrolled KW times), so it never leaves registers.
  template <int KW, int NV, int S, bool FULL>
  inline void slide_step(T (&v)[KW][NV], const float*& q, float*& o, int64_t out_ps, int nl) const {
    constexpr int W = V::W;
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) {
      const float* qc = q + (KW - 1) * ps + j * W;
      v[(S + KW - 1) % KW][j] = FULL ? col(qc) : col_n(qc, nl);
    }
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) {
      T m = v[S % KW][j];
#pragma GCC unroll 8
      for (int k = 1; k < KW; ++k) m = V::max(m, v[(S + k) % KW][j]);
      if (FULL) V::store(o + j * W, m);
      else V::store_n(o + j * W, m, nl);
    }
    q += ps;
    o += out_ps;
  }

  template <int KW, int NV, bool FULL>
  void slide_block(float* out_row, int64_t out_ps, int x0, int x1, int ch, int nl) const {
    constexpr int W = V::W;
    const float* q = row0 + static_cast<int64_t>(x0 - p.pad_l) * ps + ch;
    float* o = out_row + static_cast<int64_t>(x0) * out_ps + ch;
    T v[KW][NV];
#pragma GCC unroll 8
    for (int k = 0; k < KW - 1; ++k)
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) v[k][j] = FULL ? col(q + k * ps + j * W) : col_n(q + k * ps + j * W, nl);
    int x = x0;
    for (; x + KW <= x1; x += KW) {
      slide_step<KW, NV, 0, FULL>(v, q, o, out_ps, nl);
      slide_step<KW, NV, 1, FULL>(v, q, o, out_ps, nl);
      slide_step<KW, NV, 2, FULL>(v, q, o, out_ps, nl);
      if (KW > 3) {
        slide_step<KW, NV, 3, FULL>(v, q, o, out_ps, nl);
        slide_step<KW, NV, 4, FULL>(v, q, o, out_ps, nl);
      }
    }
    // Fewer than KW outputs left: the ring is back at phase 0.
    if (x < x1) slide_step<KW, NV, 0, FULL>(v, q, o, out_ps, nl);
    if (x + 1 < x1) slide_step<KW, NV, 1, FULL>(v, q, o, out_ps, nl);
    if (x + 2 < x1) slide_step<KW, NV, 2, FULL>(v, q, o, out_ps, nl);
    if (x + 3 < x1) slide_step<KW, NV, 3, FULL>(v, q, o, out_ps, nl);
  }

  template <int KW>
  void sliding(float* out_row, int64_t out_ps, int x0, int x1, int c0, int c1) const {
    static_assert(KW == 3 || KW == 5, "unrolled for 3 and 5 taps");
    constexpr int W = V::W;
    constexpr int NV = W >= 16 ? 4 : 2;  // vectors per block: KW * NV registers of window
    if (x1 <= x0) return;
    int ch = c0;
    for (; ch + NV * W <= c1; ch += NV * W) slide_block<KW, NV, true>(out_row, out_ps, x0, x1, ch, W);
    for (; ch + W <= c1; ch += W) slide_block<KW, 1, true>(out_row, out_ps, x0, x1, ch, W);
    if (ch < c1) slide_block<KW, 1, false>(out_row, out_ps, x0, x1, ch, c1 - ch);
  }

  // Separable evaluation through a stack buffer of column maxima (any stride and dilation).
  void buffered(float* out_row, int64_t out_ps, int x0, int x1, int c0, int c1) const;
};

template <class V>
void PoolRow<V>::buffered(float* out_row, int64_t out_ps, int x0, int x1, int cbegin, int cend) const {
  using T = typename V::T;
  constexpr int W = V::W;
  constexpr int kBufFloats = 8192;  // 32 KiB
  constexpr int kMaxBlock = 128;    // channels per block: the buffer then holds >= 64 input columns
  const int extent = (p.kw - 1) * p.dw + 1;
  // Column maxima for a block of channels over a chunk of input columns, pixel-major so the input is
  // read in contiguous runs: buf[(ix - lo) * cbp + ch].
  alignas(64) float buf[kBufFloats];
  const int cb = cend - cbegin < kMaxBlock ? cend - cbegin : kMaxBlock;
  const int cbp = (cb + W - 1) / W * W;
  const int cols = kBufFloats / cbp;
  const int chunk = (cols - extent) / p.sw + 1;  // outputs whose inputs fit the buffer
  for (int c0 = cbegin; c0 < cend; c0 += cb) {
    const int nc = cend - c0 < cb ? cend - c0 : cb;
    const int nfull = nc / W * W;
    const int tail = nc - nfull;
    for (int xa = x0; xa < x1; xa += chunk) {
      const int xb = x1 - xa < chunk ? x1 : xa + chunk;
      const int lo = xa * p.sw - p.pad_l;
      const int hi = (xb - 1) * p.sw - p.pad_l + extent;
      const int clo = lo < 0 ? 0 : lo;
      const int chi = hi > in.w ? in.w : hi;
      for (int ix = clo; ix < chi; ++ix) {
        const float* q = row0 + static_cast<int64_t>(ix) * ps + c0;
        float* bp = buf + (ix - lo) * cbp;
        for (int ch = 0; ch < nfull; ch += W) V::store(bp + ch, col(q + ch));
        if (tail) V::store(bp + nfull, col_n(q + nfull, tail));
      }
      for (int x = xa; x < xb; ++x) {
        const int ix0 = x * p.sw - p.pad_l;
        int kx0, kx1;
        valid_taps(ix0, p.kw, p.dw, in.w, kx0, kx1);
        float* o = out_row + static_cast<int64_t>(x) * out_ps + c0;
        if (kx0 >= kx1) {
          const T neg_inf = V::set1(-std::numeric_limits<float>::infinity());
          for (int ch = 0; ch < nc; ch += W) V::store_n(o + ch, neg_inf, nc - ch < W ? nc - ch : W);
          continue;
        }
        const float* b = buf + (ix0 + kx0 * p.dw - lo) * cbp;
        const int nk = kx1 - kx0;
        const int64_t bstep = static_cast<int64_t>(p.dw) * cbp;
        for (int ch = 0; ch < nfull; ch += W) {
          T v = V::load(b + ch);
          for (int k = 1; k < nk; ++k) v = V::max(v, V::load(b + k * bstep + ch));
          V::store(o + ch, v);
        }
        if (tail) {
          T v = V::load(b + nfull);
          for (int k = 1; k < nk; ++k) v = V::max(v, V::load(b + k * bstep + nfull));
          V::store_n(o + nfull, v, tail);
        }
      }
    }
  }
}

template <class V>
void maxpool_span(const PoolParams& p, const MapView& in, const MapView& out, const Span& s, int c0, int c1) {
  constexpr int W = V::W;
  float* out_row = out.at(s.y, 0);
  const int64_t ops = out.pixel_stride;

  const int iy0 = s.y * p.sh - p.pad_t;
  int ky0, ky1;
  valid_taps(iy0, p.kh, p.dh, in.h, ky0, ky1);
  if (ky0 >= ky1) {  // the whole window row is padding
    const auto neg_inf = V::set1(-std::numeric_limits<float>::infinity());
    for (int x = s.x0; x < s.x1; ++x)
      for (int ch = c0; ch < c1; ch += W) V::store_n(out_row + x * ops + ch, neg_inf, c1 - ch < W ? c1 - ch : W);
    return;
  }
  PoolRow<V> r{p, in, in.data + static_cast<int64_t>(iy0 + ky0 * p.dh) * in.w * in.pixel_stride,
               static_cast<int64_t>(p.dh) * in.w * in.pixel_stride, ky1 - ky0, in.pixel_stride};

  if (p.sw == 1 && p.dw == 1 && (p.kw == 3 || p.kw == 5)) {
    // Interior outputs (every tap inside the map) slide; the few border outputs are evaluated directly.
    int xi0 = s.x0 > p.pad_l ? s.x0 : p.pad_l;
    int xi1 = in.w - p.kw + 1 + p.pad_l;
    if (xi1 > s.x1) xi1 = s.x1;
    if (xi1 < xi0) xi1 = xi0 = s.x1 < xi0 ? s.x1 : xi0;
    r.direct(out_row, ops, s.x0, xi0, c0, c1);
    if (p.kw == 5) r.template sliding<5>(out_row, ops, xi0, xi1, c0, c1);
    else r.template sliding<3>(out_row, ops, xi0, xi1, c0, c1);
    r.direct(out_row, ops, xi1, s.x1, c0, c1);
    return;
  }
  if ((p.kw - 1) * p.dw + 1 <= 64) r.buffered(out_row, ops, s.x0, s.x1, c0, c1);
  else r.direct(out_row, ops, s.x0, s.x1, c0, c1);
}

template <class V>
void maxpool_spans(const PoolParams& p, const MapView& in, const MapView& out, const Span* spans, int count) {
  for (int i = 0; i < count; ++i)
    if (spans[i].x1 > spans[i].x0) maxpool_span<V>(p, in, out, spans[i], 0, out.c);
}

}  // namespace
}  // namespace simd
}  // namespace fx
