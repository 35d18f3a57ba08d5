// NEON (aarch64) instantiation of the max-pooling kernel.
#include "ops/pool/maxpool_internal.h"
#include "ops/pool/maxpool_kernels.h"

#if FX_SIMD_NEON
namespace fx {
namespace detail {

void maxpool_spans_neon(const PoolParams& p, const MapView& in, const MapView& out, const Span* spans,
                        int count) {
  simd::maxpool_spans<simd::VecNeon>(p, in, out, spans, count);
}

}  // namespace detail
}  // namespace fx
#endif
