// Dense execution of a plan on the CPU: init (load) -> prepare (constructor: the OpRunner checks and
// packs every op; the arena and per-thread scratch are allocated) -> invoke (runs the ops in plan
// order over the whole maps; never allocates).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ops/map_view.h"
#include "ops/thread_pool.h"
#include "runtime/op_runner.h"
#include "runtime/plan.h"

namespace fx {

// Per-thread kernel scratch, 64-byte aligned, sized for an OpRunner.
class WorkspaceBlocks {
 public:
  WorkspaceBlocks(size_t bytes_per_thread, int threads);
  ~WorkspaceBlocks();
  WorkspaceBlocks(const WorkspaceBlocks&) = delete;
  WorkspaceBlocks& operator=(const WorkspaceBlocks&) = delete;
  Workspace get() const { return {blocks_.data(), bytes_}; }

 private:
  std::vector<float*> blocks_;
  size_t bytes_;
};

class DenseExecutor {
 public:
  // `runner` may be shared with other executors of the same plan; by default one is prepared here.
  DenseExecutor(std::shared_ptr<const Plan> plan, std::shared_ptr<ThreadPool> pool,
                std::shared_ptr<const OpRunner> runner = nullptr);
  ~DenseExecutor();
  DenseExecutor(const DenseExecutor&) = delete;
  DenseExecutor& operator=(const DenseExecutor&) = delete;

  const Plan& plan() const { return *plan_; }
  ThreadPool& pool() { return *pool_; }
  const std::shared_ptr<const OpRunner>& runner() const { return runner_; }

  // The model input, [1, 3, H, W] float32 in [0, 1], planar RGB; write it before invoke().
  float* input_data() { return tensor_data(plan_->input()); }
  void invoke();
  // Runs ops [begin, end) only: the preemptible slices of a background refresh.
  void run_ops(int begin, int end);

  // Activation or constant data of a plan tensor (physical layout; an alias points into its root).
  float* tensor_data(int tensor) { return runner_->data(tensor, bases_); }
  const float* output_data(size_t i) { return tensor_data(plan_->outputs().at(i)); }
  // An NHWC tensor as a map view.
  MapView map_of(int tensor) { return runner_->map(tensor, bases_); }

  // Time spent per op in the last invoke (ms), when profiling is on.
  void set_profiling(bool on) { profiling_ = on; }
  const std::vector<double>& op_times_ms() const { return op_ms_; }

 private:
  std::shared_ptr<const Plan> plan_;
  std::shared_ptr<ThreadPool> pool_;
  std::shared_ptr<const OpRunner> runner_;
  uint8_t* arena_ = nullptr;
  TensorBases bases_;
  std::unique_ptr<WorkspaceBlocks> workspace_;
  bool profiling_ = false;
  std::vector<double> op_ms_;
};

}  // namespace fx
