// Convolution on NHWC feature maps: the reference (naive, obviously right) and the packed-GEMM CPU
// kernels (AVX-512 / AVX2 / portable, chosen at run time).
//
// Exactness contract (DESIGN 4, 5): every output element is computed as
//     acc = bias[co];  for (ky, kx, ci) in that order: acc = fma(in, w, acc);
//     out = act(acc) [+ residual]
// with one fused multiply-add per term (zero padding contributes fma(0, w, acc)). The order does not
// depend on how many positions are computed in one call, on the span list, on the thread count or on
// the ISA's vector width, so dense and tile-wise (sparse) execution give bit-identical outputs, and the
// pre-activation values equal the reference's bit for bit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "ops/cpu_features.h"
#include "ops/map_view.h"
#include "ops/thread_pool.h"
#include "ops/workspace.h"

namespace fx {

struct ConvParams {
  int cin = 0, cout = 0;
  int kh = 1, kw = 1;
  int sh = 1, sw = 1;
  int pad_t = 0, pad_l = 0, pad_b = 0, pad_r = 0;
  int dh = 1, dw = 1;
  int group = 1;
  Act act = Act::None;
};

// Output length along one axis (ONNX floor rule); 64-bit, so that parameters read from a hostile plan
// cannot overflow before they are compared with the plan's shapes.
inline int64_t conv_out_size(int64_t in, int64_t k, int64_t stride, int64_t pad_begin, int64_t pad_end,
                             int64_t dilation) {
  return (in + pad_begin + pad_end - dilation * (k - 1) - 1) / stride + 1;
}

// Applies act to n contiguous floats in place with the same vector code every kernel uses, so the
// activation of an element does not depend on where it sits in a call.
void apply_activation(Act act, float* x, int n);

// The naive reference: direct loops, std::fma in the contract's order, scalar activation.
// weight: ONNX OIHW [cout][cin/group][kh][kw]; bias may be null.
void conv2d_reference(const ConvParams& p, const float* weight_oihw, const float* bias, const MapView& in,
                      const MapView& out, const MapView* residual, SpanList spans);

// A prepared convolution: weights packed once for the chosen ISA's micro-kernels.
class Conv2d {
 public:
  Conv2d(const ConvParams& p, const float* weight_oihw, const float* bias, CpuIsa isa = best_isa());
  ~Conv2d();
  Conv2d(Conv2d&&) noexcept;
  Conv2d& operator=(Conv2d&&) noexcept;

  const ConvParams& params() const { return p_; }
  // Scratch bytes each pool thread needs for run().
  size_t workspace_bytes() const;

  // Computes out(y, x, :) for every position in `spans` (output coordinates) from the full input map
  // `in` (positions outside it are zero padding). residual, when given, has out's h, w, c and is added
  // after the activation. Positions not in `spans` are left untouched. Never allocates.
  void run(const MapView& in, const MapView& out, const MapView* residual, SpanList spans, ThreadPool& pool,
           const Workspace& ws) const;

 private:
  struct Impl;
  ConvParams p_;
  std::unique_ptr<Impl> impl_;
};

struct ConvTransposeParams {
  int cin = 0, cout = 0;
  int kh = 1, kw = 1;
  int sh = 1, sw = 1;
  int pad_t = 0, pad_l = 0, pad_b = 0, pad_r = 0;
  int dh = 1, dw = 1;
  int group = 1;
  int out_pad_h = 0, out_pad_w = 0;
  Act act = Act::None;
};

inline int64_t conv_transpose_out_size(int64_t in, int64_t k, int64_t stride, int64_t pad_begin, int64_t pad_end,
                                       int64_t dilation, int64_t out_pad) {
  return stride * (in - 1) + out_pad + (k - 1) * dilation + 1 - pad_begin - pad_end;
}

// Transposed convolution (gather form: each output element sums, in (ky, kx, ci) order, the input
// positions that map onto it). weight: ONNX [cin][cout/group][kh][kw].
void conv_transpose2d_reference(const ConvTransposeParams& p, const float* weight, const float* bias,
                                const MapView& in, const MapView& out, SpanList spans);

class ConvTranspose2d {
 public:
  ConvTranspose2d(const ConvTransposeParams& p, const float* weight, const float* bias,
                  CpuIsa isa = best_isa());
  ~ConvTranspose2d();
  ConvTranspose2d(ConvTranspose2d&&) noexcept;
  ConvTranspose2d& operator=(ConvTranspose2d&&) noexcept;

  const ConvTransposeParams& params() const { return p_; }
  size_t workspace_bytes() const;
  void run(const MapView& in, const MapView& out, SpanList spans, ThreadPool& pool, const Workspace& ws) const;

 private:
  struct Impl;
  ConvTransposeParams p_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fx
