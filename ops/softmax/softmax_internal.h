// Private: per-ISA softmax kernels (softmax_kernels.h instantiated in softmax.cpp, *_avx2.cpp,
// *_avx512.cpp). Every ISA gives the same bits: exp is the shared polynomial of simd.h, sums use the
// same 16-lane pattern and the same reduction tree.
#pragma once

#include <cstdint>

#include "ops/cpu_features.h"

namespace fx {
namespace detail {

// Softmax of `rows` contiguous rows of length len (the axis is innermost).
using SoftmaxRowsFn = void (*)(const float* in, float* out, int64_t rows, int64_t len);
// Softmax along an axis of length len with element stride `inner`, for the columns [j0, j1) of one
// outer block starting at in / out.
using SoftmaxColsFn = void (*)(const float* in, float* out, int64_t len, int64_t inner, int64_t j0, int64_t j1);

void softmax_rows_generic(const float*, float*, int64_t, int64_t);
void softmax_cols_generic(const float*, float*, int64_t, int64_t, int64_t, int64_t);
#if defined(__x86_64__) || defined(__i386__)
void softmax_rows_avx2(const float*, float*, int64_t, int64_t);
void softmax_cols_avx2(const float*, float*, int64_t, int64_t, int64_t, int64_t);
void softmax_rows_avx512(const float*, float*, int64_t, int64_t);
void softmax_cols_avx512(const float*, float*, int64_t, int64_t, int64_t, int64_t);
#endif
#if defined(__aarch64__)
void softmax_rows_neon(const float*, float*, int64_t, int64_t);
void softmax_cols_neon(const float*, float*, int64_t, int64_t, int64_t, int64_t);
#endif

SoftmaxRowsFn softmax_rows_fn(CpuIsa isa);
SoftmaxColsFn softmax_cols_fn(CpuIsa isa);

}  // namespace detail
}  // namespace fx
