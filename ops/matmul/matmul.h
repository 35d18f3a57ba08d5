// Batched matrix multiplication of plain tensors with numpy broadcasting of the batch axes
// (ONNX MatMul; both inputs at least 2-D). Used by the attention island.
#pragma once

#include "ops/shape.h"
#include "ops/thread_pool.h"

namespace fx {

void matmul_reference(const float* a, const Shape& a_shape, const float* b, const Shape& b_shape, float* out,
                      const Shape& out_shape);
void matmul(const float* a, const Shape& a_shape, const float* b, const Shape& b_shape, float* out,
            const Shape& out_shape, ThreadPool& pool);

}  // namespace fx
