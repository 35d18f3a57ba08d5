// Private: per-ISA row kernels of the element-wise ops (defined in elementwise.cpp, *_avx2.cpp,
// *_avx512.cpp from the templates in ew_kernels.h) and their run-time selection.
#pragma once

#include <cstdint>

#include "ops/cpu_features.h"
#include "ops/elementwise/elementwise.h"

namespace fx {
namespace detail {

// out[i] = a[i] op b[i] for i < n; a_scalar / b_scalar: that operand is the single value *a / *b.
// out may equal a or b (in place), no other overlap.
using BinaryRowFn = void (*)(BinaryOp op, const float* a, bool a_scalar, const float* b, bool b_scalar,
                             float* out, int64_t n);
// out[i] = f(in[i]); out may equal in. Every ISA gives the same bits (see simd.h).
using UnaryRowFn = void (*)(UnaryOp op, const float* in, float* out, int64_t n);

void binary_row_generic(BinaryOp, const float*, bool, const float*, bool, float*, int64_t);
void unary_row_generic(UnaryOp, const float*, float*, int64_t);
#if defined(__x86_64__) || defined(__i386__)
void binary_row_avx2(BinaryOp, const float*, bool, const float*, bool, float*, int64_t);
void unary_row_avx2(UnaryOp, const float*, float*, int64_t);
void binary_row_avx512(BinaryOp, const float*, bool, const float*, bool, float*, int64_t);
void unary_row_avx512(UnaryOp, const float*, float*, int64_t);
#endif
#if defined(__aarch64__)
void binary_row_neon(BinaryOp, const float*, bool, const float*, bool, float*, int64_t);
void unary_row_neon(UnaryOp, const float*, float*, int64_t);
#endif

BinaryRowFn binary_row_fn(CpuIsa isa);
UnaryRowFn unary_row_fn(CpuIsa isa);

}  // namespace detail
}  // namespace fx
