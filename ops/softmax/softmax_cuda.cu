#include "ops/softmax/softmax_cuda.h"

#include <cuda_runtime.h>

#include "ops/cuda/check.h"
#include "ops/cuda/common.h"

namespace fx::cuda {

namespace {

constexpr int kThreads = 256;

// 16 lanes per row; the two half-warps of a warp may work on different numbers of rows, so every
// shuffle names only its own half (legal with independent thread scheduling, sm_70+).
__global__ void softmax_rows_kernel(const float* in, float* out, int64_t rows, int64_t len) {
  const int lane = threadIdx.x & 15;
  const unsigned half_mask = (threadIdx.x & 16) ? 0xffff0000u : 0x0000ffffu;
  const int64_t halves = static_cast<int64_t>(gridDim.x) * (blockDim.x / 16);
  for (int64_t r = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / 16; r < rows; r += halves) {
    const float* x = in + r * len;
    float* y = out + r * len;
    // Maximum (any order gives the same value; a NaN makes the whole row NaN below, as on the CPU).
    float m = x[0];
    for (int64_t i = lane; i < len; i += 16) m = fx_max(m, x[i]);
#pragma unroll
    for (int w = 8; w >= 1; w /= 2) m = fx_max(m, __shfl_xor_sync(half_mask, m, w, 16));
    // Lane l: the CPU's accumulator lane l.
    float s = 0.f;
    for (int64_t i = lane; i < len; i += 16) {
      const float e = ew_exp_nonpos(fx_sub(x[i], m));
      y[i] = e;
      s = fx_add(s, e);
    }
    // The CPU's tree: s[j] += s[j + w] for j < w, w = 8, 4, 2, 1.
#pragma unroll
    for (int w = 8; w >= 1; w /= 2) {
      const float o = __shfl_down_sync(half_mask, s, w, 16);
      if (lane < w) s = fx_add(s, o);
    }
    const float total = __shfl_sync(half_mask, s, 0, 16);
    const float inv = fx_div(1.f, total);
    for (int64_t i = lane; i < len; i += 16) y[i] = fx_mul(y[i], inv);
  }
}

__global__ void softmax_cols_kernel(const float* in, float* out, int64_t outer, int64_t len, int64_t inner) {
  const int64_t n = outer * inner;
  for (int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; c < n;
       c += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t o = c / inner, j = c - o * inner;
    const float* x = in + o * len * inner + j;
    float* y = out + o * len * inner + j;
    float m = x[0];
    for (int64_t l = 1; l < len; ++l) m = fx_max(m, x[l * inner]);
    float sum = 0.f;
    for (int64_t l = 0; l < len; ++l) {
      const float e = ew_exp_nonpos(fx_sub(x[l * inner], m));
      y[l * inner] = e;
      sum = fx_add(sum, e);
    }
    const float inv = fx_div(1.f, sum);
    for (int64_t l = 0; l < len; ++l) y[l * inner] = fx_mul(y[l * inner], inv);
  }
}

}  // namespace

void softmax_cuda(const float* in, const Shape& shape, int axis, float* out, cudaStream_t stream) {
  if (axis < 0) axis += shape.rank;
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < axis; ++i) outer *= shape.d[i];
  for (int i = axis + 1; i < shape.rank; ++i) inner *= shape.d[i];
  const int64_t len = shape.rank > 0 ? shape.d[axis] : 1;
  if (outer <= 0 || len <= 0 || inner <= 0) return;
  if (inner == 1) {
    softmax_rows_kernel<<<grid_for(outer * 16, kThreads, 1 << 20), kThreads, 0, stream>>>(in, out, outer, len);
  } else {
    softmax_cols_kernel<<<grid_for(outer * inner, kThreads, 1 << 20), kThreads, 0, stream>>>(in, out, outer, len,
                                                                                             inner);
  }
  CUDA_CHECK_LAUNCH();
}

}  // namespace fx::cuda
