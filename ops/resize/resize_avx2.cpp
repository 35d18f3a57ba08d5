// AVX2 (-mavx2 -mfma) instantiation of the nearest-neighbour resize kernel.
#include "ops/resize/resize_internal.h"
#include "ops/resize/resize_kernels.h"

#if defined(__AVX2__)
namespace fx {
namespace detail {

void resize_spans_avx2(int sh, int sw, const MapView& in, const MapView& out, const Span* spans, int count) {
  simd::resize_spans<simd::VecAvx2>(sh, sw, in, out, spans, count);
}

}  // namespace detail
}  // namespace fx
#endif
