// Nearest-neighbour upsampling by integer factors on the GPU (ops/resize/resize.h): out(y, x) =
// in(y / sh, x / sw). Device maps, PosList positions of `out`; launch-only; a pure copy (exact).
#pragma once

#include <cuda_runtime_api.h>

#include "ops/cuda/common.h"

namespace fx::cuda {

void resize_nearest_cuda(int scale_h, int scale_w, const MapView& in, const MapView& out, const PosList& pos,
                         cudaStream_t stream);

}  // namespace fx::cuda
