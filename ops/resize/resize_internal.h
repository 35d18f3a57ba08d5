// Private: per-ISA kernels of nearest-neighbour resize (resize_kernels.h instantiated in resize.cpp,
// *_avx2.cpp, *_avx512.cpp).
#pragma once

#include "ops/cpu_features.h"
#include "ops/resize/resize.h"

namespace fx {
namespace detail {

using ResizeSpansFn = void (*)(int scale_h, int scale_w, const MapView& in, const MapView& out, const Span* spans,
                               int count);

void resize_spans_generic(int, int, const MapView&, const MapView&, const Span*, int);
#if defined(__x86_64__) || defined(__i386__)
void resize_spans_avx2(int, int, const MapView&, const MapView&, const Span*, int);
void resize_spans_avx512(int, int, const MapView&, const MapView&, const Span*, int);
#endif
#if defined(__aarch64__)
void resize_spans_neon(int, int, const MapView&, const MapView&, const Span*, int);
#endif

ResizeSpansFn resize_spans_fn(CpuIsa isa);

}  // namespace detail
}  // namespace fx
