#include "ops/resize/resize_cuda.h"

#include <cuda_runtime.h>

#include "ops/cuda/check.h"

namespace fx::cuda {

namespace {

__global__ void resize_nearest_kernel(int sh, int sw, MapView in, MapView out, PosList pos) {
  for_each_position_channel(pos, out.c, [&](int y, int x, int ch) {
    out.data[pixel_offset(y, x, out.w, out.pixel_stride) + ch] =
        in.data[pixel_offset(y / sh, x / sw, in.w, in.pixel_stride) + ch];
  });
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
