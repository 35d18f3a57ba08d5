#include "ops/pool/maxpool.h"

#include <limits>

#include "ops/elementwise/parallel.h"
#include "ops/pool/maxpool_internal.h"
#include "ops/pool/maxpool_kernels.h"

namespace fx {
namespace detail {

void maxpool_spans_generic(const PoolParams& p, const MapView& in, const MapView& out, const Span* spans,
                           int count) {
  simd::maxpool_spans<simd::VecGeneric>(p, in, out, spans, count);
}

MaxPoolSpansFn maxpool_spans_fn(CpuIsa isa) {
#if defined(__x86_64__) || defined(__i386__)
  if (isa == CpuIsa::Avx512) return maxpool_spans_avx512;
  if (isa == CpuIsa::Avx2) return maxpool_spans_avx2;
#elif defined(__aarch64__)
  if (isa == CpuIsa::Neon) return maxpool_spans_neon;
#endif
  (void)isa;
  return maxpool_spans_generic;
}

}  // namespace detail

// The order of evaluation is the contract (see maxpool_kernels.h): for each window column (kx
// ascending) the maximum over its rows (ky ascending), then the maximum over the columns; max(a, b) is
// a > b ? a : b; padding positions are skipped (they are -inf, which never wins).
void maxpool2d_reference(const PoolParams& p, const MapView& in, const MapView& out, SpanList spans) {
  const float neg_inf = -std::numeric_limits<float>::infinity();
  for (int i = 0; i < spans.count; ++i) {
    const Span& s = spans.spans[i];
    for (int x = s.x0; x < s.x1; ++x) {
      float* o = out.at(s.y, x);
      for (int ch = 0; ch < out.c; ++ch) {
        float acc = neg_inf;
        for (int kx = 0; kx < p.kw; ++kx) {
          int ix = x * p.sw - p.pad_l + kx * p.dw;
          if (ix < 0 || ix >= in.w) continue;
          float col = neg_inf;
          for (int ky = 0; ky < p.kh; ++ky) {
            int iy = s.y * p.sh - p.pad_t + ky * p.dh;
            if (iy < 0 || iy >= in.h) continue;
            float v = in.at(iy, ix)[ch];
            col = col > v ? col : v;
          }
          acc = acc > col ? acc : col;
        }
        o[ch] = acc;
      }
    }
  }
}

void maxpool2d(const PoolParams& p, const MapView& in, const MapView& out, SpanList spans, ThreadPool& pool) {
  if (out.c <= 0 || spans.count <= 0) return;
  detail::MaxPoolSpansFn fn = detail::maxpool_spans_fn(best_isa());
  const int64_t cost = static_cast<int64_t>(out.c) * (p.kh + p.kw);
  detail::parallel_spans(pool, spans, cost, [&](const Span* sp, int count) { fn(p, in, out, sp, count); });
}

}  // namespace fx
