// The CUDA backend (runtime/backend.h).
//
//   CudaDevice (shared by every executor and session of a plan on one GPU): the ops' kernels set up from
//     their descriptions (op_desc.h): convolution weights packed and uploaded once (fp16 copies in fp16
//     mode), other constants uploaded once; cuBLAS (loaded at run time) for the attention MatMuls. Ops
//     the GPU has no kernel for, or that BackendOptions::cpu_ops sends to the CPU, run on the CPU
//     kernels with explicit transfers (supports() says which; `fluxshard inspect --backend cuda` lists
//     them).
//   CudaBackend (one per executor): its own CUDA stream; storage in device memory; host arrays (span
//     lists, copy runs, comparison tables, the reference image) go up through a pinned staging ring;
//     the dense inference can be recorded into a CUDA graph.
//
// Precision. fp32: every kernel except MatMul computes the CPU's bits exactly (fma chains in the CPU's
// order, the CPU's activation polynomials; ops/cuda/common.h), and the cache's data movement is copies
// and the CPU's comparisons (ops/cache/cache_cuda.h): the sparse executor makes the same decisions on
// the same values as on the CPU wherever the attention MatMuls' results agree. fp16: the GEMM
// convolutions run on tensor cores with fp16 inputs and fp32 accumulation; activations stay fp32 in
// memory; not bit-exact.
//
// Errors: fx::Error with one line (CUDA errors name the file and line of the failing call; with
// debug_sync, and during the warm-up run, the failing op).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "runtime/backend.h"

namespace fx {

class CudaDevice final : public Device {
 public:
  CudaDevice(std::shared_ptr<const Plan> plan, BackendOptions opt, std::shared_ptr<ThreadPool> pool);
  ~CudaDevice() override;

  std::string name() const override;
  bool supports(int op) const override;
  std::unique_ptr<Backend> new_backend() const override;
  ThreadPool& pool() const override { return *pool_; }
  // The GPU motion search (ops/motion/sad_cuda.h), codec motion vectors as seeds as on the CPU.
  std::unique_ptr<MotionSearch> new_motion_search(int width, int height, const AlignerOptions& opt) const override;

  bool uses_cublas() const;
  size_t weight_bytes() const;  // device memory of weights and constants
  // True when `device` can run this build's kernels; otherwise `why` says what is missing.
  static bool available(std::string* why = nullptr, int device = 0);

  struct Kernels;  // cuda_backend.cpp
  const Kernels& kernels() const { return *kernels_; }

 private:
  std::shared_ptr<ThreadPool> pool_;
  std::unique_ptr<Kernels> kernels_;
};

}  // namespace fx
