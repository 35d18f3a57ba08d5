#include "runtime/backend.h"

#include "runtime/cpu/cpu_backend.h"
#include "runtime/error.h"
#include "runtime/motion/aligner.h"

namespace fx {

#if defined(FLUXSHARD_HAVE_CUDA)
// runtime/cuda/cuda_backend.cpp (the CUDA library, linked with the runtime when CUDA is built).
std::shared_ptr<Device> make_cuda_device(std::shared_ptr<const Plan> plan, const BackendOptions& opt,
                                         std::shared_ptr<ThreadPool> pool);
#endif

const char* precision_name(Precision p) { return p == Precision::FP16 ? "fp16" : "fp32"; }

Precision parse_precision(const std::string& s) {
  if (s == "fp32") return Precision::FP32;
  if (s == "fp16") return Precision::FP16;
  throw Error("unknown precision '" + s + "' (fp32 or fp16)");
}

std::unique_ptr<MotionSearch> Device::new_motion_search(int, int, const AlignerOptions&) const { return nullptr; }

std::vector<float> Backend::read(const Plan& plan, const TensorBases& bases, int t) {
  const TensorInfo& ti = plan.tensor(t);
  std::vector<float> out(static_cast<size_t>(ti.numel));
  if (ti.constant) out.assign(plan.constant_data(t), plan.constant_data(t) + ti.numel);
  else if (ti.layout == PlanLayout::NHWC && ti.shape.size() == 4) download_map(map_at(ti, storage_of(ti, t, bases)), out.data());
  else download(out.data(), storage_of(ti, t, bases), out.size());
  return out;
}

void Backend::write(const Plan& plan, const TensorBases& bases, int t, const std::vector<float>& packed) {
  const TensorInfo& ti = plan.tensor(t);
  if (ti.constant) throw Error("'" + ti.name + "' is a constant, not storage");
  if (static_cast<int64_t>(packed.size()) != ti.numel)
    throw Error("'" + ti.name + "' has " + std::to_string(ti.numel) + " elements, not " + std::to_string(packed.size()));
  if (ti.layout == PlanLayout::NHWC && ti.shape.size() == 4) upload_map(map_at(ti, storage_of(ti, t, bases)), packed.data());
  else upload(storage_of(ti, t, bases), packed.data(), packed.size());
}

bool backend_built(const std::string& kind) {
#if defined(FLUXSHARD_HAVE_CUDA)
  if (kind == "cuda") return true;
#endif
  return kind == "cpu";
}

std::shared_ptr<Device> make_device(std::shared_ptr<const Plan> plan, const BackendOptions& opt,
                                    std::shared_ptr<ThreadPool> pool) {
  if (opt.kind == "cpu") {
    if (opt.precision != Precision::FP32) throw Error("precision fp16 needs the cuda backend");
    return std::make_shared<CpuDevice>(std::move(plan), opt, std::move(pool));
  }
  if (opt.kind == "cuda") {
#if defined(FLUXSHARD_HAVE_CUDA)
    return make_cuda_device(std::move(plan), opt, std::move(pool));
#else
    throw Error("backend 'cuda' is not available: this fluxshard was built without CUDA");
#endif
  }
  throw Error("unknown backend '" + opt.kind + "' (cpu or cuda)");
}

}  // namespace fx
