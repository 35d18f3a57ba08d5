// Batched matrix multiplication of plain tensors with numpy broadcasting of the batch axes
// (ONNX MatMul; both inputs at least 2-D). Used by the attention island.
#pragma once

#include "ops/shape.h"
#include "ops/thread_pool.h"

namespace fx {

// Batch geometry: out batch dims and, per batch axis, the element strides of a's and b's matrices
// (0 along broadcast axes). Shared by the CPU and CUDA MatMul.
struct MatmulBatch {
  int rank = 0;  // batch axes
  int64_t d[Shape::kMaxRank] = {};
  int64_t sa[Shape::kMaxRank] = {};
  int64_t sb[Shape::kMaxRank] = {};
  int64_t count = 1;
  int64_t m = 0, n = 0, k = 0;
};
MatmulBatch matmul_batch(const Shape& a_shape, const Shape& b_shape, const Shape& out_shape);

void matmul_reference(const float* a, const Shape& a_shape, const float* b, const Shape& b_shape, float* out,
                      const Shape& out_shape);
void matmul(const float* a, const Shape& a_shape, const float* b, const Shape& b_shape, float* out,
            const Shape& out_shape, ThreadPool& pool);

}  // namespace fx
