// AVX2 + FMA (-mavx2 -mfma) instantiation of the matrix-multiply kernel.
#include "ops/matmul/matmul_internal.h"
#include "ops/matmul/matmul_kernels.h"

#if defined(__AVX2__)
namespace fx {
namespace detail {

void matmul_avx2(const float* a, int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc, int64_t m,
                 int64_t n, int64_t k) {
  simd::matmul_block<simd::VecAvx2>(a, lda, b, ldb, c, ldc, m, n, k);
}

}  // namespace detail
}  // namespace fx
#endif
