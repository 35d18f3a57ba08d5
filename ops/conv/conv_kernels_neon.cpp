// NEON instantiation of the convolution kernels (aarch64; Advanced SIMD is in the base ISA, so no extra
// compiler flags). FMLA is a fused multiply-add and every other operation here is one correctly rounded
// IEEE operation, so each output element is the same fma chain as on the other ISAs.
#if defined(__aarch64__) && defined(__ARM_NEON)
#include <arm_neon.h>

#include "ops/conv/conv_kernels.h"
#include "ops/elementwise/simd.h"

namespace fx::conv_detail {
namespace {

struct VNeon {
  using vec = float32x4_t;
  using S = simd::VecNeon;  // the shared lane-wise forms (partial loads / stores, the SSE max rule)
  static constexpr int W = 4;
  // NEON has no masked loads or stores: the partial forms move single lanes (never a byte past p + n).
  static int mask(int n) { return n; }
  static vec load(const float* p) { return vld1q_f32(p); }
  static vec load_n(const float* p, int n) { return S::load_n(p, n); }
  static vec load_m(const float* p, int n) { return S::load_n(p, n); }
  static void store(float* p, vec v) { vst1q_f32(p, v); }
  static void store_n(float* p, vec v, int n) { S::store_n(p, v, n); }
  static vec set1(float x) { return vdupq_n_f32(x); }
  static vec zero() { return vdupq_n_f32(0.0f); }
  static vec fma(vec a, vec b, vec c) { return vfmaq_f32(c, a, b); }
  static vec fnma(vec a, vec b, vec c) { return vfmsq_f32(c, a, b); }  // c + (-a) * b, one rounding
  // a * b + (-c), one rounding: not -(c - a * b), which gives -0 where a * b == c.
  static vec fms(vec a, vec b, vec c) { return vfmaq_f32(vnegq_f32(c), a, b); }
  static vec add(vec a, vec b) { return vaddq_f32(a, b); }
  static vec sub(vec a, vec b) { return vsubq_f32(a, b); }
  static vec mul(vec a, vec b) { return vmulq_f32(a, b); }
  static vec div(vec a, vec b) { return vdivq_f32(a, b); }
  // The SSE rule (b when either is NaN, and on +-0 ties) as a select: FMAX / FMIN differ on both.
  static vec max(vec a, vec b) { return S::max(a, b); }
  static vec min(vec a, vec b) { return vbslq_f32(vcltq_f32(a, b), a, b); }
  static vec scale2(vec p, vec, vec z) {
    const int32x4_t e = vsubq_s32(vreinterpretq_s32_f32(z), vdupq_n_s32(0x4b400000 - 126));
    const vec half = vmulq_f32(p, vreinterpretq_f32_s32(vshlq_n_s32(e, 23)));  // p * 2^(n-1), exact
    return vaddq_f32(half, half);
  }
};

ConvIsaOps make_ops() {
  ConvIsaOps o;
  o.isa = CpuIsa::Neon;
  o.W = VNeon::W;
  // 32 vector registers hold MR * NV accumulators, NV weight vectors and the MR row values of one k term
  // (GCC loads all of them before the FMLAs by element): the largest row counts that GCC 12 compiles
  // without spilling inside the k loop (12 x 2 spilled 9 vectors per term), with a small common multiple
  // (30) so chunks stay short. Not tuned on ARM hardware (none here).
  o.nv_max = 4;
  o.mr[1] = 10;
  o.mr[2] = 10;
  o.mr[3] = 6;
  o.mr[4] = 5;
  fill_gemm_table<VNeon, 1, 10>(o);
  fill_gemm_table<VNeon, 2, 10>(o);
  fill_gemm_table<VNeon, 3, 6>(o);
  fill_gemm_table<VNeon, 4, 5>(o);
  o.im2col = &im2col<VNeon>;
  o.depthwise = &depthwise<VNeon>;
  o.activation = &activation<VNeon>;
  return o;
}

}  // namespace

const ConvIsaOps& conv_ops_neon() {
  static const ConvIsaOps ops = make_ops();
  return ops;
}

}  // namespace fx::conv_detail
#endif
