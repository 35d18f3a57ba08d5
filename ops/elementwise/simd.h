// Private: a tiny vector abstraction shared by the element-wise, pooling, resize, softmax and matmul
// kernels. Kernels are written once as templates over a trait V and instantiated per ISA in
// *_avx512.cpp / *_avx2.cpp (compiled with those ISA flags), *_neon.cpp (aarch64) and in baseline files
// (VecGeneric).
//
// Everything here lives in an anonymous namespace on purpose: the same inline functions are compiled
// with different ISA flags in different translation units, and internal linkage keeps the linker from
// merging an AVX-512 copy into the code path of a machine without AVX-512.
//
// Lane semantics are identical in every trait (the kernels rely on it for bit-identical results across
// ISAs and across positions inside a vector):
//   max(a, b)  = a > b ? a : b          (x86 MAXPS: the second operand on ties, +-0 and NaN)
//   add/sub/mul/div: IEEE single precision, round to nearest, never fused
//   fmadd(a, b, c): one fused multiply-add per lane on every ISA (matmul only): the same bits
//   everywhere, and the CUDA built-in GEMM's (ops/matmul/matmul_cuda.cu)
#pragma once

#include <cstdint>
#include <cstring>
#include <cmath>

#if defined(__x86_64__) || defined(__i386__)
// GCC 12 reports its own _mm512_undefined_* idiom as -Wmaybe-uninitialized once inlined.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#else
#include <immintrin.h>
#endif
#define FX_SIMD_X86 1
#else
#define FX_SIMD_X86 0
#endif
#if defined(__aarch64__) && defined(__ARM_NEON)
#include <arm_neon.h>
#define FX_SIMD_NEON 1
#else
#define FX_SIMD_NEON 0
#endif

namespace fx {
namespace simd {
namespace {

// Portable 4 lanes through GCC / Clang vector extensions: SSE2 code on any x86-64, NEON on ARM, plain
// scalar code elsewhere.
typedef float fx_f32x4 __attribute__((vector_size(16)));
typedef int32_t fx_i32x4 __attribute__((vector_size(16)));
typedef uint32_t fx_u32x4 __attribute__((vector_size(16)));

struct VecGeneric {
  static constexpr int W = 4;
  using T = fx_f32x4;
  static T load(const float* p) {
    T r;
    std::memcpy(&r, p, sizeof(r));
    return r;
  }
  static void store(float* p, T a) { std::memcpy(p, &a, sizeof(a)); }
  static T load_n(const float* p, int n) {
    T r = {0.f, 0.f, 0.f, 0.f};
    for (int i = 0; i < n; ++i) r[i] = p[i];
    return r;
  }
  static void store_n(float* p, T a, int n) {
    for (int i = 0; i < n; ++i) p[i] = a[i];
  }
  static T set1(float x) { return T{x, x, x, x}; }
  static T add(T a, T b) { return a + b; }
  static T sub(T a, T b) { return a - b; }
  static T mul(T a, T b) { return a * b; }
  static T div(T a, T b) { return a / b; }
  static T max(T a, T b) { return a > b ? a : b; }
  static T fmadd(T a, T b, T c) {
    T r;
    for (int i = 0; i < W; ++i) r[i] = std::fma(a[i], b[i], c[i]);
    return r;
  }
  static T abs(T a) { return reinterpret_cast<T>(reinterpret_cast<fx_u32x4>(a) & 0x7fffffffu); }
  static T neg(T a) { return reinterpret_cast<T>(reinterpret_cast<fx_u32x4>(a) ^ 0x80000000u); }
  // x >= 0 ? a : b
  static T select_ge0(T x, T a, T b) { return x >= set1(0.f) ? a : b; }
  // t < c ? 0 : v
  static T zero_if_less(T t, T c, T v) { return t < c ? set1(0.f) : v; }
  // y * 2^n for integral n in [-150, 0], as two exact power-of-two scalings (each factor a normal
  // number) so results in the subnormal range round once, like the x86 vector versions. (A NaN n
  // converts to an unspecified integer; y is then NaN, and so is the result.)
  static T ldexp_nonpos(T y, T nf) {
    fx_i32x4 n = __builtin_convertvector(nf, fx_i32x4);
    fx_i32x4 n1 = n >> 1;  // arithmetic: floor(n / 2)
    fx_i32x4 n2 = n - n1;
    T s1 = reinterpret_cast<T>((reinterpret_cast<fx_u32x4>(n1) + 127u) << 23);
    T s2 = reinterpret_cast<T>((reinterpret_cast<fx_u32x4>(n2) + 127u) << 23);
    return (y * s1) * s2;
  }
};

#if FX_SIMD_X86 && defined(__AVX2__) && defined(__FMA__)
struct VecAvx2 {
  static constexpr int W = 8;
  using T = __m256;
  static __m256i mask(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static T load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, T a) { _mm256_storeu_ps(p, a); }
  static T load_n(const float* p, int n) { return _mm256_maskload_ps(p, mask(n)); }
  static void store_n(float* p, T a, int n) { _mm256_maskstore_ps(p, mask(n), a); }
  static T set1(float x) { return _mm256_set1_ps(x); }
  static T add(T a, T b) { return _mm256_add_ps(a, b); }
  static T sub(T a, T b) { return _mm256_sub_ps(a, b); }
  static T mul(T a, T b) { return _mm256_mul_ps(a, b); }
  static T div(T a, T b) { return _mm256_div_ps(a, b); }
  static T max(T a, T b) { return _mm256_max_ps(a, b); }
  static T fmadd(T a, T b, T c) { return _mm256_fmadd_ps(a, b, c); }
  static T abs(T a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.f), a); }
  static T neg(T a) { return _mm256_xor_ps(_mm256_set1_ps(-0.f), a); }
  static T select_ge0(T x, T a, T b) {
    return _mm256_blendv_ps(b, a, _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GE_OQ));
  }
  static T zero_if_less(T t, T c, T v) { return _mm256_andnot_ps(_mm256_cmp_ps(t, c, _CMP_LT_OQ), v); }
  static T ldexp_nonpos(T y, T nf) {
    __m256i n = _mm256_cvtps_epi32(nf);
    __m256i n1 = _mm256_srai_epi32(n, 1);
    __m256i n2 = _mm256_sub_epi32(n, n1);
    const __m256i bias = _mm256_set1_epi32(127);
    T s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
    T s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
    return _mm256_mul_ps(_mm256_mul_ps(y, s1), s2);
  }
};
#endif

#if FX_SIMD_X86 && defined(__AVX512F__) && defined(__AVX512DQ__)
struct VecAvx512 {
  static constexpr int W = 16;
  using T = __m512;
  static __mmask16 mask(int n) { return static_cast<__mmask16>((1u << n) - 1u); }
  static T load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, T a) { _mm512_storeu_ps(p, a); }
  static T load_n(const float* p, int n) { return _mm512_maskz_loadu_ps(mask(n), p); }
  static void store_n(float* p, T a, int n) { _mm512_mask_storeu_ps(p, mask(n), a); }
  static T set1(float x) { return _mm512_set1_ps(x); }
  static T add(T a, T b) { return _mm512_add_ps(a, b); }
  static T sub(T a, T b) { return _mm512_sub_ps(a, b); }
  static T mul(T a, T b) { return _mm512_mul_ps(a, b); }
  static T div(T a, T b) { return _mm512_div_ps(a, b); }
  static T max(T a, T b) { return _mm512_max_ps(a, b); }
  static T fmadd(T a, T b, T c) { return _mm512_fmadd_ps(a, b, c); }
  static T abs(T a) { return _mm512_andnot_ps(_mm512_set1_ps(-0.f), a); }
  static T neg(T a) { return _mm512_xor_ps(_mm512_set1_ps(-0.f), a); }
  static T select_ge0(T x, T a, T b) {
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_GE_OQ), b, a);
  }
  static T zero_if_less(T t, T c, T v) {
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(t, c, _CMP_LT_OQ), v, _mm512_setzero_ps());
  }
  static T ldexp_nonpos(T y, T nf) {
    __m512i n = _mm512_cvtps_epi32(nf);
    __m512i n1 = _mm512_srai_epi32(n, 1);
    __m512i n2 = _mm512_sub_epi32(n, n1);
    const __m512i bias = _mm512_set1_epi32(127);
    T s1 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(n1, bias), 23));
    T s2 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(n2, bias), 23));
    return _mm512_mul_ps(_mm512_mul_ps(y, s1), s2);
  }
};
#endif

#if FX_SIMD_NEON
// aarch64 Advanced SIMD, 4 lanes. NEON has no masked loads or stores: the partial forms move single
// lanes, so nothing past p + n is read or written (the views handed to kernels end exactly there).
struct VecNeon {
  static constexpr int W = 4;
  using T = float32x4_t;
  static T load(const float* p) { return vld1q_f32(p); }
  static void store(float* p, T a) { vst1q_f32(p, a); }
  static T load_n(const float* p, int n) {
    T r = vdupq_n_f32(0.f);
    r = vld1q_lane_f32(p, r, 0);
    if (n > 1) r = vld1q_lane_f32(p + 1, r, 1);
    if (n > 2) r = vld1q_lane_f32(p + 2, r, 2);
    if (n > 3) r = vld1q_lane_f32(p + 3, r, 3);
    return r;
  }
  static void store_n(float* p, T a, int n) {
    if (n == 4) {
      vst1q_f32(p, a);
      return;
    }
    vst1q_lane_f32(p, a, 0);
    if (n > 1) vst1q_lane_f32(p + 1, a, 1);
    if (n > 2) vst1q_lane_f32(p + 2, a, 2);
  }
  static T set1(float x) { return vdupq_n_f32(x); }
  static T add(T a, T b) { return vaddq_f32(a, b); }
  static T sub(T a, T b) { return vsubq_f32(a, b); }
  static T mul(T a, T b) { return vmulq_f32(a, b); }
  static T div(T a, T b) { return vdivq_f32(a, b); }
  // FMAX returns NaN when either operand is NaN and orders -0 below +0; the x86 rule is a select.
  static T max(T a, T b) { return vbslq_f32(vcgtq_f32(a, b), a, b); }
  static T fmadd(T a, T b, T c) { return vfmaq_f32(c, a, b); }
  static T abs(T a) { return vabsq_f32(a); }
  static T neg(T a) { return vnegq_f32(a); }
  static T select_ge0(T x, T a, T b) { return vbslq_f32(vcgeq_f32(x, vdupq_n_f32(0.f)), a, b); }
  static T zero_if_less(T t, T c, T v) {
    return vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(v), vcltq_f32(t, c)));
  }
  static T ldexp_nonpos(T y, T nf) {
    int32x4_t n = vcvtnq_s32_f32(nf);  // nf is integral: any rounding gives n
    int32x4_t n1 = vshrq_n_s32(n, 1);
    int32x4_t n2 = vsubq_s32(n, n1);
    const int32x4_t bias = vdupq_n_s32(127);
    T s1 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n1, bias), 23));
    T s2 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n2, bias), 23));
    return vmulq_f32(vmulq_f32(y, s1), s2);
  }
};
#endif

// exp(t) for t <= 0 (Cephes expf: Cody-Waite reduction, degree-6 polynomial, no fused operations, so
// every trait gives the same bits). Subnormal results underflow gradually; below -103.972 (where
// exp rounds to 0) and for -inf the result is 0; NaN gives NaN. Relative error about 2 ulp for
// normal results.
template <class V>
inline typename V::T exp_nonpos(typename V::T t) {
  using T = typename V::T;
  const T lo = V::set1(-103.972084f);  // log(2^-150)
  const T magic = V::set1(12582912.f);  // 1.5 * 2^23: adding and subtracting rounds to an integer
  T z = V::max(lo, t);                   // second operand wins on NaN: NaN stays NaN
  T fx = V::mul(z, V::set1(1.44269504088896341f));
  T nf = V::sub(V::add(fx, magic), magic);
  T r = V::sub(z, V::mul(nf, V::set1(0.693359375f)));
  r = V::sub(r, V::mul(nf, V::set1(-2.12194440e-4f)));
  T p = V::set1(1.9875691500e-4f);
  p = V::add(V::mul(p, r), V::set1(1.3981999507e-3f));
  p = V::add(V::mul(p, r), V::set1(8.3334519073e-3f));
  p = V::add(V::mul(p, r), V::set1(4.1665795894e-2f));
  p = V::add(V::mul(p, r), V::set1(1.6666665459e-1f));
  p = V::add(V::mul(p, r), V::set1(5.0000001201e-1f));
  T r2 = V::mul(r, r);
  T y = V::add(V::add(V::mul(p, r2), r), V::set1(1.f));
  T e = V::ldexp_nonpos(y, nf);
  return V::zero_if_less(t, lo, e);
}

// sigmoid(x) = 1 / (1 + exp(-x)), evaluated as {1 or e} / (1 + e) with e = exp(-|x|) so nothing
// overflows and the negative tail keeps its relative accuracy.
template <class V>
inline typename V::T sigmoid(typename V::T x) {
  using T = typename V::T;
  const T one = V::set1(1.f);
  T e = exp_nonpos<V>(V::neg(V::abs(x)));
  T num = V::select_ge0(x, one, e);
  return V::div(num, V::add(one, e));
}

template <class V>
inline typename V::T silu(typename V::T x) {
  return V::mul(x, sigmoid<V>(x));
}

}  // namespace
}  // namespace simd
}  // namespace fx
