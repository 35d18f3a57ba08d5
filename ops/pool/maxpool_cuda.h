// Max pooling on the GPU: ops/pool/maxpool.h's contract and evaluation order (for each window column
// kx ascending, the fold over its valid rows ky ascending, then the fold of the column maxima; max(a, b)
// = a > b ? a : b; padding skipped), so results equal the CPU's bit for bit, NaN included. Device maps,
// PosList positions of `out`; launch-only.
#pragma once

#include <cuda_runtime_api.h>

#include "ops/cuda/common.h"
#include "ops/pool/maxpool.h"

namespace fx::cuda {

void maxpool2d_cuda(const PoolParams& p, const MapView& in, const MapView& out, const PosList& pos,
                    cudaStream_t stream);

}  // namespace fx::cuda
