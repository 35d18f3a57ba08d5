// AVX2 instantiation of the max-pooling kernel (compiled with -mavx2 -mfma).
#include "ops/pool/maxpool_internal.h"
#include "ops/pool/maxpool_kernels.h"

#if defined(__AVX2__)
namespace fx {
namespace detail {

void maxpool_spans_avx2(const PoolParams& p, const MapView& in, const MapView& out, const Span* spans,
                        int count) {
  simd::maxpool_spans<simd::VecAvx2>(p, in, out, spans, count);
}

}  // namespace detail
}  // namespace fx
#endif
