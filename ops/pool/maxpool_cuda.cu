#include "ops/pool/maxpool_cuda.h"

#include <cuda_runtime.h>

#include "ops/cuda/check.h"

namespace fx::cuda {

namespace {

__global__ void maxpool_kernel(PoolParams p, MapView in, MapView out, PosList pos) {
  const float neg_inf = __int_as_float(0xff800000);
  for_each_position_channel(pos, out.c, [&](int y, int x, int ch) {
    float acc = neg_inf;
    for (int kx = 0; kx < p.kw; ++kx) {
      const int ix = x * p.sw - p.pad_l + kx * p.dw;
      if (ix < 0 || ix >= in.w) continue;
      float col = neg_inf;
      for (int ky = 0; ky < p.kh; ++ky) {
        const int iy = y * p.sh - p.pad_t + ky * p.dh;
        if (iy < 0 || iy >= in.h) continue;
        col = fx_max(col, in.data[pixel_offset(iy, ix, in.w, in.pixel_stride) + ch]);
      }
      acc = fx_max(acc, col);
    }
    out.data[pixel_offset(y, x, out.w, out.pixel_stride) + ch] = acc;
  });
}

}  // namespace

void maxpool2d_cuda(const PoolParams& p, const MapView& in, const MapView& out, const PosList& pos,
                    cudaStream_t stream) {
  if (out.c <= 0 || pos.positions <= 0) return;
  maxpool_kernel<<<grid_for(pos.positions * out.c, 256, 1 << 20), 256, 0, stream>>>(p, in, out, pos);
  CUDA_CHECK_LAUNCH();
}

}  // namespace fx::cuda
