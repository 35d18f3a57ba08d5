#include "ops/resize/resize.h"

#include "ops/elementwise/parallel.h"
#include "ops/resize/resize_internal.h"
#include "ops/resize/resize_kernels.h"

namespace fx {
namespace detail {

void resize_spans_generic(int sh, int sw, const MapView& in, const MapView& out, const Span* spans, int count) {
  simd::resize_spans<simd::VecGeneric>(sh, sw, in, out, spans, count);
}

ResizeSpansFn resize_spans_fn(CpuIsa isa) {
#if defined(__x86_64__) || defined(__i386__)
  if (isa == CpuIsa::Avx512) return resize_spans_avx512;
  if (isa == CpuIsa::Avx2) return resize_spans_avx2;
#elif defined(__aarch64__)
  if (isa == CpuIsa::Neon) return resize_spans_neon;
#endif
  (void)isa;
  return resize_spans_generic;
}

}  // namespace detail

void resize_nearest_reference(int scale_h, int scale_w, const MapView& in, const MapView& out, SpanList spans) {
  for (int i = 0; i < spans.count; ++i) {
    const Span& s = spans.spans[i];
    for (int x = s.x0; x < s.x1; ++x) {
      const float* src = in.at(s.y / scale_h, x / scale_w);
      float* dst = out.at(s.y, x);
      for (int ch = 0; ch < out.c; ++ch) dst[ch] = src[ch];
    }
  }
}

void resize_nearest(int scale_h, int scale_w, const MapView& in, const MapView& out, SpanList spans,
                    ThreadPool& pool) {
  if (out.c <= 0 || spans.count <= 0) return;
  detail::ResizeSpansFn fn = detail::resize_spans_fn(best_isa());
  detail::parallel_spans(pool, spans, out.c / 4 + 1,
                         [&](const Span* sp, int count) { fn(scale_h, scale_w, in, out, sp, count); });
}

}  // namespace fx
