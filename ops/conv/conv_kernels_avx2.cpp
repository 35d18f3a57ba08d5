// AVX2 + FMA instantiation of the convolution kernels (built with -mavx2 -mfma; called only after a
// run-time CPU check).
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "ops/conv/conv_kernels.h"

namespace fx::conv_detail {
namespace {

alignas(64) const int32_t kMaskTable[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

struct V256 {
  using vec = __m256;
  static constexpr int W = 8;
  static __m256i mask(int n) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kMaskTable + 8 - n)); }
  static vec load(const float* p) { return _mm256_loadu_ps(p); }
  static vec load_n(const float* p, int n) { return _mm256_maskload_ps(p, mask(n)); }
  static vec load_m(const float* p, __m256i m) { return _mm256_maskload_ps(p, m); }
  static void store(float* p, vec v) { _mm256_storeu_ps(p, v); }
  static void store_n(float* p, vec v, int n) {
    if (n == W) _mm256_storeu_ps(p, v);
    else _mm256_maskstore_ps(p, mask(n), v);
  }
  static vec set1(float x) { return _mm256_set1_ps(x); }
  static vec zero() { return _mm256_setzero_ps(); }
  static vec fma(vec a, vec b, vec c) { return _mm256_fmadd_ps(a, b, c); }
  static vec fnma(vec a, vec b, vec c) { return _mm256_fnmadd_ps(a, b, c); }
  static vec fms(vec a, vec b, vec c) { return _mm256_fmsub_ps(a, b, c); }
  static vec add(vec a, vec b) { return _mm256_add_ps(a, b); }
  static vec sub(vec a, vec b) { return _mm256_sub_ps(a, b); }
  static vec mul(vec a, vec b) { return _mm256_mul_ps(a, b); }
  static vec div(vec a, vec b) { return _mm256_div_ps(a, b); }
  static vec max(vec a, vec b) { return _mm256_max_ps(a, b); }
  static vec min(vec a, vec b) { return _mm256_min_ps(a, b); }
  static vec scale2(vec p, vec, vec z) {
    const __m256i e = _mm256_sub_epi32(_mm256_castps_si256(z), _mm256_set1_epi32(0x4b400000 - 126));
    const vec half = _mm256_mul_ps(p, _mm256_castsi256_ps(_mm256_slli_epi32(e, 23)));  // p * 2^(n-1), exact
    return _mm256_add_ps(half, half);
  }
};

ConvIsaOps make_ops() {
  ConvIsaOps o;
  o.isa = CpuIsa::Avx2;
  o.W = V256::W;
  o.nv_max = 3;
  o.mr[1] = 12;
  o.mr[2] = 6;
  o.mr[3] = 4;
  fill_gemm_table<V256, 1, 12>(o);
  fill_gemm_table<V256, 2, 6>(o);
  fill_gemm_table<V256, 3, 4>(o);
  o.im2col = &im2col<V256>;
  o.depthwise = &depthwise<V256>;
  o.activation = &activation<V256>;
  return o;
}

}  // namespace

const ConvIsaOps& conv_ops_avx2() {
  static const ConvIsaOps ops = make_ops();
  return ops;
}

}  // namespace fx::conv_detail
#endif
