#include "ops/resize/resize_cuda.h"

#include <cuda_runtime.h>

#include "ops/cuda/check.h"

namespace fx::cuda {

namespace {

__global__ void resize_nearest_kernel(int sh, int sw, MapView in, MapView out, PosList pos) {
  const int C = out.c;
  const int64_t total = pos.positions * C;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t m = e / C;
    const int ch = static_cast<int>(e - m * C);
    int y, x;
    locate(pos, m, y, x);
    out.data[pixel_offset(y, x, out.w, out.pixel_stride) + ch] =
        in.data[pixel_offset(y / sh, x / sw, in.w, in.pixel_stride) + ch];
  }
}

}  // namespace

void resize_nearest_cuda(int scale_h, int scale_w, const MapView& in, const MapView& out, const PosList& pos,
                         cudaStream_t stream) {
  if (out.c <= 0 || pos.positions <= 0) return;
  if (scale_h <= 0 || scale_w <= 0) throw Error("resize_nearest_cuda: scales must be positive");
  resize_nearest_kernel<<<grid_for(pos.positions * out.c, 256, 1 << 20), 256, 0, stream>>>(scale_h, scale_w, in, out,
                                                                                          pos);
  CUDA_CHECK_LAUNCH();
}

}  // namespace fx::cuda
