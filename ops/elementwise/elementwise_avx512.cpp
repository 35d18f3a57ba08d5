// AVX-512 instantiation of the element-wise row kernels (compiled with -mavx512f/bw/dq/vl).
#include "ops/elementwise/ew_internal.h"
#include "ops/elementwise/ew_kernels.h"

#if defined(__AVX512F__)
namespace fx {
namespace detail {

void binary_row_avx512(BinaryOp op, const float* a, bool as, const float* b, bool bs, float* out, int64_t n) {
  simd::binary_row<simd::VecAvx512>(op, a, as, b, bs, out, n);
}
void unary_row_avx512(UnaryOp op, const float* in, float* out, int64_t n) {
  simd::unary_row<simd::VecAvx512>(op, in, out, n);
}

}  // namespace detail
}  // namespace fx
#endif
