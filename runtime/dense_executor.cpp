#include "runtime/dense_executor.h"

#include "runtime/error.h"
#include "runtime/util/clock.h"

namespace fx {

DenseExecutor::DenseExecutor(std::shared_ptr<const Plan> plan, std::shared_ptr<ThreadPool> pool,
                             std::shared_ptr<const OpRunner> runner)
    : DenseExecutor(std::make_shared<CpuDevice>(std::move(plan), BackendOptions{}, std::move(pool), std::move(runner))) {}

DenseExecutor::DenseExecutor(std::shared_ptr<const Device> device)
    : device_(std::move(device)), plan_(device_->plan()), backend_(device_->new_backend()) {
  const size_t arena = static_cast<size_t>(plan_->arena_bytes());
  arena_ = backend_->alloc((arena + 3) / 4);
  bases_.assign(plan_->tensors().size(), nullptr);
  for (size_t t = 0; t < plan_->tensors().size(); ++t) {
    const TensorInfo& ti = plan_->tensors()[t];
    if (!ti.constant && ti.alias_root < 0) bases_[t] = arena_ + ti.arena_offset / 4;
  }
  op_ms_.assign(static_cast<size_t>(plan_->op_count()), 0.0);
  try {
    const bool host = backend_->host_storage();
    auto staging = [&](int t) {
      if (host) return tensor_data(t);
      staging_floats_.push_back(static_cast<size_t>(plan_->tensor(t).numel));
      staging_.push_back(backend_->alloc_host(staging_floats_.back()));
      return staging_.back();
    };
    input_host_ = staging(plan_->input());
    for (int t : plan_->outputs()) outputs_host_.push_back(staging(t));
    // Backends that record launches: one plain run (warm-up; a failing kernel is named), then the
    // recording of the whole inference.
    recorded_ = backend_->capture([this] { run_ops(0, plan_->op_count()); }, &record_error_);
  } catch (...) {
    release();
    throw;
  }
}

void DenseExecutor::release() noexcept {
  for (float* p : staging_) backend_->release_host(p);
  staging_.clear();
  backend_->release(arena_);
  arena_ = nullptr;
}

DenseExecutor::~DenseExecutor() { release(); }

float* DenseExecutor::tensor_data(int tensor) {
  const TensorInfo& t = plan_->tensor(tensor);
  if (t.constant) return const_cast<float*>(plan_->constant_data(tensor));
  return storage_of(t, tensor, bases_);
}

MapView DenseExecutor::map_of(int tensor) { return map_at(plan_->tensor(tensor), tensor_data(tensor)); }

std::vector<float> DenseExecutor::read_tensor(int tensor) { return backend_->read(*plan_, bases_, tensor); }

void DenseExecutor::write_tensor(int tensor, const std::vector<float>& packed) {
  backend_->write(*plan_, bases_, tensor, packed);
}

void DenseExecutor::run_ops(int begin, int end) {
  if (begin < 0 || end > plan_->op_count() || begin > end) throw Error("DenseExecutor::run_ops: bad op range");
  for (int i = begin; i < end; ++i) {
    if (profiling_) {
      auto t0 = Clock::now();
      backend_->run(i, bases_, nullptr);
      backend_->synchronize();
      op_ms_[static_cast<size_t>(i)] = ms_since(t0);
    } else {
      backend_->run(i, bases_, nullptr);
    }
  }
}

void DenseExecutor::upload_input() {
  if (!staging_.empty()) backend_->upload(tensor_data(plan_->input()), input_host_, staging_floats_[0]);
}

void DenseExecutor::run_all() {
  if (recorded_ && !profiling_) backend_->replay();
  else run_ops(0, plan_->op_count());
}

void DenseExecutor::download_outputs() {
  if (staging_.empty()) return;
  for (size_t i = 0; i < plan_->outputs().size(); ++i)
    backend_->download(staging_[i + 1], tensor_data(plan_->outputs()[i]), staging_floats_[i + 1]);
}

void DenseExecutor::invoke() {
  upload_input();
  run_all();
  download_outputs();
}

}  // namespace fx
