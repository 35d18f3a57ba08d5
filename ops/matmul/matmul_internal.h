// Private: per-ISA matrix-multiply kernels (matmul_kernels.h instantiated in matmul.cpp, *_avx2.cpp,
// *_avx512.cpp).
#pragma once

#include <cstdint>

#include "ops/cpu_features.h"

namespace fx {
namespace detail {

// c[m x n] = a[m x k] * b[k x n] (row-major with leading dimensions). Every element is accumulated from
// 0 over k ascending, one (fused on AVX2/AVX-512) multiply-add per term, whatever m and n.
using MatmulFn = void (*)(const float* a, int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc,
                          int64_t m, int64_t n, int64_t k);

void matmul_generic(const float*, int64_t, const float*, int64_t, float*, int64_t, int64_t, int64_t, int64_t);
#if defined(__x86_64__) || defined(__i386__)
void matmul_avx2(const float*, int64_t, const float*, int64_t, float*, int64_t, int64_t, int64_t, int64_t);
void matmul_avx512(const float*, int64_t, const float*, int64_t, float*, int64_t, int64_t, int64_t, int64_t);
#endif
#if defined(__aarch64__)
void matmul_neon(const float*, int64_t, const float*, int64_t, float*, int64_t, int64_t, int64_t, int64_t);
#endif

MatmulFn matmul_fn(CpuIsa isa);

}  // namespace detail
}  // namespace fx
