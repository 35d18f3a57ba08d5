// NEON (aarch64) instantiation of the softmax kernels.
#include "ops/softmax/softmax_internal.h"
#include "ops/softmax/softmax_kernels.h"

#if FX_SIMD_NEON
namespace fx {
namespace detail {

void softmax_rows_neon(const float* in, float* out, int64_t rows, int64_t len) {
  simd::softmax_rows<simd::VecNeon>(in, out, rows, len);
}
void softmax_cols_neon(const float* in, float* out, int64_t len, int64_t inner, int64_t j0, int64_t j1) {
  simd::softmax_cols<simd::VecNeon>(in, out, len, inner, j0, j1);
}

}  // namespace detail
}  // namespace fx
#endif
