// Dense execution of a plan on a CUDA GPU, the GPU twin of DenseExecutor (runtime/dense_executor.h).
//
//   prepare (constructor): the ops come described and validated from the plan (runtime/op_desc.h); weights are uploaded once (convolutions packed
//     for their kernels, fp16 copies in fp16 mode; other constants as they are); ONE device arena of
//     plan.arena_bytes() is allocated and every tensor is bound at its arena offset, aliases (channel
//     slices of wider NHWC maps: in-place concat / split) at root + channel offset, exactly as the CPU
//     executor binds them; pinned host buffers for the input and the outputs; one CUDA stream.
//     One plain run (warm-up, checked), then the whole dense inference is captured once into a CUDA
//     graph (plain launches are used if capture or instantiation fails: graph_error() says why).
//   invoke(): input upload, graph replay, output download, stream synchronisation.
//
// Precision. fp32: every kernel except MatMul computes the CPU's bits exactly (fma chains in the CPU's
// order, the CPU's activation polynomials), so outputs equal the CPU backend's up to the attention
// MatMuls (cuBLAS or the built-in GEMM; the CPU's own matmul differs between ISAs). fp16: the GEMM
// convolutions run on tensor cores with fp16 inputs (activations rounded to fp16 as they are staged,
// weights converted once) and fp32 accumulation; activations stay fp32 in memory between ops, and
// everything else (depthwise, ConvTranspose, attention, epilogue) stays fp32; outputs are fp32.
//
// Errors: fx::Error with one line (CUDA errors name the file and line of the failing call).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "runtime/plan.h"

namespace fx {

enum class CudaPrecision { FP32, FP16 };
const char* precision_name(CudaPrecision p);
CudaPrecision parse_precision(const std::string& s);  // "fp32" | "fp16"; throws fx::Error

struct CudaOptions {
  CudaPrecision precision = CudaPrecision::FP32;
  int device = 0;
  bool use_graph = true;     // capture dense inference once, replay per frame
  bool debug_sync = false;   // plain launches, synchronise and check after every op (names the failing op)
  bool use_cublas = true;    // false: the built-in GEMM for MatMul even where cuBLAS is available
};

class CudaExecutor {
 public:
  CudaExecutor(std::shared_ptr<const Plan> plan, CudaOptions opt = {});
  ~CudaExecutor();
  CudaExecutor(const CudaExecutor&) = delete;
  CudaExecutor& operator=(const CudaExecutor&) = delete;

  // True when CUDA device `device` (CudaOptions::device) can run this build's kernels; otherwise `why`
  // says what is missing (no driver, no such device, no kernel image for its architecture, ...).
  static bool available(std::string* why = nullptr, int device = 0);

  const Plan& plan() const;
  const CudaOptions& options() const;

  // The model input, [1, 3, H, W] float32 in [0, 1], planar RGB (pinned host memory); write it before
  // invoke().
  float* input_host();
  // Upload the input, run the plan, download every output, synchronise.
  void invoke();
  // Output i (plan order) of the last invoke(), host memory, the plan tensor's physical layout.
  const float* output_host(size_t i) const;

  // Runs the plan on the device only (no copies) and synchronises: timing.
  void run_device();
  // Runs ops [begin, end) with plain launches, synchronising and checking after each (debugging and
  // op-by-op comparison with the CPU).
  void run_ops(int begin, int end);
  // Uploads the host input to the device input tensor (what invoke() does first) and synchronises.
  void upload_input();
  // A tensor's current device values, packed: NHWC maps as h x w x c (channel slices gathered),
  // others as numel floats. Synchronous.
  std::vector<float> download(int tensor) const;
  // The inverse of download(): sets an activation tensor's device values (debugging, op-by-op tests).
  void upload(int tensor, const std::vector<float>& packed);

  bool graph_active() const;
  const std::string& graph_error() const;  // why capture was not used (empty when it is)
  bool uses_cublas() const;
  std::string device_name() const;
  size_t device_bytes() const;  // arena + weights + constants

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fx
