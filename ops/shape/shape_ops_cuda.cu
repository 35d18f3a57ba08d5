#include "ops/shape/shape_ops_cuda.h"

#include <cuda_runtime.h>

#include "ops/cuda/check.h"

namespace fx::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int64_t kGridCap = 1 << 20;

__global__ void gather_kernel(const float* in, StridedMap map, float* out, int64_t n) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    out[i] = in[strided_source(map, i)];
}

// Part [outer][len][inner] <-> whole [outer][total][inner] at axis offset `off`.
__global__ void part_copy_kernel(const float* src, float* dst, int64_t outer, int64_t part_chunk, int64_t whole_chunk,
                                 int64_t off, bool to_whole) {
  const int64_t n = outer * part_chunk;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t o = i / part_chunk, r = i - o * part_chunk;
    const int64_t w = o * whole_chunk + off + r;
    if (to_whole) dst[w] = src[i];
    else dst[i] = src[w];
  }
}

__global__ void nhwc_to_nchw_kernel(MapView in, float* out) {
  const int64_t hw = static_cast<int64_t>(in.h) * in.w;
  const int64_t n = hw * in.c;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t ch = i / hw, p = i - ch * hw;
    out[i] = in.data[p * in.pixel_stride + ch];
  }
}

__global__ void nchw_to_nhwc_kernel(const float* in, MapView out) {
  const int64_t hw = static_cast<int64_t>(out.h) * out.w;
  const int64_t n = hw * out.c;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t p = i / out.c, ch = i - p * out.c;
    out.data[p * out.pixel_stride + ch] = in[ch * hw + p];
  }
}

void contiguous_strides(const Shape& s, int64_t* st) {
  int64_t v = 1;
  for (int i = s.rank - 1; i >= 0; --i) {
    st[i] = v;
    v *= s.d[i];
  }
}

void axis_split(const Shape& s, int axis, int64_t& outer, int64_t& inner) {
  outer = inner = 1;
  for (int i = 0; i < axis; ++i) outer *= s.d[i];
  for (int i = axis + 1; i < s.rank; ++i) inner *= s.d[i];
}

}  // namespace

StridedMap transpose_map(const Shape& in_shape, const int* perm) {
  StridedMap m;
  int64_t st[kMaxRank];
  contiguous_strides(in_shape, st);
  m.rank = in_shape.rank;
  for (int i = 0; i < in_shape.rank; ++i) {
    m.dims[i] = in_shape.d[perm[i]];
    m.stride[i] = st[perm[i]];
  }
  return m;
}

StridedMap slice_map(const Shape& in_shape, const int64_t* starts, const int64_t* steps, const Shape& out_shape) {
  StridedMap m;
  int64_t st[kMaxRank];
  contiguous_strides(in_shape, st);
  m.rank = out_shape.rank;
  for (int i = 0; i < out_shape.rank; ++i) {
    m.dims[i] = out_shape.d[i];
    m.stride[i] = steps[i] * st[i];
    m.base += starts[i] * st[i];
  }
  return m;
}

void transpose_cuda(const float* in, const Shape& in_shape, const int* perm, float* out, cudaStream_t stream) {
  const int64_t n = in_shape.numel();
  if (n <= 0) return;
  gather_kernel<<<grid_for(n, kThreads, kGridCap), kThreads, 0, stream>>>(in, transpose_map(in_shape, perm), out, n);
  CUDA_CHECK_LAUNCH();
}

void slice_cuda(const float* in, const Shape& in_shape, const int64_t* starts, const int64_t* steps, float* out,
                const Shape& out_shape, cudaStream_t stream) {
  const int64_t n = out_shape.numel();
  if (n <= 0) return;
  gather_kernel<<<grid_for(n, kThreads, kGridCap), kThreads, 0, stream>>>(
      in, slice_map(in_shape, starts, steps, out_shape), out, n);
  CUDA_CHECK_LAUNCH();
}

void concat_plain_cuda(const float* const* inputs, const Shape* input_shapes, int count, int axis, float* out,
                       cudaStream_t stream) {
  if (count <= 0) return;
  const Shape& s0 = input_shapes[0];
  if (axis < 0) axis += s0.rank;
  int64_t outer, inner;
  axis_split(s0, axis, outer, inner);
  int64_t whole = 0;
  for (int t = 0; t < count; ++t) whole += input_shapes[t].d[axis] * inner;
  int64_t off = 0;
  for (int t = 0; t < count; ++t) {
    const int64_t chunk = input_shapes[t].d[axis] * inner;
    if (chunk > 0 && outer > 0) {
      part_copy_kernel<<<grid_for(outer * chunk, kThreads, kGridCap), kThreads, 0, stream>>>(inputs[t], out, outer,
                                                                                             chunk, whole, off, true);
      CUDA_CHECK_LAUNCH();
    }
    off += chunk;
  }
}

void split_plain_cuda(const float* in, const Shape& in_shape, int axis, float* const* outputs, const int64_t* sizes,
                      int count, cudaStream_t stream) {
  if (count <= 0) return;
  if (axis < 0) axis += in_shape.rank;
  int64_t outer, inner;
  axis_split(in_shape, axis, outer, inner);
  const int64_t whole = in_shape.d[axis] * inner;
  int64_t off = 0;
  for (int t = 0; t < count; ++t) {
    const int64_t chunk = sizes[t] * inner;
    if (chunk > 0 && outer > 0) {
      part_copy_kernel<<<grid_for(outer * chunk, kThreads, kGridCap), kThreads, 0, stream>>>(in, outputs[t], outer,
                                                                                             chunk, whole, off, false);
      CUDA_CHECK_LAUNCH();
    }
    off += chunk;
  }
}

void nhwc_to_nchw_cuda(const MapView& in, float* out, cudaStream_t stream) {
  const int64_t n = static_cast<int64_t>(in.h) * in.w * in.c;
  if (n <= 0) return;
  nhwc_to_nchw_kernel<<<grid_for(n, kThreads, kGridCap), kThreads, 0, stream>>>(in, out);
  CUDA_CHECK_LAUNCH();
}

void nchw_to_nhwc_cuda(const float* in, const MapView& out, cudaStream_t stream) {
  const int64_t n = static_cast<int64_t>(out.h) * out.w * out.c;
  if (n <= 0) return;
  nchw_to_nhwc_kernel<<<grid_for(n, kThreads, kGridCap), kThreads, 0, stream>>>(in, out);
  CUDA_CHECK_LAUNCH();
}

void copy_floats_cuda(float* dst, const float* src, int64_t n, cudaStream_t stream) {
  if (n <= 0 || dst == src) return;
  CUDA_CHECK(cudaMemcpyAsync(dst, src, static_cast<size_t>(n) * sizeof(float), cudaMemcpyDeviceToDevice, stream));
}

}  // namespace fx::cuda
