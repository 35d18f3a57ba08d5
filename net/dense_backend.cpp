#include "net/dense_backend.h"

#include <vector>

#include "runtime/error.h"
#include "runtime/io/letterbox.h"

#if defined(FLUXSHARD_HAVE_CUDA) && __has_include("runtime/cuda/cuda_executor.h")
#include "runtime/cuda/cuda_executor.h"
#define FLUXSHARD_NET_CUDA 1
#endif

namespace fx::net {

#ifdef FLUXSHARD_NET_CUDA
namespace {

// Dense CUDA inference (fp32: the CPU backend's bits except the attention MatMuls).
class CudaBackend final : public DenseBackend {
 public:
  explicit CudaBackend(std::shared_ptr<const Plan> plan) : plan_(plan), exec_(plan) {}
  void run(const uint8_t* rgb) override {
    rgb_to_planar_float(rgb, plan_->input_w(), plan_->input_h(), exec_.input_host());
    exec_.invoke();
  }
  const float* output(size_t i) override { return exec_.output_host(i); }
  const char* name() const override { return "cuda"; }

 private:
  std::shared_ptr<const Plan> plan_;
  CudaExecutor exec_;
};

}  // namespace
#endif

bool dense_backend_available(const std::string& name) {
#ifdef FLUXSHARD_NET_CUDA
  return name == "cuda";
#else
  (void)name;
  return false;
#endif
}

std::unique_ptr<DenseBackend> make_dense_backend(const std::string& name, std::shared_ptr<const Plan> plan) {
  if (name != "cuda") throw Error("unknown backend '" + name + "' (cpu or cuda)");
#ifdef FLUXSHARD_NET_CUDA
  std::string why;
  if (!CudaExecutor::available(&why)) throw Error("backend 'cuda' is not usable: " + why);
  return std::make_unique<CudaBackend>(std::move(plan));
#else
  (void)plan;
  throw Error("backend 'cuda' is not available: this fluxshard was built without CUDA");
#endif
}

}  // namespace fx::net
