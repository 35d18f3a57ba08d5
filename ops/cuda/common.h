// Shared by the CUDA kernels (ops/*/*_cuda.cu) and compiled for the host too, so the index arithmetic
// and the exact arithmetic of the device code can be unit-tested on a machine without a GPU
// (tests/test_cuda_ops.cpp, section "host"). Nothing here needs the CUDA headers.
//
// Exactness. The CPU kernels promise bit-identical results across ISAs because every step is one
// correctly rounded IEEE operation (ops/conv/conv_kernels.h, ops/elementwise/simd.h). The functions
// below are the same sequences of operations, written with fx_mul / fx_add / ... which are the
// round-to-nearest intrinsics on the device (never contracted into an FMA whatever --fmad says) and
// plain operators on the host (the build has -ffp-contract=off). fx_fma is one fused multiply-add on
// both. The device code must be compiled without --use_fast_math, with -prec-div=true (IEEE division)
// and -ftz=true: on x86 the CPU kernels run with denormals flushed to zero and treated as zero
// (ThreadPool sets FTZ / DAZ), and single-precision FTZ on the GPU gives the same results
// (cmake/cuda.cmake passes --fmad=false -ftz=true -prec-div=true). The host tests run these
// functions inside a ThreadPool task to get the same mode. (CPUs without FTZ in the pool, e.g.
// ARM, differ from x86 only where a result would be denormal.)
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "ops/map_view.h"

#if defined(__CUDACC__)
#define FX_HD __host__ __device__ __forceinline__
#else
#define FX_HD inline
#endif

namespace fx::cuda {

// ---------------------------------------------------------------------------------------------------
// Correctly rounded single operations.

FX_HD float fx_add(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}
FX_HD float fx_sub(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fsub_rn(a, b);
#else
  return a - b;
#endif
}
FX_HD float fx_mul(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
FX_HD float fx_div(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fdiv_rn(a, b);
#else
  return a / b;
#endif
}
FX_HD float fx_fma(float a, float b, float c) {
#if defined(__CUDA_ARCH__)
  return __fmaf_rn(a, b, c);
#else
  return std::fma(a, b, c);
#endif
}
FX_HD uint32_t fx_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
#endif
}
FX_HD float fx_from_bits(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, 4);
  return f;
#endif
}
// The SSE rules of the CPU traits: max(a, b) = a > b ? a : b, min(a, b) = a < b ? a : b (b on NaN).
FX_HD float fx_max(float a, float b) { return a > b ? a : b; }
FX_HD float fx_min(float a, float b) { return a < b ? a : b; }

// ---------------------------------------------------------------------------------------------------
// Convolution activations: conv_kernels.h one_plus_exp_neg / act_vec, operation for operation.

FX_HD float conv_one_plus_exp_neg(float x) {
  float xc = fx_min(80.0f, x);  // NaN stays NaN (second operand)
  xc = fx_max(-89.0f, xc);
  const float magic = 12582912.0f;  // 1.5 * 2^23
  const float z = fx_fma(xc, -1.44269504088896341f, magic);  // magic + n
  const float n = fx_sub(z, magic);
  float u = fx_fma(n, 0.693359375f, xc);
  u = fx_fma(n, -2.12194440e-4f, u);
  float p = 1.9875691500e-4f;
  p = fx_fma(-p, u, 1.3981999507e-3f);  // fnma(p, u, c) = c - p u, one rounding
  p = fx_fma(-p, u, 8.3334519073e-3f);
  p = fx_fma(-p, u, 4.1665795894e-2f);
  p = fx_fma(-p, u, 1.6666665459e-1f);
  p = fx_fma(-p, u, 5.0000001201e-1f);
  const float u2 = fx_mul(u, u);
  p = fx_fma(p, u2, -u);  // fms(p, u2, u) = p u2 - u
  p = fx_add(p, 1.0f);
  // scale2: p * 2^n from z's bits (z = 1.5 * 2^23 + n exactly): 2^(n-1) built in the exponent field,
  // p * 2^(n-1) exact, doubled (rounds only on overflow).
  const uint32_t bits = (fx_bits(z) - (0x4b400000u - 126u)) << 23;
  const float half = fx_mul(p, fx_from_bits(bits));
  return fx_add(1.0f, fx_add(half, half));
}

// act(x) of a convolution epilogue (Act as in ops/map_view.h: 0 none, 1 SiLU, 2 Sigmoid).
FX_HD float conv_activation(int act, float x) {
  if (act == 0) return x;
  const float d = conv_one_plus_exp_neg(x);
  return act == 2 ? fx_div(1.0f, d) : fx_div(x, d);
}

// ---------------------------------------------------------------------------------------------------
// Element-wise sigmoid / SiLU: simd.h exp_nonpos / sigmoid / silu (no fused operations there).

FX_HD float ew_ldexp_nonpos(float y, float nf) {
  // nf is integral in [-150, 0] or NaN (then y is NaN too and the scaling does not matter).
  const int n = nf == nf ? static_cast<int>(nf) : 0;
  const int n1 = n >> 1;  // floor(n / 2)
  const int n2 = n - n1;
  const float s1 = fx_from_bits(static_cast<uint32_t>(n1 + 127) << 23);
  const float s2 = fx_from_bits(static_cast<uint32_t>(n2 + 127) << 23);
  return fx_mul(fx_mul(y, s1), s2);
}

FX_HD float ew_exp_nonpos(float t) {
  const float lo = -103.972084f;
  const float magic = 12582912.f;
  const float z = fx_max(lo, t);  // NaN stays NaN
  const float fx = fx_mul(z, 1.44269504088896341f);
  const float nf = fx_sub(fx_add(fx, magic), magic);
  float r = fx_sub(z, fx_mul(nf, 0.693359375f));
  r = fx_sub(r, fx_mul(nf, -2.12194440e-4f));
  float p = 1.9875691500e-4f;
  p = fx_add(fx_mul(p, r), 1.3981999507e-3f);
  p = fx_add(fx_mul(p, r), 8.3334519073e-3f);
  p = fx_add(fx_mul(p, r), 4.1665795894e-2f);
  p = fx_add(fx_mul(p, r), 1.6666665459e-1f);
  p = fx_add(fx_mul(p, r), 5.0000001201e-1f);
  const float r2 = fx_mul(r, r);
  const float y = fx_add(fx_add(fx_mul(p, r2), r), 1.f);
  const float e = ew_ldexp_nonpos(y, nf);
  return t < lo ? 0.f : e;
}

FX_HD float ew_sigmoid(float x) {
  const float e = ew_exp_nonpos(-fabsf(x));
  const float num = x >= 0.f ? 1.f : e;
  return fx_div(num, fx_add(1.f, e));
}

FX_HD float ew_silu(float x) { return fx_mul(x, ew_sigmoid(x)); }

FX_HD float ew_binary(int op, float a, float b) {  // BinaryOp: Add, Sub, Mul, Div
  switch (op) {
    case 0: return fx_add(a, b);
    case 1: return fx_sub(a, b);
    case 2: return fx_mul(a, b);
    default: return fx_div(a, b);
  }
}

// ---------------------------------------------------------------------------------------------------
// Output positions of a local kernel: a span list (row y, columns [x0, x1)) or, with spans == null,
// every position of a map of width w, row-major from row y0 (the dense path). Positions are numbered
// 0 .. positions-1 in list order; kernels map their flat thread index to (y, x) with locate().
struct PosList {
  const Span* spans = nullptr;      // device memory; null: dense rows
  const int64_t* starts = nullptr;  // device memory, count + 1 entries: positions before span i
  int count = 0;
  int64_t positions = 0;
  int w = 0;   // dense: map width
  int y0 = 0;  // dense: first row
};

inline PosList dense_positions(int h, int w, int y0 = 0) {
  PosList p;
  p.positions = static_cast<int64_t>(h) * w;
  p.w = w;
  p.y0 = y0;
  return p;
}

// Prefix sums of span lengths (spans with x1 <= x0 count as empty): starts[i] = positions before
// span i, starts[count] = all positions. `starts` has count + 1 entries.
inline int64_t span_starts(const Span* spans, int count, int64_t* starts) {
  int64_t n = 0;
  for (int i = 0; i < count; ++i) {
    starts[i] = n;
    if (spans[i].x1 > spans[i].x0) n += spans[i].x1 - spans[i].x0;
  }
  starts[count] = n;
  return n;
}

// (y, x) of position m in [0, positions). Span lists: the last span starting at or before m (empty
// spans share their successor's start and come before it, so they are never chosen).
FX_HD void locate(const PosList& p, int64_t m, int& y, int& x) {
  if (!p.spans) {
    const int64_t r = m / p.w;
    y = p.y0 + static_cast<int>(r);
    x = static_cast<int>(m - r * p.w);
    return;
  }
  int lo = 0, hi = p.count - 1;
  while (lo < hi) {
    const int mid = (lo + hi + 1) >> 1;
    if (p.starts[mid] <= m) lo = mid;
    else hi = mid - 1;
  }
  y = p.spans[lo].y;
  x = p.spans[lo].x0 + static_cast<int>(m - p.starts[lo]);
}

// Element offset of pixel (y, x) in a map of width w and pixel stride ps.
FX_HD int64_t pixel_offset(int y, int x, int w, int64_t ps) {
  return (static_cast<int64_t>(y) * w + x) * ps;
}

#if defined(__CUDACC__)
// The loop of a kernel with one thread per (listed position, channel), grid-stride: f(y, x, ch) for
// every channel ch < C of every position of pos.
template <class F>
__device__ __forceinline__ void for_each_position_channel(const PosList& pos, int C, F f) {
  const int64_t total = pos.positions * C;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t m = e / C;
    const int ch = static_cast<int>(e - m * C);
    int y, x;
    locate(pos, m, y, x);
    f(y, x, ch);
  }
}
#endif

// ---------------------------------------------------------------------------------------------------
// Convolution: the implicit-GEMM view. Row m = an output position, column n = an output channel of
// the group, term k = (ky, kx, ci) in the contract's order: k = (ky * kw + kx) * cin_g + ci.
struct ConvTerm {
  int dy, dx, ci;  // input row / column offsets (ky * dh, kx * dw) and channel within the group
};
FX_HD ConvTerm conv_term(int k, int cin_g, int kw, int dh, int dw) {
  const int tap = k / cin_g;
  const int ci = k - tap * cin_g;
  const int ky = tap / kw;
  const int kx = tap - ky * kw;
  return {ky * dh, kx * dw, ci};
}

// Packed weight index of term k, column n of group g, for the [group][K][N] layout the GEMM kernels
// read (row stride ldb >= N), from ONNX OIHW weights [cout][cin_g][kh][kw].
FX_HD int64_t conv_oihw_index(int g, int k, int n, int cin_g, int cout_g, int kh, int kw) {
  const int tap = k / cin_g;
  const int ci = k - tap * cin_g;
  const int ky = tap / kw;
  const int kx = tap - ky * kw;
  const int64_t co = static_cast<int64_t>(g) * cout_g + n;
  return ((co * cin_g + ci) * kh + ky) * kw + kx;
}

// ConvTranspose (gather form): the input coordinate that output coordinate o reads through tap k,
// or -1 when none (o + pad - k * dil must be a non-negative multiple of the stride, inside the input).
FX_HD int convt_source(int o, int pad, int k, int dil, int stride, int in_size) {
  const int n = o + pad - k * dil;
  if (n < 0 || n % stride != 0) return -1;
  const int i = n / stride;
  return i < in_size ? i : -1;
}

// ---------------------------------------------------------------------------------------------------
// Plain (row-major) tensors: index maps for the broadcast / transpose / slice kernels. Each is the
// flat output index decomposed over `rank` output dims (outermost first) and recombined with one
// source stride per output axis.
constexpr int kMaxRank = 8;

struct StridedMap {
  int rank = 0;
  int64_t dims[kMaxRank] = {};
  int64_t stride[kMaxRank] = {};  // source element stride per output axis (0: broadcast)
  int64_t base = 0;               // source offset of output element 0
};

FX_HD int64_t strided_source(const StridedMap& m, int64_t i) {
  int64_t src = m.base;
  for (int k = m.rank - 1; k >= 0; --k) {
    const int64_t d = m.dims[k];
    const int64_t q = i / d;
    src += (i - q * d) * m.stride[k];
    i = q;
  }
  return src;
}

// ---------------------------------------------------------------------------------------------------
// Launch geometry: a 1-D grid for n work items with `block` threads, capped so that grid-stride loops
// cover the rest (gridDim.x may be up to 2^31 - 1; the cap keeps launches cheap).
inline unsigned grid_for(int64_t n, int block, int64_t cap = 65536) {
  int64_t g = (n + block - 1) / block;
  if (g < 1) g = 1;
  if (g > cap) g = cap;
  return static_cast<unsigned>(g);
}

}  // namespace fx::cuda
