// NEON instantiation of the element-wise row kernels (aarch64: Advanced SIMD is in the base ISA, so no
// extra compiler flags; the dispatch still asks cpu_features()).
#include "ops/elementwise/ew_internal.h"
#include "ops/elementwise/ew_kernels.h"

#if FX_SIMD_NEON
namespace fx {
namespace detail {

void binary_row_neon(BinaryOp op, const float* a, bool as, const float* b, bool bs, float* out, int64_t n) {
  simd::binary_row<simd::VecNeon>(op, a, as, b, bs, out, n);
}
void unary_row_neon(UnaryOp op, const float* in, float* out, int64_t n) {
  simd::unary_row<simd::VecNeon>(op, in, out, n);
}

}  // namespace detail
}  // namespace fx
#endif
