#include "runtime/cuda/cuda_backend.h"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstring>

#include "ops/cache/cache_cuda.h"
#include "ops/conv/conv_cuda.h"
#include "ops/cuda/check.h"
#include "ops/cuda/common.h"
#include "ops/elementwise/elementwise_cuda.h"
#include "ops/matmul/matmul_cuda.h"
#include "ops/motion/sad_cuda.h"
#include "ops/pool/maxpool_cuda.h"
#include "ops/resize/resize_cuda.h"
#include "ops/shape/shape_ops_cuda.h"
#include "ops/softmax/softmax_cuda.h"
#include "runtime/cpu/cpu_backend.h"
#include "runtime/cuda/cuda_probe.h"
#include "runtime/error.h"

namespace fx {

using namespace fx::cuda;

std::shared_ptr<Device> make_cuda_device(std::shared_ptr<const Plan> plan, const BackendOptions& opt,
                                         std::shared_ptr<ThreadPool> pool) {
  return std::make_shared<CudaDevice>(std::move(plan), opt, std::move(pool));
}

// ---------------------------------------------------------------------------------------------------
// The device: kernels prepared once per plan.

struct CudaDevice::Kernels {
  std::vector<std::unique_ptr<ConvCuda>> conv;            // per op (Conv on the GPU)
  std::vector<std::unique_ptr<ConvTransposeCuda>> conv_t;  // per op (ConvTranspose on the GPU)
  std::unique_ptr<MatmulCuda> matmul;
  DeviceArray<float> constants;
  std::vector<float*> const_ptr;  // per tensor: its device copy (null: not read by a GPU op)
  std::vector<char> on_cpu;       // per op: runs on the CPU fallback
  std::shared_ptr<const OpRunner> fallback;  // the CPU kernels of those ops (null: none)
  size_t bytes = 0;
};

CudaDevice::CudaDevice(std::shared_ptr<const Plan> plan, BackendOptions opt, std::shared_ptr<ThreadPool> pool)
    : Device(std::move(plan), std::move(opt)), pool_(std::move(pool)), kernels_(std::make_unique<Kernels>()) {
  const std::string why = probe_device(opt_.device);
  if (!why.empty()) throw Error("no CUDA device: " + why);
  if (!pool_) pool_ = std::make_shared<ThreadPool>(opt_.threads);
  CUDA_CHECK(cudaSetDevice(opt_.device));
  const Plan& P = *plan_;
  Kernels& K = *kernels_;
  const int nops = P.op_count();
  K.conv.resize(static_cast<size_t>(nops));
  K.conv_t.resize(static_cast<size_t>(nops));
  K.on_cpu.assign(static_cast<size_t>(nops), 0);
  std::vector<int> cpu_ops;
  for (int i = 0; i < nops; ++i) {
    const OpDesc& op = P.op(i);
    const bool forced = std::find(opt_.cpu_ops.begin(), opt_.cpu_ops.end(), op.kind) != opt_.cpu_ops.end();
    if (forced) {
      K.on_cpu[static_cast<size_t>(i)] = 1;
      cpu_ops.push_back(i);
      continue;
    }
    const float* bias = op.in.size() > 2 && op.in[2] >= 0 ? P.constant_data(op.in[2]) : nullptr;
    if (op.kind == OpKind::Conv) {
      K.conv[static_cast<size_t>(i)] = std::make_unique<ConvCuda>(op.conv, P.constant_data(op.in[1]), bias,
                                                                  opt_.precision == Precision::FP16);
      K.bytes += K.conv[static_cast<size_t>(i)]->device_bytes();
    } else if (op.kind == OpKind::ConvTranspose) {
      K.conv_t[static_cast<size_t>(i)] = std::make_unique<ConvTransposeCuda>(op.conv_t, P.constant_data(op.in[1]), bias);
      K.bytes += K.conv_t[static_cast<size_t>(i)]->device_bytes();
    } else if (op.kind == OpKind::MatMul && !K.matmul) {
      K.matmul = std::make_unique<MatmulCuda>(opt_.use_cublas);
    }
  }
  // Constants read by GPU ops other than the convolutions (which hold packed copies), each at a 256-byte
  // boundary.
  const size_t nt = P.tensors().size();
  std::vector<size_t> offset(nt, SIZE_MAX);
  size_t total = 0;
  for (int i = 0; i < nops; ++i) {
    const OpDesc& op = P.op(i);
    if (K.on_cpu[static_cast<size_t>(i)] || op.kind == OpKind::Conv || op.kind == OpKind::ConvTranspose) continue;
    for (int t : op.in)
      if (t >= 0 && P.tensor(t).constant && offset[static_cast<size_t>(t)] == SIZE_MAX) {
        offset[static_cast<size_t>(t)] = total;
        total += (static_cast<size_t>(P.tensor(t).numel) + 63) / 64 * 64;
      }
  }
  K.const_ptr.assign(nt, nullptr);
  if (total > 0) {
    std::vector<float> host(total, 0.0f);
    for (size_t t = 0; t < nt; ++t)
      if (offset[t] != SIZE_MAX)
        std::memcpy(host.data() + offset[t], P.constant_data(static_cast<int>(t)),
                    static_cast<size_t>(P.tensors()[t].numel) * sizeof(float));
    K.constants.upload(host.data(), host.size());
    K.bytes += K.constants.bytes();
    for (size_t t = 0; t < nt; ++t)
      if (offset[t] != SIZE_MAX) K.const_ptr[t] = K.constants.get() + offset[t];
  }
  if (!cpu_ops.empty()) K.fallback = std::make_shared<OpRunner>(plan_, P.tensors(), cpu_ops);
  CUDA_CHECK(cudaDeviceSynchronize());
}

CudaDevice::~CudaDevice() = default;

std::string CudaDevice::name() const {
  return "cuda:" + std::to_string(opt_.device) + " (" + describe_device(opt_.device) + ", " +
         precision_name(opt_.precision) + ")";
}

bool CudaDevice::supports(int op) const { return !kernels_->on_cpu.at(static_cast<size_t>(op)); }
bool CudaDevice::uses_cublas() const { return kernels_->matmul && kernels_->matmul->uses_cublas(); }
size_t CudaDevice::weight_bytes() const { return kernels_->bytes; }

bool CudaDevice::available(std::string* why, int device) {
  const std::string w = probe_device(device);
  if (!w.empty() && why) *why = w;
  return w.empty();
}

// ---------------------------------------------------------------------------------------------------
// The backend: one stream, and staging for what the host hands over per call.

namespace {

// Pinned host memory and a device buffer of the same size, used as a ring: each put() copies host data
// into the next free part of the pinned buffer and queues its upload on the stream; when the ring is
// full, the stream is drained first (every queued upload has landed), so no staged byte is overwritten
// while still in flight.
class StagingRing {
 public:
  ~StagingRing() {
    if (host_) cudaFreeHost(host_);
  }
  void reserve(size_t bytes) {
    if (bytes <= cap_) return;
    if (host_) cudaFreeHost(host_);
    host_ = nullptr;
    void* p = nullptr;
    CUDA_CHECK(cudaHostAlloc(&p, bytes, cudaHostAllocDefault));
    host_ = static_cast<uint8_t*>(p);
    dev_.reset(bytes);
    cap_ = bytes;
    used_ = 0;
  }
  template <typename T>
  T* put(const T* data, size_t n, cudaStream_t stream) {
    const size_t bytes = n * sizeof(T);
    if (bytes == 0) return nullptr;
    if (bytes > cap_) throw Error("internal: " + std::to_string(bytes) + " bytes exceed the CUDA staging ring");
    size_t at = (used_ + 255) / 256 * 256;
    if (at + bytes > cap_) {
      CUDA_CHECK(cudaStreamSynchronize(stream));
      at = 0;
    }
    std::memcpy(host_ + at, data, bytes);
    CUDA_CHECK(cudaMemcpyAsync(dev_.get() + at, host_ + at, bytes, cudaMemcpyHostToDevice, stream));
    used_ = at + bytes;
    return reinterpret_cast<T*>(dev_.get() + at);
  }

 private:
  uint8_t* host_ = nullptr;
  DeviceArray<uint8_t> dev_;
  size_t cap_ = 0, used_ = 0;
};

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(const CudaDevice& dev);
  ~CudaBackend() override;

  const Device& device() const override { return dev_; }
  bool host_storage() const override { return false; }
  void reserve(const Limits& limits) override;

  float* alloc(size_t floats) override;
  void release(float* p) noexcept override {
    if (p) cudaFree(p);
  }
  float* alloc_host(size_t floats) override;
  void release_host(float* p) noexcept override {
    if (p) cudaFreeHost(p);
  }
  void upload(float* dst, const float* host, size_t floats) override;
  void download(float* host, const float* src, size_t floats) override;
  void download_map(const MapView& m, float* host) override;
  void upload_map(const MapView& m, const float* host) override;
  void synchronize() override;

  void run(int op, const TensorBases& bases, const SpanList* spans) override;
  bool capture(const std::function<void()>& body, std::string* why) override;
  void replay() override;

  void copy_map(const MapView& src, const MapView& dst) override;
  void copy_runs(const MapView& src, const MapView& dst, const CopyRun* runs, size_t n) override;
  void move_in_place(const MapView& m, const CopyRun* runs, size_t n, int64_t floats) override;
  void gather(const MapView& m, SpanList spans, float* scratch) override;
  void keep_close(const MapView& now, SpanList spans, const MapView& before, const KeepCandidate* table, int ncand,
                  int8_t* choice) override;
  void write_image(const MapView& m, const uint8_t* rgb, int width, SpanList spans) override;
  void scatter_planar(const MapView& m, const int64_t* positions, size_t n, float* planar) override;

 private:
  void launch(const OpDesc& op, const TensorBases& bases, const SpanList* spans);
  void run_on_cpu(const OpDesc& op, const TensorBases& bases, const SpanList* spans);
  PosList positions(const SpanList& spans);
  // Uploads a run list and its prefix sums; returns the device runs (starts in *starts).
  const CopyRun* stage_runs(const CopyRun* runs, size_t n, const int64_t** starts, int64_t* positions);
  void check(const OpDesc& op);

  const CudaDevice& dev_;
  const Plan& plan_;
  const CudaDevice::Kernels& k_;
  cudaStream_t stream_ = nullptr;
  StagingRing ring_;
  std::vector<int64_t> starts_;  // host prefix sums of the list being staged
  DeviceArray<float> scratch_;   // move_in_place
  DeviceArray<int8_t> choice_dev_;
  int8_t* choice_host_ = nullptr;  // pinned
  size_t choice_cap_ = 0;
  size_t image_bytes_ = 0;
  bool check_each_ = false;  // synchronise and check after every op (warm-up run, debug_sync)
  cudaGraphExec_t graph_ = nullptr;
  // CPU fallback: host copies of the storage roots its ops touch, bound as a CPU executor's storage.
  std::vector<std::vector<float>> mirror_;  // per tensor id (roots only)
  TensorBases host_bases_;
  std::unique_ptr<WorkspaceBlocks> fallback_ws_;
};

CudaBackend::CudaBackend(const CudaDevice& dev) : dev_(dev), plan_(*dev.plan()), k_(dev.kernels()) {
  CUDA_CHECK(cudaSetDevice(dev_.options().device));
  CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  image_bytes_ = static_cast<size_t>(plan_.input_w()) * plan_.input_h() * 3;
  // Dense runs stage nothing; a sparse executor reserves the rest (reserve()).
  ring_.reserve(std::max<size_t>(1 << 20, 2 * image_bytes_ + 4096));
  if (k_.fallback) {
    const size_t nt = plan_.tensors().size();
    mirror_.resize(nt);
    host_bases_.assign(nt, nullptr);
    for (int i = 0; i < plan_.op_count(); ++i) {
      if (dev_.supports(i)) continue;
      const OpDesc& op = plan_.op(i);
      for (const std::vector<int>* ts : {&op.in, &op.out})
        for (int t : *ts) {
          if (t < 0 || plan_.tensor(t).constant) continue;
          const int r = plan_.tensor(t).root(t);
          if (mirror_[static_cast<size_t>(r)].empty())
            mirror_[static_cast<size_t>(r)].assign(static_cast<size_t>(plan_.tensor(r).numel), 0.f);
          host_bases_[static_cast<size_t>(r)] = mirror_[static_cast<size_t>(r)].data();
        }
    }
    fallback_ws_ = std::make_unique<WorkspaceBlocks>(k_.fallback->workspace_bytes(), dev_.pool().size());
  }
}

CudaBackend::~CudaBackend() {
  if (graph_) cudaGraphExecDestroy(graph_);
  if (choice_host_) cudaFreeHost(choice_host_);
  if (stream_) cudaStreamDestroy(stream_);
}

void CudaBackend::reserve(const Limits& limits) {
  const size_t n = static_cast<size_t>(std::max<int64_t>(limits.positions, 1));
  // The largest single staging: a comparison table of three candidates per position, a span or run list
  // with its prefix sums, or the reference image; twice that so consecutive calls rarely wait.
  const size_t one = std::max({n * 3 * sizeof(KeepCandidate), n * (sizeof(CopyRun) + 8) + 8, n * (sizeof(Span) + 8) + 8,
                               image_bytes_, n * sizeof(int64_t)});
  ring_.reserve(2 * one + 4096);
  starts_.reserve(n + 1);
  if (static_cast<int64_t>(scratch_.size()) < limits.floats) scratch_.reset(static_cast<size_t>(limits.floats));
  if (choice_cap_ < n) {
    if (choice_host_) cudaFreeHost(choice_host_);
    void* p = nullptr;
    CUDA_CHECK(cudaHostAlloc(&p, n, cudaHostAllocDefault));
    choice_host_ = static_cast<int8_t*>(p);
    choice_dev_.reset(n);
    choice_cap_ = n;
  }
}

float* CudaBackend::alloc(size_t floats) {
  CUDA_CHECK(cudaSetDevice(dev_.options().device));
  void* p = nullptr;
  const size_t bytes = std::max<size_t>(floats, 1) * sizeof(float);
  const cudaError_t e = cudaMalloc(&p, bytes);
  if (e != cudaSuccess) {
    cudaGetLastError();
    throw Error("out of GPU memory allocating " + std::to_string(bytes) + " bytes (" + cudaGetErrorString(e) + ")");
  }
  CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, stream_));
  CUDA_CHECK(cudaStreamSynchronize(stream_));
  return static_cast<float*>(p);
}

float* CudaBackend::alloc_host(size_t floats) {
  void* p = nullptr;
  const size_t bytes = std::max<size_t>(floats, 1) * sizeof(float);
  CUDA_CHECK(cudaHostAlloc(&p, bytes, cudaHostAllocDefault));
  std::memset(p, 0, bytes);
  return static_cast<float*>(p);
}

void CudaBackend::upload(float* dst, const float* host, size_t floats) {
  if (!floats) return;
  CUDA_CHECK(cudaMemcpyAsync(dst, host, floats * sizeof(float), cudaMemcpyHostToDevice, stream_));
  CUDA_CHECK(cudaStreamSynchronize(stream_));
}

void CudaBackend::download(float* host, const float* src, size_t floats) {
  if (!floats) return;
  CUDA_CHECK(cudaMemcpyAsync(host, src, floats * sizeof(float), cudaMemcpyDeviceToHost, stream_));
  CUDA_CHECK(cudaStreamSynchronize(stream_));
}

void CudaBackend::download_map(const MapView& m, float* host) {
  const size_t pixels = static_cast<size_t>(m.h) * m.w;
  if (!pixels || !m.c) return;
  CUDA_CHECK(cudaMemcpy2DAsync(host, static_cast<size_t>(m.c) * sizeof(float), m.data,
                               static_cast<size_t>(m.pixel_stride) * sizeof(float), static_cast<size_t>(m.c) * sizeof(float),
                               pixels, cudaMemcpyDeviceToHost, stream_));
  CUDA_CHECK(cudaStreamSynchronize(stream_));
}

void CudaBackend::upload_map(const MapView& m, const float* host) {
  const size_t pixels = static_cast<size_t>(m.h) * m.w;
  if (!pixels || !m.c) return;
  CUDA_CHECK(cudaMemcpy2DAsync(m.data, static_cast<size_t>(m.pixel_stride) * sizeof(float), host,
                               static_cast<size_t>(m.c) * sizeof(float), static_cast<size_t>(m.c) * sizeof(float),
                               pixels, cudaMemcpyHostToDevice, stream_));
  CUDA_CHECK(cudaStreamSynchronize(stream_));
}

void CudaBackend::synchronize() { CUDA_CHECK(cudaStreamSynchronize(stream_)); }

PosList CudaBackend::positions(const SpanList& spans) {
  starts_.resize(static_cast<size_t>(spans.count) + 1);
  PosList p;
  p.positions = span_starts(spans.spans, spans.count, starts_.data());
  p.count = spans.count;
  p.spans = ring_.put(spans.spans, static_cast<size_t>(spans.count), stream_);
  p.starts = ring_.put(starts_.data(), starts_.size(), stream_);
  return p;
}

const CopyRun* CudaBackend::stage_runs(const CopyRun* runs, size_t n, const int64_t** starts, int64_t* positions) {
  starts_.resize(n + 1);
  *positions = run_starts(runs, static_cast<int>(n), starts_.data());
  const CopyRun* d = ring_.put(runs, n, stream_);
  *starts = ring_.put(starts_.data(), starts_.size(), stream_);
  return d;
}

void CudaBackend::check(const OpDesc& op) {
  try {
    CUDA_CHECK(cudaStreamSynchronize(stream_));
  } catch (const Error& e) {
    throw Error(op.what() + " on the GPU: " + e.what());
  }
}

void CudaBackend::run(int index, const TensorBases& bases, const SpanList* spans) {
  const OpDesc& op = plan_.op(index);
  if (!dev_.supports(index)) {
    run_on_cpu(op, bases, spans);
    return;
  }
  launch(op, bases, spans);
  if (check_each_ || dev_.options().debug_sync) check(op);
}

// One op's launches, with the storage of this call (the kernels take device maps and a PosList).
void CudaBackend::launch(const OpDesc& op, const TensorBases& bases, const SpanList* spans) {
  const std::vector<int>& in = op.in;
  const std::vector<int>& out = op.out;
  auto data = [&](int t) -> float* {
    const TensorInfo& ti = plan_.tensor(t);
    if (ti.constant) {
      float* p = k_.const_ptr[static_cast<size_t>(t)];
      if (!p) throw Error("internal: constant '" + ti.name + "' was not uploaded");
      return p;
    }
    return storage_of(ti, t, bases);
  };
  auto map = [&](int t) { return map_at(plan_.tensor(t), data(t)); };
  PosList pos;
  if (op.local) {
    const TensorInfo& m = plan_.tensor(op.span_tensor());
    pos = spans ? positions(*spans) : dense_positions(static_cast<int>(m.h()), static_cast<int>(m.w()));
    if (pos.positions == 0) return;
  }
  const cudaStream_t s = stream_;
  switch (op.kind) {
    case OpKind::Conv: {
      const MapView r = op.has_residual ? map(in[3]) : MapView{};
      k_.conv[static_cast<size_t>(op.index)]->run(map(in[0]), map(out[0]), op.has_residual ? &r : nullptr, pos, s);
      break;
    }
    case OpKind::ConvTranspose:
      k_.conv_t[static_cast<size_t>(op.index)]->run(map(in[0]), map(out[0]), pos, s);
      break;
    case OpKind::MaxPool:
      maxpool2d_cuda(op.pool, map(in[0]), map(out[0]), pos, s);
      break;
    case OpKind::ResizeNearest:
      resize_nearest_cuda(op.scale_h, op.scale_w, map(in[0]), map(out[0]), pos, s);
      break;
    case OpKind::Add:
    case OpKind::Sub:
    case OpKind::Mul:
    case OpKind::Div:
      if (op.local) {
        auto operand = [&](int t, LocalOperand::Kind kind) {
          LocalOperand lo;
          lo.kind = kind;
          if (kind == LocalOperand::Map) lo.map = map(t);
          else lo.values = data(t);
          return lo;
        };
        binary_local_cuda(op.bop, operand(in[0], op.la), operand(in[1], op.lb), map(out[0]), pos, s);
      } else {
        binary_plain_cuda(op.bop, data(in[0]), op.a_shape, data(in[1]), op.b_shape, data(out[0]), op.out_shape, s);
      }
      break;
    case OpKind::Sigmoid:
      if (op.local) unary_local_cuda(UnaryOp::Sigmoid, map(in[0]), map(out[0]), pos, s);
      else unary_plain_cuda(UnaryOp::Sigmoid, data(in[0]), data(out[0]), plan_.tensor(in[0]).numel, s);
      break;
    case OpKind::Concat:
    case OpKind::Split: {
      const bool concat = op.kind == OpKind::Concat;
      const std::vector<int>& parts = concat ? in : out;
      const int whole = concat ? out[0] : in[0];
      if (op.local) {
        const MapView wm = map(whole);
        int off = 0;
        for (int t : parts) {
          const MapView part = map(t), slice = wm.channels(off, part.c);
          off += part.c;
          if (part.data == slice.data && part.pixel_stride == slice.pixel_stride) continue;  // stored in place
          if (concat) copy_channels_cuda(part, slice, pos, s);
          else copy_channels_cuda(slice, part, pos, s);
        }
      } else if (op.blocks) {
        float* w = data(whole);
        for (size_t i = 0; i < parts.size(); ++i) {
          float* p = data(parts[i]);
          float* at = w + op.block_offset[i];
          if (p == at) continue;  // stored in place
          const int64_t n = plan_.tensor(parts[i]).numel;
          if (concat) copy_floats_cuda(at, p, n, s);
          else copy_floats_cuda(p, at, n, s);
        }
      } else {
        float* ptrs[OpDesc::kMaxParts];
        for (size_t i = 0; i < parts.size(); ++i) ptrs[i] = data(parts[i]);
        const int count = static_cast<int>(parts.size());
        if (concat) {
          const float* cptrs[OpDesc::kMaxParts];
          for (int i = 0; i < count; ++i) cptrs[i] = ptrs[i];
          concat_plain_cuda(cptrs, op.part_shapes.data(), count, op.axis, data(whole), s);
        } else {
          split_plain_cuda(data(whole), op.a_shape, op.axis, ptrs, op.sizes.data(), count, s);
        }
      }
      break;
    }
    case OpKind::Reshape:
      if (data(out[0]) != data(in[0])) copy_floats_cuda(data(out[0]), data(in[0]), plan_.tensor(in[0]).numel, s);
      break;
    case OpKind::Transpose:
      transpose_cuda(data(in[0]), op.a_shape, op.perm, data(out[0]), s);
      break;
    case OpKind::MatMul:
      k_.matmul->run(data(in[0]), op.a_shape, data(in[1]), op.b_shape, data(out[0]), op.out_shape, s);
      break;
    case OpKind::Softmax:
      softmax_cuda(data(in[0]), op.a_shape, op.axis, data(out[0]), s);
      break;
    case OpKind::Slice:
      slice_cuda(data(in[0]), op.a_shape, op.starts, op.steps, data(out[0]), op.out_shape, s);
      break;
    case OpKind::Relayout:
      if (op.to_nhwc) nchw_to_nhwc_cuda(data(in[0]), map(out[0]), s);
      else nhwc_to_nchw_cuda(map(in[0]), data(out[0]), s);
      break;
    default:
      throw Error(op.what() + ": no CUDA kernel (and not prepared for the CPU fallback)");
  }
}

// An op without a GPU kernel: its storage roots go to host copies, the CPU kernel runs on them, and the
// roots it writes go back whole (positions outside `spans` come back unchanged).
void CudaBackend::run_on_cpu(const OpDesc& op, const TensorBases& bases, const SpanList* spans) {
  if (!k_.fallback) throw Error(op.what() + ": no CUDA kernel (and not prepared for the CPU fallback)");
  auto root = [&](int t) { return plan_.tensor(t).root(t); };
  auto each_root = [&](const std::vector<int>& ts, auto&& f) {
    for (int t : ts)
      if (t >= 0 && !plan_.tensor(t).constant) f(root(t));
  };
  each_root(op.in, [&](int r) { download(host_bases_[static_cast<size_t>(r)], bases[static_cast<size_t>(r)], mirror_[static_cast<size_t>(r)].size()); });
  each_root(op.out, [&](int r) { download(host_bases_[static_cast<size_t>(r)], bases[static_cast<size_t>(r)], mirror_[static_cast<size_t>(r)].size()); });
  k_.fallback->run(op.index, host_bases_, spans, dev_.pool(), fallback_ws_->get());
  each_root(op.out, [&](int r) { upload(bases[static_cast<size_t>(r)], host_bases_[static_cast<size_t>(r)], mirror_[static_cast<size_t>(r)].size()); });
}

bool CudaBackend::capture(const std::function<void()>& body, std::string* why) {
  auto say = [&](const std::string& w) {
    if (why) *why = w;
    return false;
  };
  // Warm-up: plain launches, each op checked (a failing kernel is named; cuBLAS sets itself up outside
  // any capture).
  check_each_ = true;
  try {
    body();
  } catch (...) {
    check_each_ = false;
    throw;
  }
  check_each_ = false;
  if (!dev_.options().use_graph) return say("disabled");
  if (dev_.options().debug_sync) return say("disabled (debug_sync)");
  for (int i = 0; i < plan_.op_count(); ++i)
    if (!dev_.supports(i)) return say(plan_.op(i).what() + " runs on the CPU fallback");
  cudaError_t e = cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal);
  if (e != cudaSuccess) {
    cudaGetLastError();
    return say(std::string("cudaStreamBeginCapture: ") + cudaGetErrorString(e));
  }
  std::string failure;
  try {
    body();
  } catch (const std::exception& ex) {
    failure = ex.what();
  }
  cudaGraph_t g = nullptr;
  e = cudaStreamEndCapture(stream_, &g);
  if (failure.empty() && e != cudaSuccess) failure = std::string("cudaStreamEndCapture: ") + cudaGetErrorString(e);
  if (failure.empty() && !g) failure = "cudaStreamEndCapture returned no graph";
  if (failure.empty()) {
    e = cudaGraphInstantiateWithFlags(&graph_, g, 0);
    if (e != cudaSuccess) {
      failure = std::string("cudaGraphInstantiateWithFlags: ") + cudaGetErrorString(e);
      graph_ = nullptr;
    }
  }
  if (g) cudaGraphDestroy(g);  // the executable graph is independent of it
  if (!failure.empty()) {
    cudaGetLastError();  // capture errors are not sticky; clear them
    return say(failure);
  }
  return true;
}

void CudaBackend::replay() {
  if (!graph_) throw Error("internal: no recorded CUDA graph to replay");
  CUDA_CHECK(cudaGraphLaunch(graph_, stream_));
}

void CudaBackend::copy_map(const MapView& src, const MapView& dst) { copy_map_cuda(src, dst, stream_); }

void CudaBackend::copy_runs(const MapView& src, const MapView& dst, const CopyRun* runs, size_t n) {
  if (!n) return;
  const int64_t* starts = nullptr;
  int64_t positions = 0;
  const CopyRun* d = stage_runs(runs, n, &starts, &positions);
  copy_runs_cuda(src, dst, d, starts, static_cast<int>(n), positions, stream_);
}

void CudaBackend::move_in_place(const MapView& m, const CopyRun* runs, size_t n, int64_t floats) {
  if (!n) return;
  if (static_cast<int64_t>(scratch_.size()) < floats) throw Error("internal: move_in_place beyond the reserved scratch");
  const int64_t* starts = nullptr;
  int64_t positions = 0;
  const CopyRun* d = stage_runs(runs, n, &starts, &positions);
  move_in_place_cuda(m, d, starts, static_cast<int>(n), positions, scratch_.get(), stream_);
}

void CudaBackend::gather(const MapView& m, SpanList spans, float* scratch) {
  if (!spans.count) return;
  gather_cuda(m, positions(spans), scratch, stream_);
}

void CudaBackend::keep_close(const MapView& now, SpanList spans, const MapView& before, const KeepCandidate* table,
                             int ncand, int8_t* choice) {
  if (!spans.count) return;
  const PosList pos = positions(spans);
  const size_t n = static_cast<size_t>(pos.positions);
  if (n > choice_cap_) throw Error("internal: comparison beyond the reserved positions");
  const KeepCandidate* t = ring_.put(table, n * static_cast<size_t>(ncand), stream_);
  keep_close_cuda(now, pos, before, t, ncand, choice_dev_.get(), stream_);
  CUDA_CHECK(cudaMemcpyAsync(choice_host_, choice_dev_.get(), n, cudaMemcpyDeviceToHost, stream_));
  CUDA_CHECK(cudaStreamSynchronize(stream_));
  std::memcpy(choice, choice_host_, n);
}

void CudaBackend::write_image(const MapView& m, const uint8_t* rgb, int width, SpanList spans) {
  if (!spans.count) return;
  const uint8_t* d = ring_.put(rgb, static_cast<size_t>(width) * m.h * 3, stream_);
  write_image_cuda(m, d, width, positions(spans), stream_);
}

void CudaBackend::scatter_planar(const MapView& m, const int64_t* positions, size_t n, float* planar) {
  if (!n) return;
  const int64_t* d = ring_.put(positions, n, stream_);
  scatter_planar_cuda(m, d, static_cast<int64_t>(n), planar, stream_);
}

}  // namespace

std::unique_ptr<Backend> CudaDevice::new_backend() const { return std::make_unique<CudaBackend>(*this); }

namespace {

class GpuMotionSearch final : public MotionSearch {
 public:
  GpuMotionSearch(int device, int width, int height, const AlignerOptions& opt) : device_(device) {
    CUDA_CHECK(cudaSetDevice(device_));
    search_ = std::make_unique<MotionSearchCuda>(width, height, opt);
  }
  void estimate(const uint8_t* cur, const uint8_t* ref, const MotionField* prev, const std::vector<CodecHint>& hints,
                MotionField& out, ThreadPool*) override {
    CUDA_CHECK(cudaSetDevice(device_));
    search_->estimate(cur, ref, prev, hints, out);
  }

 private:
  int device_;
  std::unique_ptr<MotionSearchCuda> search_;
};

}  // namespace

std::unique_ptr<MotionSearch> CudaDevice::new_motion_search(int width, int height, const AlignerOptions& opt) const {
  return std::make_unique<GpuMotionSearch>(opt_.device, width, height, opt);
}

}  // namespace fx
