// Private: per-ISA max-pooling kernels (maxpool_kernels.h instantiated in maxpool.cpp, *_avx2.cpp,
// *_avx512.cpp).
#pragma once

#include "ops/cpu_features.h"
#include "ops/pool/maxpool.h"

namespace fx {
namespace detail {

using MaxPoolSpansFn = void (*)(const PoolParams& p, const MapView& in, const MapView& out, const Span* spans,
                                int count);

void maxpool_spans_generic(const PoolParams&, const MapView&, const MapView&, const Span*, int);
#if defined(__x86_64__) || defined(__i386__)
void maxpool_spans_avx2(const PoolParams&, const MapView&, const MapView&, const Span*, int);
void maxpool_spans_avx512(const PoolParams&, const MapView&, const MapView&, const Span*, int);
#endif
#if defined(__aarch64__)
void maxpool_spans_neon(const PoolParams&, const MapView&, const MapView&, const Span*, int);
#endif

MaxPoolSpansFn maxpool_spans_fn(CpuIsa isa);

}  // namespace detail
}  // namespace fx
