// NEON (aarch64) instantiation of the nearest-neighbour resize kernel.
#include "ops/resize/resize_internal.h"
#include "ops/resize/resize_kernels.h"

#if FX_SIMD_NEON
namespace fx {
namespace detail {

void resize_spans_neon(int sh, int sw, const MapView& in, const MapView& out, const Span* spans, int count) {
  simd::resize_spans<simd::VecNeon>(sh, sw, in, out, spans, count);
}

}  // namespace detail
}  // namespace fx
#endif
