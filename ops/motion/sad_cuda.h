// The motion search of runtime/motion/aligner.h on the GPU: one thread block per B x B block, the
// decision logic of ops/motion/motion_search_core.h (shared with the host tests), SADs computed by
// warps (exact integer sums) over the current block and the reference window staged in shared memory
// (global memory when the window does not fit). Gives the same vectors, costs and flags as
// MotionAligner::estimate for the same inputs.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <vector>

#include "ops/cuda/check.h"
#include "runtime/motion/aligner.h"

namespace fx::cuda {

class MotionSearchCuda {
 public:
  // Throws fx::Error exactly where MotionAligner(width, height, opt) does.
  MotionSearchCuda(int width, int height, AlignerOptions opt = {});
  ~MotionSearchCuda();
  MotionSearchCuda(const MotionSearchCuda&) = delete;
  MotionSearchCuda& operator=(const MotionSearchCuda&) = delete;

  int width() const { return aligner_.width(); }
  int height() const { return aligner_.height(); }
  const AlignerOptions& options() const { return aligner_.options(); }

  // MotionAligner::estimate's inputs and outputs (host memory): uploads the two images, searches,
  // downloads the field and synchronises.
  void estimate(const uint8_t* cur, const uint8_t* ref, const MotionField* prev, const std::vector<CodecHint>& hints,
                MotionField& out);

  // Benchmarks: the search alone on images already in device memory (device_cur() / device_ref()
  // hold width * height * 3 bytes each), prev / hints as uploaded by the last estimate() (none before).
  uint8_t* device_cur() const { return cur_.get(); }
  uint8_t* device_ref() const { return ref_.get(); }
  void search_only(bool with_prev, cudaStream_t stream);
  cudaStream_t stream() const { return stream_; }

 private:
  MotionAligner aligner_;  // the validation, the job's thresholds, the seeds' and results' host forms
  MotionJob job_;          // sizes and thresholds; search_only() adds the device pointers
  size_t smem_bytes_ = 0;
  bool stage_cur_ = true, stage_ref_ = false;
  cudaStream_t stream_ = nullptr;
  DeviceArray<uint8_t> cur_, ref_, hint_count_;
  DeviceArray<int16_t> prev_, hints_;
  bool have_hints_ = false;
  DeviceArray<uint8_t> results_;  // MotionResult per block
  std::vector<uint8_t> host_results_;
};

// One-shot form of MotionSearchCuda::estimate with MotionAligner's inputs.
void estimate_motion_cuda(int width, int height, const AlignerOptions& opt, const uint8_t* cur, const uint8_t* ref,
                          const MotionField* prev, const std::vector<CodecHint>& hints, MotionField& out);

}  // namespace fx::cuda
