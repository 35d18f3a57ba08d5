// Softmax of a plain tensor along one axis (ONNX opset >= 13 semantics: the axis alone).
#pragma once

#include "ops/shape.h"
#include "ops/thread_pool.h"

namespace fx {

void softmax_reference(const float* in, const Shape& shape, int axis, float* out);
void softmax(const float* in, const Shape& shape, int axis, float* out, ThreadPool& pool);

}  // namespace fx
