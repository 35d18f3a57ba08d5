// AVX-512 instantiation of the max-pooling kernel (compiled with -mavx512f/bw/dq/vl).
#include "ops/pool/maxpool_internal.h"
#include "ops/pool/maxpool_kernels.h"

#if defined(__AVX512F__)
namespace fx {
namespace detail {

void maxpool_spans_avx512(const PoolParams& p, const MapView& in, const MapView& out, const Span* spans,
                          int count) {
  simd::maxpool_spans<simd::VecAvx512>(p, in, out, spans, count);
}

}  // namespace detail
}  // namespace fx
#endif
