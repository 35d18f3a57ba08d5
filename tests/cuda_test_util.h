// Helpers of the CUDA tests (test_cuda_ops.cpp, test_cuda_models.cpp). The tests compile in every
// build; without CUDA compiled in, or without a usable device, each GPU test case skips (FX_SKIP:
// "no CUDA device: <reason>"; CTest reports the [gpu] entries as Skipped) while the host-side checks
// of the CUDA index and arithmetic code still run.
#pragma once

#include <cstdlib>
#include <string>
#include <unistd.h>
#include <vector>

#include "op_harness.h"
#include "test_skip.h"

#if defined(FLUXSHARD_HAVE_CUDA)
#include <cuda_runtime_api.h>

#include "ops/cuda/check.h"
#include "ops/cuda/common.h"
#include "runtime/cuda/cuda_probe.h"
#endif

namespace fx::test {

// True when GPU tests can run; why: the reason when not. Probed once.
inline bool cuda_device(std::string* why) {
#if defined(FLUXSHARD_HAVE_CUDA)
  static const std::string reason = fx::cuda::probe_device(0);
  if (!reason.empty() && why) *why = reason;
  return reason.empty();
#else
  if (why) *why = "fluxshard was built without CUDA";
  return false;
#endif
}

}  // namespace fx::test

#define FX_REQUIRE_CUDA_DEVICE()                                                    \
  do {                                                                              \
    std::string fx_why_;                                                            \
    if (!::fx::test::cuda_device(&fx_why_)) FX_SKIP("no CUDA device: " << fx_why_); \
  } while (0)

#if defined(FLUXSHARD_HAVE_CUDA)
namespace fx::test {

// A device copy of a Guarded host buffer, guards included, so that a kernel writing outside its
// buffer changes the guard values that come back.
class DeviceMirror {
 public:
  explicit DeviceMirror(const Guarded& g) : n_(g.size() + 2 * Guarded::kGuard), mem_(n_) {
    CUDA_CHECK(cudaMemcpy(mem_.get(), g.data() - Guarded::kGuard, n_ * sizeof(float), cudaMemcpyHostToDevice));
  }
  float* data() const { return mem_.get() + Guarded::kGuard; }  // corresponds to g.data()
  void download(Guarded& g) const {
    CUDA_CHECK(cudaMemcpy(g.data() - Guarded::kGuard, mem_.get(), n_ * sizeof(float), cudaMemcpyDeviceToHost));
  }

 private:
  size_t n_;
  fx::cuda::DeviceArray<float> mem_;
};

// A TestMap's device twin: same layout, same guards.
struct DeviceMap {
  DeviceMirror mirror;
  int h, w, c, extra, first;
  explicit DeviceMap(const TestMap& m) : mirror(m.buf), h(m.h), w(m.w), c(m.c), extra(m.extra), first(m.first) {}
  MapView view() const { return {mirror.data() + first, h, w, c, c + extra}; }
  void download(TestMap& m) const { mirror.download(m.buf); }
};

// A span list in device memory as a PosList.
static_assert(sizeof(Span) == 3 * sizeof(int), "Span is uploaded as int triples");
class DevicePositions {
 public:
  explicit DevicePositions(const std::vector<Span>& spans) {
    std::vector<int64_t> starts(spans.size() + 1);
    const int64_t n = fx::cuda::span_starts(spans.data(), static_cast<int>(spans.size()), starts.data());
    if (!spans.empty()) spans_.upload(reinterpret_cast<const int*>(spans.data()), spans.size() * 3);
    starts_.upload(starts.data(), starts.size());
    pos_.spans = reinterpret_cast<const Span*>(spans_.get());
    pos_.starts = starts_.get();
    pos_.count = static_cast<int>(spans.size());
    pos_.positions = n;
  }
  const fx::cuda::PosList& get() const { return pos_; }

 private:
  fx::cuda::DeviceArray<int> spans_;
  fx::cuda::DeviceArray<int64_t> starts_;
  fx::cuda::PosList pos_;
};

// Device copy of a host float vector.
inline fx::cuda::DeviceArray<float> to_device(const std::vector<float>& v) {
  fx::cuda::DeviceArray<float> d;
  d.upload(v.data(), v.size());
  return d;
}
inline std::vector<float> to_host(const fx::cuda::DeviceArray<float>& d) {
  std::vector<float> v(d.size());
  if (!v.empty()) CUDA_CHECK(cudaMemcpy(v.data(), d.get(), d.bytes(), cudaMemcpyDeviceToHost));
  return v;
}

}  // namespace fx::test
#endif
