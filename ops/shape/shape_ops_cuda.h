// Data movement on the GPU (ops/shape/shape_ops.h): transpose, slice, concat / split of plain
// (row-major) tensors along any axis, and NCHW <-> NHWC conversion of batch-1 maps (the NHWC side may
// be a channel slice of a wider map). Pure copies, so results equal the CPU's exactly. Device
// pointers; launch-only.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "ops/cuda/common.h"
#include "ops/shape.h"

namespace fx::cuda {

// Host-side index maps (exposed for tests): output index -> input index.
StridedMap transpose_map(const Shape& in_shape, const int* perm);
StridedMap slice_map(const Shape& in_shape, const int64_t* starts, const int64_t* steps, const Shape& out_shape);

void transpose_cuda(const float* in, const Shape& in_shape, const int* perm, float* out, cudaStream_t stream);
void slice_cuda(const float* in, const Shape& in_shape, const int64_t* starts, const int64_t* steps, float* out,
                const Shape& out_shape, cudaStream_t stream);
// One launch per part.
void concat_plain_cuda(const float* const* inputs, const Shape* input_shapes, int count, int axis, float* out,
                       cudaStream_t stream);
void split_plain_cuda(const float* in, const Shape& in_shape, int axis, float* const* outputs, const int64_t* sizes,
                      int count, cudaStream_t stream);

void nhwc_to_nchw_cuda(const MapView& in, float* out, cudaStream_t stream);
void nchw_to_nhwc_cuda(const float* in, const MapView& out, cudaStream_t stream);

// cudaMemcpyAsync of n floats device to device (Reshape); nothing when src == dst.
void copy_floats_cuda(float* dst, const float* src, int64_t n, cudaStream_t stream);

}  // namespace fx::cuda
