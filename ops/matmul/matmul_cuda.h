// Batched matrix multiplication of plain tensors on the GPU (ONNX MatMul with numpy broadcasting of
// the batch axes, ops/matmul/matmul.h), fp32 in and out.
//
// cuBLAS (strided batched SGEMM, default math mode: no TF32) when it can be loaded and the batch
// collapses to one stride per operand; otherwise a tiled fp32 kernel (also the fallback when cuBLAS
// is missing). cuBLAS is loaded at run time (dlopen of libcublas.so.<CUDA major>, or the library
// named by $FLUXSHARD_CUBLAS; FLUXSHARD_CUBLAS=0 disables it) unless the build links it
// (FLUXSHARD_CUDA_LINK_CUBLAS): the binaries then start, and the CUDA backend works, on machines
// without cuBLAS (its 600 MB are often not installed beside a driver, e.g. on carried test builds).
// Neither path is bit-identical to the CPU (whose own matmul differs between ISAs); tests use NMSE.
//
// cuBLAS is column-major. A row-major M x N matrix is the column-major N x M matrix with the same
// leading dimension, so C = A B (row-major: A M x K, B K x N) is computed as the column-major
// C^T = B^T A^T: cublasSgemmStridedBatched(N, N, m = N, n = M, k = K, B, ldb = N, A, lda = K,
// C, ldc = N), strides in elements per batch (0 for a broadcast operand).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "ops/cuda/check.h"
#include "ops/matmul/matmul.h"
#include "ops/shape.h"

namespace fx::cuda {

// MatmulBatch (ops/matmul/matmul.h) and whether the batch collapses to one stride per operand.
struct MatmulGeometry : MatmulBatch {
  // One stride per operand for the whole batch (batch b at b * stride): valid when `collapsible`.
  bool collapsible = false;
  int64_t stride_a = 0, stride_b = 0;
};
MatmulGeometry matmul_geometry(const Shape& a_shape, const Shape& b_shape, const Shape& out_shape);

// True when cuBLAS could be loaded (why: the reason when not).
bool cublas_available(std::string* why = nullptr);

class MatmulCuda {
 public:
  // use_cublas = false forces the built-in kernel (tests compare both).
  explicit MatmulCuda(bool use_cublas = true);
  ~MatmulCuda();
  MatmulCuda(const MatmulCuda&) = delete;
  MatmulCuda& operator=(const MatmulCuda&) = delete;

  bool uses_cublas() const { return handle_ != nullptr; }
  // Launch-only (graph-capturable once cuBLAS has run outside capture: run it once first).
  void run(const float* a, const Shape& a_shape, const float* b, const Shape& b_shape, float* out,
           const Shape& out_shape, cudaStream_t stream) const;

 private:
  void* handle_ = nullptr;  // cublasHandle_t
  DeviceArray<uint8_t> workspace_;
};

}  // namespace fx::cuda
