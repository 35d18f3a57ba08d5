// CUDA element-wise kernels. One thread per output element (grid-stride loops); consecutive threads
// take consecutive channels of a pixel, so NHWC accesses are contiguous per pixel.
#include "ops/elementwise/elementwise_cuda.h"

#include <cuda_runtime.h>

#include "ops/cuda/check.h"

namespace fx::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int64_t kGridCap = 1 << 20;

struct Operand {
  int kind;  // LocalOperand::Kind
  MapView map;
  const float* values;
};

Operand operand_of(const LocalOperand& o) { return {static_cast<int>(o.kind), o.map, o.values}; }

__device__ __forceinline__ float operand_value(const Operand& o, int y, int x, int ch) {
  switch (o.kind) {
    case LocalOperand::Map: return o.map.data[pixel_offset(y, x, o.map.w, o.map.pixel_stride) + ch];
    case LocalOperand::Channels: return o.values[ch];
    default: return o.values[0];
  }
}

__global__ void binary_local_kernel(int op, Operand a, Operand b, MapView out, PosList pos) {
  for_each_position_channel(pos, out.c, [&](int y, int x, int ch) {
    out.data[pixel_offset(y, x, out.w, out.pixel_stride) + ch] =
        ew_binary(op, operand_value(a, y, x, ch), operand_value(b, y, x, ch));
  });
}

__global__ void unary_local_kernel(bool silu, MapView in, MapView out, PosList pos) {
  for_each_position_channel(pos, out.c, [&](int y, int x, int ch) {
    const float v = in.data[pixel_offset(y, x, in.w, in.pixel_stride) + ch];
    out.data[pixel_offset(y, x, out.w, out.pixel_stride) + ch] = silu ? ew_silu(v) : ew_sigmoid(v);
  });
}

__global__ void copy_channels_kernel(MapView in, MapView out, PosList pos) {
  for_each_position_channel(pos, out.c, [&](int y, int x, int ch) {
    out.data[pixel_offset(y, x, out.w, out.pixel_stride) + ch] =
        in.data[pixel_offset(y, x, in.w, in.pixel_stride) + ch];
  });
}

__global__ void binary_plain_kernel(int op, const float* a, StridedMap ma, const float* b, StridedMap mb, float* out,
                                    int64_t n) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    out[i] = ew_binary(op, a[strided_source(ma, i)], b[strided_source(mb, i)]);
}

__global__ void unary_plain_kernel(bool silu, const float* in, float* out, int64_t n) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    out[i] = silu ? ew_silu(in[i]) : ew_sigmoid(in[i]);
}

}  // namespace

void binary_local_cuda(BinaryOp op, const LocalOperand& a, const LocalOperand& b, const MapView& out,
                       const PosList& pos, cudaStream_t stream) {
  if (out.c <= 0 || pos.positions <= 0) return;
  binary_local_kernel<<<grid_for(pos.positions * out.c, kThreads, kGridCap), kThreads, 0, stream>>>(
      static_cast<int>(op), operand_of(a), operand_of(b), out, pos);
  CUDA_CHECK_LAUNCH();
}

void unary_local_cuda(UnaryOp op, const MapView& in, const MapView& out, const PosList& pos, cudaStream_t stream) {
  if (out.c <= 0 || pos.positions <= 0) return;
  unary_local_kernel<<<grid_for(pos.positions * out.c, kThreads, kGridCap), kThreads, 0, stream>>>(
      op == UnaryOp::SiLU, in, out, pos);
  CUDA_CHECK_LAUNCH();
}

void copy_channels_cuda(const MapView& in, const MapView& out, const PosList& pos, cudaStream_t stream) {
  if (out.c <= 0 || pos.positions <= 0) return;
  copy_channels_kernel<<<grid_for(pos.positions * out.c, kThreads, kGridCap), kThreads, 0, stream>>>(in, out, pos);
  CUDA_CHECK_LAUNCH();
}

StridedMap broadcast_map(const Shape& s, const Shape& out) {
  // Right-aligned numpy broadcasting: operand axis i - (R - rank) for output axis i; size-1 (or
  // missing) axes read index 0 (stride 0).
  StridedMap m;
  const int R = out.rank;
  m.rank = R;
  int64_t st = 1;
  for (int i = R - 1; i >= 0; --i) {
    const int ai = i - (R - s.rank);
    const int64_t dim = ai >= 0 ? s.d[ai] : 1;
    m.dims[i] = out.d[i];
    m.stride[i] = dim == 1 ? 0 : st;
    st *= dim;
  }
  return m;
}

void binary_plain_cuda(BinaryOp op, const float* a, const Shape& a_shape, const float* b, const Shape& b_shape,
                       float* out, const Shape& out_shape, cudaStream_t stream) {
  const int64_t n = out_shape.numel();
  if (n <= 0) return;
  binary_plain_kernel<<<grid_for(n, kThreads, kGridCap), kThreads, 0, stream>>>(
      static_cast<int>(op), a, broadcast_map(a_shape, out_shape), b, broadcast_map(b_shape, out_shape), out, n);
  CUDA_CHECK_LAUNCH();
}

void unary_plain_cuda(UnaryOp op, const float* in, float* out, int64_t n, cudaStream_t stream) {
  if (n <= 0) return;
  unary_plain_kernel<<<grid_for(n, kThreads, kGridCap), kThreads, 0, stream>>>(op == UnaryOp::SiLU, in, out, n);
  CUDA_CHECK_LAUNCH();
}

}  // namespace fx::cuda
