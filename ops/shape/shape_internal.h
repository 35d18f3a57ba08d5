// Private: per-ISA 2-D transpose kernels behind transpose / nhwc_to_nchw / nchw_to_nhwc.
#pragma once

#include <cstdint>

#include "ops/cpu_features.h"

namespace fx {
namespace detail {

// dst[j * dst_ld + i] = src[i * src_ld + j] for i < rows, j < cols.
using Transpose2dFn = void (*)(const float* src, int64_t src_ld, float* dst, int64_t dst_ld, int64_t rows,
                               int64_t cols);

void transpose2d_generic(const float*, int64_t, float*, int64_t, int64_t, int64_t);
#if defined(__x86_64__) || defined(__i386__)
void transpose2d_avx2(const float*, int64_t, float*, int64_t, int64_t, int64_t);
#endif

Transpose2dFn transpose2d_fn(CpuIsa isa);

}  // namespace detail
}  // namespace fx
