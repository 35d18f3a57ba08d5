#include "ops/softmax/softmax.h"

#include <cmath>

#include "ops/elementwise/parallel.h"
#include "ops/softmax/softmax_internal.h"
#include "ops/softmax/softmax_kernels.h"

namespace fx {
namespace detail {

void softmax_rows_generic(const float* in, float* out, int64_t rows, int64_t len) {
  simd::softmax_rows<simd::VecGeneric>(in, out, rows, len);
}
void softmax_cols_generic(const float* in, float* out, int64_t len, int64_t inner, int64_t j0, int64_t j1) {
  simd::softmax_cols<simd::VecGeneric>(in, out, len, inner, j0, j1);
}

SoftmaxRowsFn softmax_rows_fn(CpuIsa isa) {
#if defined(__x86_64__) || defined(__i386__)
  if (isa == CpuIsa::Avx512) return softmax_rows_avx512;
  if (isa == CpuIsa::Avx2) return softmax_rows_avx2;
#elif defined(__aarch64__)
  if (isa == CpuIsa::Neon) return softmax_rows_neon;
#endif
  (void)isa;
  return softmax_rows_generic;
}

SoftmaxColsFn softmax_cols_fn(CpuIsa isa) {
#if defined(__x86_64__) || defined(__i386__)
  if (isa == CpuIsa::Avx512) return softmax_cols_avx512;
  if (isa == CpuIsa::Avx2) return softmax_cols_avx2;
#elif defined(__aarch64__)
  if (isa == CpuIsa::Neon) return softmax_cols_neon;
#endif
  (void)isa;
  return softmax_cols_generic;
}

}  // namespace detail

namespace {

void split_axis(const Shape& shape, int& axis, int64_t& outer, int64_t& len, int64_t& inner) {
  if (axis < 0) axis += shape.rank;
  outer = inner = 1;
  for (int i = 0; i < axis; ++i) outer *= shape.d[i];
  for (int i = axis + 1; i < shape.rank; ++i) inner *= shape.d[i];
  len = shape.rank > 0 ? shape.d[axis] : 1;
}

}  // namespace

void softmax_reference(const float* in, const Shape& shape, int axis, float* out) {
  int64_t outer, len, inner;
  split_axis(shape, axis, outer, len, inner);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < inner; ++j) {
      const float* x = in + o * len * inner + j;
      float* y = out + o * len * inner + j;
      float m = x[0];
      for (int64_t l = 1; l < len; ++l) m = m > x[l * inner] ? m : x[l * inner];
      double sum = 0;
      for (int64_t l = 0; l < len; ++l) sum += std::exp(static_cast<double>(x[l * inner]) - m);
      for (int64_t l = 0; l < len; ++l)
        y[l * inner] = static_cast<float>(std::exp(static_cast<double>(x[l * inner]) - m) / sum);
    }
}

void softmax(const float* in, const Shape& shape, int axis, float* out, ThreadPool& pool) {
  int64_t outer, len, inner;
  split_axis(shape, axis, outer, len, inner);
  if (outer <= 0 || len <= 0 || inner <= 0) return;
  const CpuIsa isa = best_isa();
  if (inner == 1) {
    detail::SoftmaxRowsFn fn = detail::softmax_rows_fn(isa);
    detail::parallel_for(pool, outer, len * 16, [&](int64_t r0, int64_t r1) {
      fn(in + r0 * len, out + r0 * len, r1 - r0, len);
    });
    return;
  }
  detail::SoftmaxColsFn fn = detail::softmax_cols_fn(isa);
  constexpr int64_t kCols = 256;
  const int64_t chunks = (inner + kCols - 1) / kCols;
  detail::parallel_for(pool, outer * chunks, len * kCols * 16, [&](int64_t u0, int64_t u1) {
    for (int64_t u = u0; u < u1; ++u) {
      const int64_t o = u / chunks, j0 = (u % chunks) * kCols;
      const int64_t j1 = j0 + kCols < inner ? j0 + kCols : inner;
      fn(in + o * len * inner, out + o * len * inner, len, inner, j0, j1);
    }
  });
}

}  // namespace fx
