// NEON (aarch64) instantiation of the matrix-multiply kernel (fused multiply-adds, like AVX2 / AVX-512).
#include "ops/matmul/matmul_internal.h"
#include "ops/matmul/matmul_kernels.h"

#if FX_SIMD_NEON
namespace fx {
namespace detail {

void matmul_neon(const float* a, int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc, int64_t m,
                 int64_t n, int64_t k) {
  simd::matmul_block<simd::VecNeon>(a, lda, b, ldb, c, ldc, m, n, k);
}

}  // namespace detail
}  // namespace fx
#endif
