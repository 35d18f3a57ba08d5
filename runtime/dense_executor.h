// Dense execution of a plan on any backend (runtime/backend.h): init (load) -> prepare (constructor:
// the device's prepared ops; one activation arena in the backend's storage; on backends that record
// launches, one warm-up run and the capture of the whole inference, e.g. a CUDA graph) -> invoke (input
// upload where storage is not host memory, every op in plan order or the recorded replay, output
// download; never allocates).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ops/map_view.h"
#include "ops/thread_pool.h"
#include "runtime/backend.h"
#include "runtime/cpu/cpu_backend.h"
#include "runtime/op_runner.h"
#include "runtime/plan.h"

namespace fx {

class DenseExecutor {
 public:
  explicit DenseExecutor(std::shared_ptr<const Device> device);
  // On the CPU backend (`runner` may be shared with other executors of the same plan).
  DenseExecutor(std::shared_ptr<const Plan> plan, std::shared_ptr<ThreadPool> pool,
                std::shared_ptr<const OpRunner> runner = nullptr);
  ~DenseExecutor();
  DenseExecutor(const DenseExecutor&) = delete;
  DenseExecutor& operator=(const DenseExecutor&) = delete;

  const Plan& plan() const { return *plan_; }
  const Device& device() const { return *device_; }
  Backend& backend() { return *backend_; }
  ThreadPool& pool() { return device_->pool(); }

  // The model input, [1, 3, H, W] float32 in [0, 1], planar RGB, in host memory; write it before
  // invoke().
  float* input_data() { return input_host_; }
  // Upload the input, run the plan, download the outputs.
  void invoke();
  // Runs ops [begin, end) on the current storage, no transfers (the preemptible slices of a background
  // refresh, op-by-op comparisons, timing).
  void run_ops(int begin, int end);
  // The parts of invoke(): the input to storage; every op (the recorded replay where there is one);
  // the outputs to host memory.
  void upload_input();
  void run_all();
  void download_outputs();

  // Output i (plan order) of the last invoke(), host memory, the plan tensor's physical layout.
  const float* output_data(size_t i) { return outputs_host_.at(i); }
  // Storage of a plan tensor (physical layout; an alias points into its root): host memory only on
  // the CPU backend.
  float* tensor_data(int tensor);
  // An NHWC tensor as a view of storage.
  MapView map_of(int tensor);
  // A tensor's values in host memory, packed (NHWC maps h x w x c), and back (activations only).
  std::vector<float> read_tensor(int tensor);
  void write_tensor(int tensor, const std::vector<float>& packed);

  // Whether invoke() replays a recorded inference (a CUDA graph); why not, when it does not.
  bool recorded() const { return recorded_; }
  const std::string& record_error() const { return record_error_; }

  // Time spent per op in the last run_ops / invoke (ms), when profiling is on (the backend is
  // synchronised after each op, and the recorded replay is not used).
  void set_profiling(bool on) { profiling_ = on; }
  const std::vector<double>& op_times_ms() const { return op_ms_; }

 private:
  void release() noexcept;

  std::shared_ptr<const Device> device_;
  std::shared_ptr<const Plan> plan_;
  std::unique_ptr<Backend> backend_;
  float* arena_ = nullptr;
  TensorBases bases_;
  // Host storage: the input and output tensors themselves; otherwise staging from alloc_host().
  float* input_host_ = nullptr;
  std::vector<const float*> outputs_host_;
  std::vector<float*> staging_;  // device backends: the input's, then each output's
  std::vector<size_t> staging_floats_;
  bool recorded_ = false;
  std::string record_error_;
  bool profiling_ = false;
  std::vector<double> op_ms_;
};

}  // namespace fx
