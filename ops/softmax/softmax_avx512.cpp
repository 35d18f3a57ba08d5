// AVX-512 (-mavx512f/bw/dq/vl) instantiation of the softmax kernels.
#include "ops/softmax/softmax_internal.h"
#include "ops/softmax/softmax_kernels.h"

#if defined(__AVX512F__)
namespace fx {
namespace detail {

void softmax_rows_avx512(const float* in, float* out, int64_t rows, int64_t len) {
  simd::softmax_rows<simd::VecAvx512>(in, out, rows, len);
}
void softmax_cols_avx512(const float* in, float* out, int64_t len, int64_t inner, int64_t j0, int64_t j1) {
  simd::softmax_cols<simd::VecAvx512>(in, out, len, inner, j0, j1);
}

}  // namespace detail
}  // namespace fx
#endif
