// The CPU backend (runtime/backend.h): storage in host memory (mimalloc, 64-byte aligned), the ops on
// the OpRunner's kernels (AVX-512 / AVX2 / portable, chosen at run time) and the cache's data movement
// as plain copies, all on one ThreadPool. The reference every other backend is checked against.
#pragma once

#include <memory>
#include <vector>

#include "ops/thread_pool.h"
#include "runtime/backend.h"
#include "runtime/op_runner.h"

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

class CpuDevice final : public Device {
 public:
  // `runner` may be shared with other devices of the same plan (one packing of the weights); by
  // default one is prepared here.
  CpuDevice(std::shared_ptr<const Plan> plan, BackendOptions opt, std::shared_ptr<ThreadPool> pool,
            std::shared_ptr<const OpRunner> runner = nullptr);
  std::string name() const override;
  bool supports(int) const override { return true; }
  std::unique_ptr<Backend> new_backend() const override;
  ThreadPool& pool() const override { return *pool_; }
  const std::shared_ptr<ThreadPool>& shared_pool() const { return pool_; }
  const std::shared_ptr<const OpRunner>& runner() const { return runner_; }

 private:
  std::shared_ptr<ThreadPool> pool_;
  std::shared_ptr<const OpRunner> runner_;
};

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(const CpuDevice& device);
  ~CpuBackend() override;

  const Device& device() const override { return device_; }
  bool host_storage() const override { return true; }
  void reserve(const Limits& limits) override;

  float* alloc(size_t floats) override;
  void release(float* p) noexcept override;
  float* alloc_host(size_t floats) override { return alloc(floats); }
  void release_host(float* p) noexcept override { release(p); }
  void upload(float* dst, const float* host, size_t floats) override;
  void download(float* host, const float* src, size_t floats) override;
  void download_map(const MapView& m, float* host) override;
  void upload_map(const MapView& m, const float* host) override;
  void synchronize() override {}

  void run(int op, const TensorBases& bases, const SpanList* spans) override;

  void copy_map(const MapView& src, const MapView& dst) override;
  void copy_runs(const MapView& src, const MapView& dst, const CopyRun* runs, size_t n) override;
  void move_in_place(const MapView& m, const CopyRun* runs, size_t n, int64_t floats) override;
  void gather(const MapView& m, SpanList spans, float* scratch) override;
  void keep_close(const MapView& now, SpanList spans, const MapView& before, const KeepCandidate* table, int ncand,
                  int8_t* choice) override;
  void write_image(const MapView& m, const uint8_t* rgb, int width, SpanList spans) override;
  void scatter_planar(const MapView& m, const int64_t* positions, size_t n, float* planar) override;

  const OpRunner* host_ops() const override { return device_.runner().get(); }
  Workspace host_workspace() const override { return workspace_.get(); }

 private:
  const CpuDevice& device_;
  ThreadPool& pool_;
  WorkspaceBlocks workspace_;
  std::vector<float> scratch_;      // move_in_place: the sources, gathered before any write
  std::vector<size_t> run_offset_;  // move_in_place: each run's first float in scratch_
};

}  // namespace fx
