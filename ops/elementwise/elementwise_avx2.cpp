// AVX2 + FMA instantiation of the element-wise row kernels (compiled with -mavx2 -mfma).
#include "ops/elementwise/ew_internal.h"
#include "ops/elementwise/ew_kernels.h"

#if defined(__AVX2__)
namespace fx {
namespace detail {

void binary_row_avx2(BinaryOp op, const float* a, bool as, const float* b, bool bs, float* out, int64_t n) {
  simd::binary_row<simd::VecAvx2>(op, a, as, b, bs, out, n);
}
void unary_row_avx2(UnaryOp op, const float* in, float* out, int64_t n) {
  simd::unary_row<simd::VecAvx2>(op, in, out, n);
}

}  // namespace detail
}  // namespace fx
#endif
