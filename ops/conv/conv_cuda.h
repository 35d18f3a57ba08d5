// Convolution on the GPU (NHWC maps in device memory), the same contract as ops/conv/conv.h.
//
// Paths, chosen at construction:
//  - depthwise (group == cin == cout): one thread per output element, taps in (ky, kx) order;
//  - fp32 implicit GEMM: rows = output positions, columns = output channels of a group (blockIdx.z),
//    terms k = (ky, kx, ci). Block tiles from 16 x 16 to 128 x 128, chosen per launch from the number of
//    positions and channels so that small late layers still fill the GPU (no split-K: it would change
//    the summation order). Each thread owns (BM / 16) x (BN / 16) outputs and runs every output's fma
//    chain from its bias through k = 0 .. K-1 in order, padding taps included as fma(0, w, acc): the
//    pre-activation values equal the CPU's bit for bit, and so do the activations (ops/cuda/common.h),
//    so fp32 CUDA output == CPU output exactly, whatever the tile;
//  - fp16 implicit GEMM (tensor cores, WMMA 16x16x16, fp32 accumulation; block tiles 32 x 32 to
//    128 x 128 picked the same way): activations stay fp32 in memory and are rounded to fp16
//    (saturating at +-65504) when staged into shared memory; weights are converted once here; bias,
//    activation and residual in fp32. Not bit-exact (about 1e-3 relative error per layer).
//  - ConvTranspose (gather form): one thread per output element, (ky, kx, ci) order: exact in fp32;
//    always fp32.
// Every launch takes a PosList (ops/cuda/common.h): the output positions to compute; others are left
// untouched. Maps may be channel slices of wider buffers (pixel_stride > c, any alignment).
// Construction uploads weights synchronously (preparation); run() only launches on `stream` and never
// allocates or synchronises, so it may be captured into a CUDA graph.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <string>

#include "ops/conv/conv.h"
#include "ops/cuda/check.h"
#include "ops/cuda/common.h"

namespace fx::cuda {

class ConvCuda {
 public:
  enum class Path { Depthwise, GemmF32, GemmF16 };

  // weight_oihw, bias: host memory (bias may be null). fp16 selects the tensor-core path for GEMM
  // convolutions (depthwise stays fp32). Throws fx::Error on parameters the kernels cannot take.
  ConvCuda(const ConvParams& p, const float* weight_oihw, const float* bias, bool fp16);

  const ConvParams& params() const { return p_; }
  Path path() const { return path_; }
  size_t device_bytes() const { return w32_.bytes() + w16_.bytes() + bias_.bytes() + ktab_.bytes(); }

  // The GEMM paths' block tiles (tests and benchmarks): how many this path has (0: depthwise), a tile's
  // name ("128x64"), the one a launch over `positions` uses, and forcing one (-1: chosen per launch,
  // the default).
  int tile_count() const;
  std::string tile_name(int tile) const;
  int tile_for(int64_t positions) const;
  void set_tile(int tile);

  // in, out, residual: device maps (residual may be null; it has out's h, w, c). pos: positions of
  // `out` to compute.
  void run(const MapView& in, const MapView& out, const MapView* residual, const PosList& pos,
           cudaStream_t stream) const;

 private:
  ConvParams p_;
  Path path_ = Path::GemmF32;
  int cin_g_ = 0, cout_g_ = 0, K_ = 0;
  int ldb_ = 0;  // packed weight row stride (columns)
  int kpad_ = 0; // K rounded up to the deepest k tile
  int tile_ = -1, sms_ = 1;
  DeviceArray<float> w32_, bias_;
  DeviceArray<uint16_t> w16_;  // __half bits
  DeviceArray<int4> ktab_;     // fp32 GEMM: (dy, dx, ci) per k
};

class ConvTransposeCuda {
 public:
  ConvTransposeCuda(const ConvTransposeParams& p, const float* weight, const float* bias);
  const ConvTransposeParams& params() const { return p_; }
  size_t device_bytes() const { return w_.bytes() + bias_.bytes(); }
  void run(const MapView& in, const MapView& out, const PosList& pos, cudaStream_t stream) const;

 private:
  ConvTransposeParams p_;
  int cin_g_ = 0, cout_g_ = 0;
  DeviceArray<float> w_, bias_;
};

// Host-side weight packing (exposed for the unit tests).
// [group][K][ldb] fp32, k = (ky * kw + kx) * cin_g + ci, zero columns past cout_g.
void pack_conv_weights(const ConvParams& p, const float* weight_oihw, int ldb, int k_rows, float* dst);
// [group][ky][kx][ci][cout_g] from ONNX ConvTranspose weights [cin][cout_g][kh][kw].
void pack_conv_transpose_weights(const ConvTransposeParams& p, const float* weight, float* dst);
// float -> IEEE half bits, round to nearest even, saturating to +-65504 (NaN stays NaN).
uint16_t float_to_half_sat(float f);
float half_to_float(uint16_t h);

}  // namespace fx::cuda
