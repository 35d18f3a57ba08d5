// Softmax of a plain tensor along one axis on the GPU, the CPU kernels' arithmetic exactly
// (ops/softmax/softmax_kernels.h), so results are bit-identical:
//  - contiguous rows (inner == 1): 16 lanes per row; lane l sums the exponentials of elements l, l+16,
//    l+32, ... in order (the CPU's 16 accumulator lanes), the lanes are reduced by the same tree
//    (j += j+8, then +4, +2, +1), y = e * (1 / sum);
//  - strided axes: one thread per column, sequential sums, y = e * (1 / sum).
// exp is the CPU's polynomial (ops/cuda/common.h). Device pointers; launch-only; in == out allowed.
#pragma once

#include <cuda_runtime_api.h>

#include "ops/shape.h"

namespace fx::cuda {

void softmax_cuda(const float* in, const Shape& shape, int axis, float* out, cudaStream_t stream);

}  // namespace fx::cuda
