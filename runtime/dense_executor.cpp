#include "runtime/dense_executor.h"

#include <mimalloc.h>

#include <chrono>

#include "runtime/error.h"
#include "runtime/util/clock.h"

namespace fx {

WorkspaceBlocks::WorkspaceBlocks(size_t bytes_per_thread, int threads) : bytes_(bytes_per_thread) {
  for (int t = 0; t < threads; ++t) {
    auto* p = static_cast<float*>(mi_malloc_aligned(bytes_ ? bytes_ : 64, 64));
    if (!p) {
      for (float* q : blocks_) mi_free(q);
      throw Error("cannot allocate kernel scratch memory");
    }
    blocks_.push_back(p);
  }
}

WorkspaceBlocks::~WorkspaceBlocks() {
  for (float* p : blocks_) mi_free(p);
}

DenseExecutor::DenseExecutor(std::shared_ptr<const Plan> plan, std::shared_ptr<ThreadPool> pool,
                             std::shared_ptr<const OpRunner> runner)
    : plan_(std::move(plan)), pool_(std::move(pool)), runner_(std::move(runner)) {
  if (!runner_) runner_ = std::make_shared<OpRunner>(plan_);
  size_t arena = static_cast<size_t>(plan_->arena_bytes());
  arena_ = static_cast<uint8_t*>(mi_zalloc_aligned(arena ? arena : 64, 64));
  if (!arena_) throw Error("cannot allocate the " + std::to_string(arena) + "-byte activation arena");
  bases_.assign(plan_->tensors().size(), nullptr);
  for (size_t t = 0; t < plan_->tensors().size(); ++t) {
    const TensorInfo& ti = plan_->tensors()[t];
    if (!ti.constant && ti.alias_root < 0) bases_[t] = reinterpret_cast<float*>(arena_ + ti.arena_offset);
  }
  try {
    workspace_ = std::make_unique<WorkspaceBlocks>(runner_->workspace_bytes(), pool_->size());
  } catch (...) {
    mi_free(arena_);
    throw;
  }
  op_ms_.assign(static_cast<size_t>(plan_->op_count()), 0.0);
}

DenseExecutor::~DenseExecutor() { mi_free(arena_); }

void DenseExecutor::run_ops(int begin, int end) {
  Workspace ws = workspace_->get();
  for (int i = begin; i < end; ++i) {
    if (profiling_) {
      auto t0 = Clock::now();
      runner_->run(i, bases_, nullptr, *pool_, ws);
      op_ms_[static_cast<size_t>(i)] = ms_since(t0);
    } else {
      runner_->run(i, bases_, nullptr, *pool_, ws);
    }
  }
}

void DenseExecutor::invoke() { run_ops(0, plan_->op_count()); }

}  // namespace fx
