#include "ops/matmul/matmul.h"

#include "ops/elementwise/parallel.h"
#include "ops/matmul/matmul_internal.h"
#include "ops/matmul/matmul_kernels.h"

namespace fx {
namespace detail {

void matmul_generic(const float* a, int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc, int64_t m,
                    int64_t n, int64_t k) {
  simd::matmul_block<simd::VecGeneric>(a, lda, b, ldb, c, ldc, m, n, k);
}

MatmulFn matmul_fn(CpuIsa isa) {
#if defined(__x86_64__) || defined(__i386__)
  if (isa == CpuIsa::Avx512) return matmul_avx512;
  if (isa == CpuIsa::Avx2) return matmul_avx2;
#elif defined(__aarch64__)
  if (isa == CpuIsa::Neon) return matmul_neon;
#endif
  (void)isa;
  return matmul_generic;
}

}  // namespace detail

namespace {

void batch_strides(const Shape& s, int out_batch_rank, int64_t* strides) {
  const int br = s.rank - 2;
  int64_t st = s.d[s.rank - 2] * s.d[s.rank - 1];
  for (int i = out_batch_rank - 1; i >= 0; --i) {
    int ai = i - (out_batch_rank - br);
    int64_t dim = ai >= 0 ? s.d[ai] : 1;
    strides[i] = dim == 1 ? 0 : st;
    st *= dim;
  }
}

inline void batch_offsets(const MatmulBatch& g, int64_t batch, int64_t& oa, int64_t& ob) {
  oa = ob = 0;
  for (int i = g.rank - 1; i >= 0; --i) {
    int64_t idx = batch % g.d[i];
    batch /= g.d[i];
    oa += idx * g.sa[i];
    ob += idx * g.sb[i];
  }
}

}  // namespace

MatmulBatch matmul_batch(const Shape& a_shape, const Shape& b_shape, const Shape& out_shape) {
  MatmulBatch g;
  g.rank = out_shape.rank - 2;
  for (int i = 0; i < g.rank; ++i) {
    g.d[i] = out_shape.d[i];
    g.count *= g.d[i];
  }
  batch_strides(a_shape, g.rank, g.sa);
  batch_strides(b_shape, g.rank, g.sb);
  g.m = a_shape.d[a_shape.rank - 2];
  g.k = a_shape.d[a_shape.rank - 1];
  g.n = b_shape.d[b_shape.rank - 1];
  return g;
}

void matmul_reference(const float* a, const Shape& a_shape, const float* b, const Shape& b_shape, float* out,
                      const Shape& out_shape) {
  const MatmulBatch g = matmul_batch(a_shape, b_shape, out_shape);
  for (int64_t bt = 0; bt < g.count; ++bt) {
    int64_t oa, ob;
    batch_offsets(g, bt, oa, ob);
    const float* A = a + oa;
    const float* B = b + ob;
    float* C = out + bt * g.m * g.n;
    for (int64_t i = 0; i < g.m; ++i)
      for (int64_t j = 0; j < g.n; ++j) {
        double acc = 0;
        for (int64_t kk = 0; kk < g.k; ++kk) acc += static_cast<double>(A[i * g.k + kk]) * B[kk * g.n + j];
        C[i * g.n + j] = static_cast<float>(acc);
      }
  }
}

void matmul(const float* a, const Shape& a_shape, const float* b, const Shape& b_shape, float* out,
            const Shape& out_shape, ThreadPool& pool) {
  const MatmulBatch g = matmul_batch(a_shape, b_shape, out_shape);
  if (g.count <= 0 || g.m <= 0 || g.n <= 0) return;
  detail::MatmulFn fn = detail::matmul_fn(best_isa());
  // Tasks: (batch, block of rows). Rows are independent and each element's sum runs in one fixed order,
  // so the split never changes results.
  int64_t mb = 48;
  const int64_t want = static_cast<int64_t>(pool.size()) * 3;
  while (mb > 6 && g.count * ((g.m + mb - 1) / mb) < want) mb -= 6;
  const int64_t blocks = (g.m + mb - 1) / mb;
  detail::parallel_for(pool, g.count * blocks, mb * g.n * (g.k > 0 ? g.k : 1), [&](int64_t u0, int64_t u1) {
    for (int64_t u = u0; u < u1; ++u) {
      const int64_t bt = u / blocks, i0 = (u % blocks) * mb;
      const int64_t rows = g.m - i0 < mb ? g.m - i0 : mb;
      int64_t oa, ob;
      batch_offsets(g, bt, oa, ob);
      fn(a + oa + i0 * g.k, g.k, b + ob, g.n, out + bt * g.m * g.n + i0 * g.n, g.n, rows, g.n, g.k);
    }
  });
}

}  // namespace fx
