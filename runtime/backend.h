// The seam between the executors and the hardware. The dense executor (dense_executor.h) and the
// sparse executor (sparse/sparse_executor.h) are written once against these two interfaces; a backend
// (CPU always, CUDA when built) implements them.
//
//   Device   a plan prepared on one device: every op's kernels set up from its description
//            (op_desc.h; weights packed or uploaded once). Shared by every executor and session of the
//            plan on that device (a server's sessions share one set of weights).
//   Backend  one executor's context on a device (CUDA: its own stream; CPU: its kernel scratch): the
//            storage of tensors and caches, the ops run on it, and the data movement of the feature
//            cache. Decisions (labels, spans, which values to keep) are made on the host by the
//            executors; a backend only moves and computes data where it lives.
//
// Storage pointers (float*) are the backend's: host memory for the CPU, device memory for CUDA. An
// executor never dereferences them; it computes views (MapView) on them by pointer arithmetic and hands
// them back to the backend. Host-side arrays passed in (spans, copy runs, comparison tables) are
// consumed before the call returns, except where a comment says otherwise.
//
// Adding a backend (Vulkan, Metal, ...): implement Device and Backend in runtime/<name>/, give every op
// kind a case in its op switch (or report it unsupported: Device::supports, the op then runs on the CPU
// with explicit transfers, see runtime/cuda/cuda_backend.cpp for the pattern) and every data primitive
// below, add its name to make_device (backend.cpp), and run tests/test_backend.cpp's host-side
// replay against it. docs/backends.md says more.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ops/cache/cache_ops.h"  // CopyRun, KeepCandidate
#include "ops/map_view.h"
#include "ops/workspace.h"
#include "runtime/plan.h"

namespace fx {

class ThreadPool;
class OpRunner;
class Backend;
class MotionSearch;
struct AlignerOptions;

// Storage of one invocation: a data pointer per tensor id (only storage owners, i.e. non-aliased,
// non-constant tensors, are read); aliases and constants are resolved by the backend.
using TensorBases = std::vector<float*>;

// Where activation `t` (described by `ti`) lives in `bases`: its own base, or, for an alias, its
// root's plus its channel offset.
inline float* storage_of(const TensorInfo& ti, int t, const TensorBases& bases) {
  return ti.alias_root >= 0 ? bases[static_cast<size_t>(ti.alias_root)] + ti.channel_offset
                            : bases[static_cast<size_t>(t)];
}
// An NHWC tensor as a view of `data`.
inline MapView map_at(const TensorInfo& ti, float* data) {
  return {data, static_cast<int>(ti.h()), static_cast<int>(ti.w()), static_cast<int>(ti.c()), ti.pixel_stride};
}

enum class Precision { FP32, FP16 };
const char* precision_name(Precision p);
Precision parse_precision(const std::string& s);  // "fp32" | "fp16"; throws fx::Error

struct BackendOptions {
  std::string kind = "cpu";  // "cpu" or "cuda"
  int device = 0;            // CUDA device index
  // CUDA: fp16 runs the GEMM convolutions on tensor cores (fp32 accumulation), not bit-exact.
  Precision precision = Precision::FP32;
  int threads = 0;  // CPU kernel threads (also the CUDA backend's CPU fallback); 0: every core
  // CUDA: ops of these kinds run on the CPU fallback even though the GPU has kernels for them (tests of
  // the fallback path, and a way around a suspected kernel bug).
  std::vector<OpKind> cpu_ops;
  bool use_graph = true;    // CUDA: dense inference captured once into a CUDA graph, replayed per frame
  bool debug_sync = false;  // CUDA: synchronise and check after every op (names a failing kernel)
  // CUDA: cuBLAS for the attention MatMuls where available. Off by default: the built-in GEMM computes
  // each output as the CPU kernel's fma chain, so fp32 results equal the CPU backend's bit for bit end
  // to end; cuBLAS is faster on large MatMuls and agrees to about 1e-7 relative.
  bool use_cublas = false;
};

class Device {
 public:
  virtual ~Device() = default;
  const std::shared_ptr<const Plan>& plan() const { return plan_; }
  const BackendOptions& options() const { return opt_; }
  // "cpu (avx512, 2 threads)", "cuda:0 (NVIDIA H100 80GB HBM3, fp32)".
  virtual std::string name() const = 0;
  // True when op i runs on this device's own kernels; false: on the CPU fallback (with transfers).
  virtual bool supports(int op) const = 0;
  // A new execution context for one executor (owned by the caller; the device must outlive it).
  virtual std::unique_ptr<Backend> new_backend() const = 0;
  // The thread pool of the CPU kernels (the CPU backend's, or the CUDA backend's fallback and host work).
  virtual ThreadPool& pool() const = 0;
  // A motion search on this device for width x height images (null: the planner's CPU aligner).
  virtual std::unique_ptr<MotionSearch> new_motion_search(int width, int height, const AlignerOptions& opt) const;

 protected:
  Device(std::shared_ptr<const Plan> plan, BackendOptions opt) : plan_(std::move(plan)), opt_(std::move(opt)) {}
  std::shared_ptr<const Plan> plan_;
  BackendOptions opt_;
};

// The device of `opt.kind` for `plan`. `pool` (optional) is shared with the caller's other work; by
// default the device makes its own of opt.threads. Throws fx::Error with one line when the kind is
// unknown, not built in ("this fluxshard was built without CUDA") or unusable ("no CUDA device: ...").
std::shared_ptr<Device> make_device(std::shared_ptr<const Plan> plan, const BackendOptions& opt,
                                    std::shared_ptr<ThreadPool> pool = nullptr);
// Whether this build has the backend of that name ("cpu" always).
bool backend_built(const std::string& kind);

class Backend {
 public:
  virtual ~Backend() = default;
  // Activation `t` of `plan` from `bases` into host memory, packed (NHWC maps h x w x c), and back.
  std::vector<float> read(const Plan& plan, const TensorBases& bases, int t);
  void write(const Plan& plan, const TensorBases& bases, int t, const std::vector<float>& packed);
  virtual const Device& device() const = 0;
  // True when storage is host memory (then a pointer from alloc() may be read by the host directly).
  virtual bool host_storage() const = 0;
  // The most an executor will ask of one call, so that no call allocates: positions of a span list or a
  // copy (and their runs), floats moved in place or gathered.
  struct Limits {
    int64_t positions = 0, floats = 0;
  };
  virtual void reserve(const Limits& limits) = 0;

  // ---- storage
  // `floats` zero-filled floats (at least 64-byte aligned); throws fx::Error when out of memory.
  virtual float* alloc(size_t floats) = 0;
  virtual void release(float* p) noexcept = 0;
  // Host memory the backend transfers from and to fastest (pinned on a GPU), zero-filled; for staging
  // inputs and outputs.
  virtual float* alloc_host(size_t floats) = 0;
  virtual void release_host(float* p) noexcept = 0;
  // Host <-> storage copies; both complete before the call returns.
  virtual void upload(float* dst, const float* host, size_t floats) = 0;
  virtual void download(float* host, const float* src, size_t floats) = 0;
  // An NHWC view packed as h x w x c floats, and back.
  virtual void download_map(const MapView& m, float* host) = 0;
  virtual void upload_map(const MapView& m, const float* host) = 0;
  // Waits for every queued operation (a no-op on the CPU).
  virtual void synchronize() = 0;

  // ---- ops
  // Runs op i of the device's plan on `bases`. For local ops `spans` restricts the output positions
  // (nullptr: the whole map). Never allocates.
  virtual void run(int op, const TensorBases& bases, const SpanList* spans) = 0;
  // Records the launches `body` makes (the ops of one dense inference) once, to be replayed by replay()
  // at a fraction of the launch cost (CUDA graphs). False when the backend does not record (the caller
  // then runs body each time); `why` says why not.
  virtual bool capture(const std::function<void()>& body, std::string* why) {
    if (why) *why = "not supported by this backend";
    return false;
  }
  virtual void replay() {}

  // ---- the feature cache's data movement (sparse executor)
  // dst := src for every position (same h, w, c).
  virtual void copy_map(const MapView& src, const MapView& dst) = 0;
  // The runs, from src to dst (different buffers).
  virtual void copy_runs(const MapView& src, const MapView& dst, const CopyRun* runs, size_t n) = 0;
  // The runs within one map, whose sources may be other runs' destinations: every source is read before
  // any destination is written. `floats`: the total the runs move (runs x c), for scratch sizing.
  virtual void move_in_place(const MapView& m, const CopyRun* runs, size_t n, int64_t floats) = 0;
  // The values at `spans` packed into `scratch` (storage from alloc(), spans.positions x m.c floats).
  virtual void gather(const MapView& m, SpanList spans, float* scratch) = 0;
  // Truncation: recomputed position k (the k-th of `spans` in `now`) keeps the value of its first
  // candidate table[k * ncand + c] whose `before` value is within eps of the new one in every channel
  // (bitwise equal when eps <= 0): that value is copied into `now` and choice[k] = c; else choice[k] =
  // -1. `before` has now's c (positions indexed y * w + x). table and choice are host arrays.
  virtual void keep_close(const MapView& now, SpanList spans, const MapView& before, const KeepCandidate* table,
                          int ncand, int8_t* choice) = 0;
  // Writes the image `rgb` (packed RGB24, `width` pixels a row, host memory) at `spans` of the 3-channel
  // map m as value / 255 (the plan input's float conversion).
  virtual void write_image(const MapView& m, const uint8_t* rgb, int width, SpanList spans) = 0;
  // planar (an NCHW tensor of m's shape) := m at the given positions (y * w + x, host array).
  virtual void scatter_planar(const MapView& m, const int64_t* positions, size_t n, float* planar) = 0;

  // ---- CPU only: what the head's column tail (sparse/column_tail.h) runs with; null elsewhere.
  virtual const OpRunner* host_ops() const { return nullptr; }
  virtual Workspace host_workspace() const { return {}; }
};

}  // namespace fx
