// AVX-512 (-mavx512f/bw/dq/vl) instantiation of the nearest-neighbour resize kernel.
#include "ops/resize/resize_internal.h"
#include "ops/resize/resize_kernels.h"

#if defined(__AVX512F__)
namespace fx {
namespace detail {

void resize_spans_avx512(int sh, int sw, const MapView& in, const MapView& out, const Span* spans, int count) {
  simd::resize_spans<simd::VecAvx512>(sh, sw, in, out, spans, count);
}

}  // namespace detail
}  // namespace fx
#endif
