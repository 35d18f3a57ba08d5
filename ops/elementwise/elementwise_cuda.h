// Element-wise operations on the GPU, the same semantics (and bits) as ops/elementwise/elementwise.h:
//  - local: NHWC maps (device pointers; channel slices allowed) at the positions of a PosList; operands
//    are maps of the output's size, per-channel constant vectors or scalars (LocalOperand::values must
//    point to device memory);
//  - plain: whole row-major tensors with numpy broadcasting.
// Each output element is one IEEE operation of its operands (sigmoid / SiLU: the CPU's polynomial), so
// results equal the CPU kernels' bit for bit. Launch-only: never allocates or synchronises.
#pragma once

#include <cuda_runtime_api.h>

#include "ops/cuda/common.h"
#include "ops/elementwise/elementwise.h"

namespace fx::cuda {

void binary_local_cuda(BinaryOp op, const LocalOperand& a, const LocalOperand& b, const MapView& out,
                       const PosList& pos, cudaStream_t stream);
void unary_local_cuda(UnaryOp op, const MapView& in, const MapView& out, const PosList& pos, cudaStream_t stream);
// Every channel of `in` to `out` (same h, w, c; element sets must not overlap except when identical,
// which the caller skips): channel concat / split that is not done in place.
void copy_channels_cuda(const MapView& in, const MapView& out, const PosList& pos, cudaStream_t stream);

// The broadcast of a_shape and b_shape to out_shape as per-output-axis source strides (host side;
// exposed for tests). Shapes must broadcast (OpRunner checks).
StridedMap broadcast_map(const Shape& operand, const Shape& out_shape);

void binary_plain_cuda(BinaryOp op, const float* a, const Shape& a_shape, const float* b, const Shape& b_shape,
                       float* out, const Shape& out_shape, cudaStream_t stream);
void unary_plain_cuda(UnaryOp op, const float* in, float* out, int64_t n, cudaStream_t stream);

}  // namespace fx::cuda
