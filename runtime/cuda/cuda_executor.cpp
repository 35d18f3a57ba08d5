#include "runtime/cuda/cuda_executor.h"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstring>
#include <functional>

#include "ops/conv/conv_cuda.h"
#include "ops/cuda/check.h"
#include "ops/cuda/common.h"
#include "ops/elementwise/elementwise_cuda.h"
#include "ops/matmul/matmul_cuda.h"
#include "ops/pool/maxpool_cuda.h"
#include "ops/resize/resize_cuda.h"
#include "ops/shape/shape_ops_cuda.h"
#include "ops/softmax/softmax_cuda.h"
#include "runtime/cuda/cuda_probe.h"
#include "runtime/error.h"

namespace fx {

using namespace fx::cuda;

const char* precision_name(CudaPrecision p) { return p == CudaPrecision::FP16 ? "fp16" : "fp32"; }

CudaPrecision parse_precision(const std::string& s) {
  if (s == "fp32") return CudaPrecision::FP32;
  if (s == "fp16") return CudaPrecision::FP16;
  throw Error("unknown precision '" + s + "' (fp32 or fp16)");
}

namespace {

// Pinned host memory (cudaHostAlloc), freed at scope exit.
class PinnedFloats {
 public:
  PinnedFloats() = default;
  explicit PinnedFloats(size_t n) : n_(n) {
    void* p = nullptr;
    CUDA_CHECK(cudaHostAlloc(&p, std::max<size_t>(n, 1) * sizeof(float), cudaHostAllocDefault));
    p_ = static_cast<float*>(p);
    std::memset(p_, 0, std::max<size_t>(n, 1) * sizeof(float));
  }
  ~PinnedFloats() {
    if (p_) cudaFreeHost(p_);
  }
  PinnedFloats(PinnedFloats&& o) noexcept : p_(o.p_), n_(o.n_) { o.p_ = nullptr, o.n_ = 0; }
  PinnedFloats& operator=(PinnedFloats&& o) noexcept {
    std::swap(p_, o.p_);
    std::swap(n_, o.n_);
    return *this;
  }
  PinnedFloats(const PinnedFloats&) = delete;
  float* get() const { return p_; }
  size_t size() const { return n_; }

 private:
  float* p_ = nullptr;
  size_t n_ = 0;
};

}  // namespace

struct CudaExecutor::Impl {
  std::shared_ptr<const Plan> plan;
  CudaOptions opt;
  cudaStream_t stream = nullptr;
  DeviceArray<uint8_t> arena;
  DeviceArray<float> constants;
  std::vector<float*> const_ptr;  // per tensor: device copy of a constant (null if not uploaded)
  std::vector<float*> bases;      // per tensor: storage owners' device base
  std::vector<std::unique_ptr<ConvCuda>> convs;
  std::vector<std::unique_ptr<ConvTransposeCuda>> conv_ts;
  std::unique_ptr<MatmulCuda> matmul;
  struct Step {
    int op;
    std::function<void(cudaStream_t)> launch;
  };
  std::vector<Step> steps;
  std::vector<std::pair<int, int>> op_steps;  // per op: [first, last) step
  PinnedFloats host_in;
  std::vector<PinnedFloats> host_out;
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t graph_exec = nullptr;
  std::string graph_error;
  size_t weight_bytes = 0;

  ~Impl() {
    if (graph_exec) cudaGraphExecDestroy(graph_exec);
    if (graph) cudaGraphDestroy(graph);
    convs.clear();
    conv_ts.clear();
    matmul.reset();
    if (stream) cudaStreamDestroy(stream);
  }

  const TensorInfo& info(int t) const { return plan->tensor(t); }

  float* data(int t) const {
    const TensorInfo& ti = info(t);
    if (ti.constant) {
      float* p = const_ptr[static_cast<size_t>(t)];
      if (!p) throw Error("internal: constant '" + ti.name + "' was not uploaded");
      return p;
    }
    if (ti.alias_root >= 0) return bases[static_cast<size_t>(ti.alias_root)] + ti.channel_offset;
    return bases[static_cast<size_t>(t)];
  }
  MapView map(int t) const {
    const TensorInfo& ti = info(t);
    return {data(t), static_cast<int>(ti.h()), static_cast<int>(ti.w()), static_cast<int>(ti.c()), ti.pixel_stride};
  }

  void bind_memory();
  void prepare_op(int index);
  void launch_all(cudaStream_t s) {
    for (const Step& st : steps) st.launch(s);
  }
  void run_plain_checked(int begin, int end);
  void try_capture();
};

void CudaExecutor::Impl::bind_memory() {
  const size_t nt = plan->tensors().size();
  const size_t arena_bytes = static_cast<size_t>(plan->arena_bytes());
  arena.reset(std::max<size_t>(arena_bytes, 256));
  // Zeroed like the CPU arena (mi_zalloc): nothing reads unwritten storage, but this keeps any slip
  // deterministic.
  CUDA_CHECK(cudaMemset(arena.get(), 0, arena.bytes()));
  bases.assign(nt, nullptr);
  for (size_t t = 0; t < nt; ++t) {
    const TensorInfo& ti = plan->tensors()[t];
    if (!ti.constant && ti.alias_root < 0) bases[t] = reinterpret_cast<float*>(arena.get() + ti.arena_offset);
  }
  // Constants read by ops other than the convolutions (which upload their own packed copies), each at
  // a 256-byte boundary.
  std::vector<char> needed(nt, 0);
  for (int i = 0; i < plan->op_count(); ++i) {
    const OpDesc& op = plan->op(i);
    if (op.kind == OpKind::Conv || op.kind == OpKind::ConvTranspose) continue;
    for (int t : op.in)
      if (t >= 0 && info(t).constant) needed[static_cast<size_t>(t)] = 1;
  }
  size_t total = 0;
  std::vector<size_t> offset(nt, 0);
  for (size_t t = 0; t < nt; ++t) {
    if (!needed[t]) continue;
    offset[t] = total;
    total += (static_cast<size_t>(plan->tensors()[t].numel) + 63) / 64 * 64;
  }
  const_ptr.assign(nt, nullptr);
  if (total > 0) {
    std::vector<float> host(total, 0.0f);
    for (size_t t = 0; t < nt; ++t)
      if (needed[t])
        std::memcpy(host.data() + offset[t], plan->constant_data(static_cast<int>(t)),
                    static_cast<size_t>(plan->tensors()[t].numel) * sizeof(float));
    constants.upload(host.data(), host.size());
    for (size_t t = 0; t < nt; ++t)
      if (needed[t]) const_ptr[t] = constants.get() + offset[t];
  }
}

// One launch sequence per op from its description (op_desc.h): the same parameters and the same
// choice between the local (NHWC, span-based) and the plain form as the CPU backend.
void CudaExecutor::Impl::prepare_op(int index) {
  const OpDesc& op = plan->op(index);
  const std::vector<int>& in = op.in;
  const std::vector<int>& out = op.out;
  auto add = [&](std::function<void(cudaStream_t)> f) { steps.push_back({index, std::move(f)}); };
  auto dense_pos = [&](const MapView& m) { return dense_positions(m.h, m.w); };
  const float* bias = in.size() > 2 && in[2] >= 0 ? plan->constant_data(in[2]) : nullptr;

  switch (op.kind) {
    case OpKind::Conv: {
      const MapView x = map(in[0]), y = map(out[0]);
      auto conv = std::make_unique<ConvCuda>(op.conv, plan->constant_data(in[1]), bias,
                                             opt.precision == CudaPrecision::FP16);
      weight_bytes += conv->device_bytes();
      const ConvCuda* c = conv.get();
      convs.push_back(std::move(conv));
      const bool has_res = op.has_residual;
      const MapView r = has_res ? map(in[3]) : MapView{};
      const PosList pos = dense_pos(y);
      add([c, x, y, r, has_res, pos](cudaStream_t s) { c->run(x, y, has_res ? &r : nullptr, pos, s); });
      break;
    }
    case OpKind::ConvTranspose: {
      const MapView x = map(in[0]), y = map(out[0]);
      auto conv = std::make_unique<ConvTransposeCuda>(op.conv_t, plan->constant_data(in[1]), bias);
      weight_bytes += conv->device_bytes();
      const ConvTransposeCuda* c = conv.get();
      conv_ts.push_back(std::move(conv));
      const PosList pos = dense_pos(y);
      add([c, x, y, pos](cudaStream_t s) { c->run(x, y, pos, s); });
      break;
    }
    case OpKind::MaxPool: {
      const PoolParams pp = op.pool;
      const MapView x = map(in[0]), y = map(out[0]);
      const PosList pos = dense_pos(y);
      add([pp, x, y, pos](cudaStream_t s) { maxpool2d_cuda(pp, x, y, pos, s); });
      break;
    }
    case OpKind::ResizeNearest: {
      const int sh = op.scale_h, sw = op.scale_w;
      const MapView x = map(in[0]), y = map(out[0]);
      const PosList pos = dense_pos(y);
      add([sh, sw, x, y, pos](cudaStream_t s) { resize_nearest_cuda(sh, sw, x, y, pos, s); });
      break;
    }
    case OpKind::Add:
    case OpKind::Sub:
    case OpKind::Mul:
    case OpKind::Div: {
      const BinaryOp bop = op.bop;
      if (op.local) {
        auto operand = [&](int t, LocalOperand::Kind kind) {
          LocalOperand lo;
          lo.kind = kind;
          if (kind == LocalOperand::Map) lo.map = map(t);
          else lo.values = data(t);
          return lo;
        };
        const LocalOperand la = operand(in[0], op.la), lb = operand(in[1], op.lb);
        const MapView ym = map(out[0]);
        const PosList pos = dense_pos(ym);
        add([bop, la, lb, ym, pos](cudaStream_t s) { binary_local_cuda(bop, la, lb, ym, pos, s); });
      } else {
        const float *pa = data(in[0]), *pb = data(in[1]);
        float* py = data(out[0]);
        const Shape sa = op.a_shape, sb = op.b_shape, sy = op.out_shape;
        add([bop, pa, sa, pb, sb, py, sy](cudaStream_t s) { binary_plain_cuda(bop, pa, sa, pb, sb, py, sy, s); });
      }
      break;
    }
    case OpKind::Sigmoid: {
      if (op.local) {
        const MapView xm = map(in[0]), ym = map(out[0]);
        const PosList pos = dense_pos(ym);
        add([xm, ym, pos](cudaStream_t s) { unary_local_cuda(UnaryOp::Sigmoid, xm, ym, pos, s); });
      } else {
        const float* px = data(in[0]);
        float* py = data(out[0]);
        const int64_t n = info(in[0]).numel;
        add([px, py, n](cudaStream_t s) { unary_plain_cuda(UnaryOp::Sigmoid, px, py, n, s); });
      }
      break;
    }
    case OpKind::Concat:
    case OpKind::Split: {
      const bool concat = op.kind == OpKind::Concat;
      const std::vector<int>& parts = concat ? in : out;
      const int whole = concat ? out[0] : in[0];
      const int axis = op.axis;
      if (op.local) {
        const MapView wm = map(whole);
        const PosList pos = dense_pos(wm);
        int off = 0;
        for (int t : parts) {
          const MapView part = map(t), slice = wm.channels(off, part.c);
          off += part.c;
          if (part.data == slice.data && part.pixel_stride == slice.pixel_stride) continue;  // stored in place
          if (concat) add([part, slice, pos](cudaStream_t s) { copy_channels_cuda(part, slice, pos, s); });
          else add([part, slice, pos](cudaStream_t s) { copy_channels_cuda(slice, part, pos, s); });
        }
      } else {
        const std::vector<Shape> shapes = op.part_shapes;
        const std::vector<int64_t> sizes = op.sizes;
        std::vector<float*> ptrs;
        for (int t : parts) ptrs.push_back(data(t));
        float* pw = data(whole);
        const Shape sw = op.a_shape;
        if (concat) {
          std::vector<const float*> cptrs(ptrs.begin(), ptrs.end());
          add([cptrs, shapes, axis, pw](cudaStream_t s) {
            concat_plain_cuda(cptrs.data(), shapes.data(), static_cast<int>(cptrs.size()), axis, pw, s);
          });
        } else {
          add([pw, sw, axis, ptrs, sizes](cudaStream_t s) {
            split_plain_cuda(pw, sw, axis, ptrs.data(), sizes.data(), static_cast<int>(ptrs.size()), s);
          });
        }
      }
      break;
    }
    case OpKind::Reshape: {
      float* px = data(in[0]);
      float* py = data(out[0]);
      const int64_t n = info(in[0]).numel;
      add([px, py, n](cudaStream_t s) { copy_floats_cuda(py, px, n, s); });
      break;
    }
    case OpKind::Transpose: {
      const std::vector<int> perm(op.perm, op.perm + op.a_shape.rank);
      const Shape sx = op.a_shape;
      const float* px = data(in[0]);
      float* py = data(out[0]);
      add([px, sx, perm, py](cudaStream_t s) { transpose_cuda(px, sx, perm.data(), py, s); });
      break;
    }
    case OpKind::MatMul: {
      if (!matmul) matmul = std::make_unique<MatmulCuda>(opt.use_cublas);
      const MatmulCuda* mm = matmul.get();
      const Shape sa = op.a_shape, sb = op.b_shape, sy = op.out_shape;
      const float *pa = data(in[0]), *pb = data(in[1]);
      float* py = data(out[0]);
      add([mm, pa, sa, pb, sb, py, sy](cudaStream_t s) { mm->run(pa, sa, pb, sb, py, sy, s); });
      break;
    }
    case OpKind::Softmax: {
      const int axis = op.axis;
      const Shape sx = op.a_shape;
      const float* px = data(in[0]);
      float* py = data(out[0]);
      add([px, sx, axis, py](cudaStream_t s) { softmax_cuda(px, sx, axis, py, s); });
      break;
    }
    case OpKind::Slice: {
      const Shape sx = op.a_shape, sy = op.out_shape;
      const std::vector<int64_t> starts(op.starts, op.starts + sx.rank), steps_(op.steps, op.steps + sx.rank);
      const float* px = data(in[0]);
      float* py = data(out[0]);
      add([px, sx, starts, steps_, py, sy](cudaStream_t s) {
        slice_cuda(px, sx, starts.data(), steps_.data(), py, sy, s);
      });
      break;
    }
    case OpKind::Relayout: {
      if (op.to_nhwc) {
        const float* px = data(in[0]);
        const MapView ym = map(out[0]);
        add([px, ym](cudaStream_t s) { nchw_to_nhwc_cuda(px, ym, s); });
      } else {
        const MapView xm = map(in[0]);
        float* py = data(out[0]);
        add([xm, py](cudaStream_t s) { nhwc_to_nchw_cuda(xm, py, s); });
      }
      break;
    }
    default:
      throw Error(op.what() + ": not supported by the CUDA backend");
  }
}

void CudaExecutor::Impl::run_plain_checked(int begin, int end) {
  for (int i = begin; i < end; ++i) {
    const auto [first, last] = op_steps[static_cast<size_t>(i)];
    try {
      for (int k = first; k < last; ++k) steps[static_cast<size_t>(k)].launch(stream);
      CUDA_CHECK(cudaStreamSynchronize(stream));
    } catch (const Error& e) {
      throw Error(plan->op(i).what() + " on the GPU: " + e.what());
    }
  }
}

void CudaExecutor::Impl::try_capture() {
  cudaError_t e = cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal);
  if (e != cudaSuccess) {
    graph_error = std::string("cudaStreamBeginCapture: ") + cudaGetErrorString(e);
    cudaGetLastError();
    return;
  }
  std::string failure;
  try {
    launch_all(stream);
  } catch (const std::exception& ex) {
    failure = ex.what();
  }
  cudaGraph_t g = nullptr;
  e = cudaStreamEndCapture(stream, &g);
  if (failure.empty() && e != cudaSuccess) failure = std::string("cudaStreamEndCapture: ") + cudaGetErrorString(e);
  if (failure.empty() && !g) failure = "cudaStreamEndCapture returned no graph";
  if (failure.empty()) {
    e = cudaGraphInstantiateWithFlags(&graph_exec, g, 0);
    if (e != cudaSuccess) {
      failure = std::string("cudaGraphInstantiateWithFlags: ") + cudaGetErrorString(e);
      graph_exec = nullptr;
    }
  }
  if (!failure.empty()) {
    if (g) cudaGraphDestroy(g);
    cudaGetLastError();  // capture errors are not sticky; clear them
    graph_error = failure;
    return;
  }
  graph = g;
}

CudaExecutor::CudaExecutor(std::shared_ptr<const Plan> plan, CudaOptions opt) : impl_(std::make_unique<Impl>()) {
  Impl& I = *impl_;
  I.plan = std::move(plan);
  I.opt = opt;
  const std::string why = probe_device(opt.device);
  if (!why.empty()) throw Error("no CUDA device: " + why);
  CUDA_CHECK(cudaSetDevice(opt.device));
  CUDA_CHECK(cudaStreamCreateWithFlags(&I.stream, cudaStreamNonBlocking));
  I.bind_memory();
  for (int i = 0; i < I.plan->op_count(); ++i) {
    const int first = static_cast<int>(I.steps.size());
    I.prepare_op(i);
    I.op_steps.emplace_back(first, static_cast<int>(I.steps.size()));
  }
  I.host_in = PinnedFloats(static_cast<size_t>(I.plan->tensor(I.plan->input()).numel));
  for (int t : I.plan->outputs()) I.host_out.emplace_back(static_cast<size_t>(I.plan->tensor(t).numel));
  // Weights went up synchronously; the first run is plain and checked op by op (it names a failing
  // kernel, and lets cuBLAS set itself up outside capture); then the graph.
  CUDA_CHECK(cudaDeviceSynchronize());
  I.run_plain_checked(0, I.plan->op_count());
  if (opt.use_graph && !opt.debug_sync) I.try_capture();
  else I.graph_error = opt.debug_sync ? "disabled (debug_sync)" : "disabled";
}

CudaExecutor::~CudaExecutor() = default;

bool CudaExecutor::available(std::string* why, int device) {
  const std::string w = probe_device(device);
  if (!w.empty() && why) *why = w;
  return w.empty();
}

const Plan& CudaExecutor::plan() const { return *impl_->plan; }
const CudaOptions& CudaExecutor::options() const { return impl_->opt; }
float* CudaExecutor::input_host() { return impl_->host_in.get(); }
bool CudaExecutor::graph_active() const { return impl_->graph_exec != nullptr; }
const std::string& CudaExecutor::graph_error() const { return impl_->graph_error; }
bool CudaExecutor::uses_cublas() const { return impl_->matmul && impl_->matmul->uses_cublas(); }
std::string CudaExecutor::device_name() const { return describe_device(impl_->opt.device); }
size_t CudaExecutor::device_bytes() const {
  return impl_->arena.bytes() + impl_->constants.bytes() + impl_->weight_bytes;
}

const float* CudaExecutor::output_host(size_t i) const { return impl_->host_out.at(i).get(); }

void CudaExecutor::upload_input() {
  Impl& I = *impl_;
  CUDA_CHECK(cudaSetDevice(I.opt.device));
  const int t = I.plan->input();
  CUDA_CHECK(cudaMemcpyAsync(I.data(t), I.host_in.get(), I.host_in.size() * sizeof(float), cudaMemcpyHostToDevice,
                             I.stream));
  CUDA_CHECK(cudaStreamSynchronize(I.stream));
}

void CudaExecutor::run_device() {
  Impl& I = *impl_;
  CUDA_CHECK(cudaSetDevice(I.opt.device));
  if (I.graph_exec) {
    CUDA_CHECK(cudaGraphLaunch(I.graph_exec, I.stream));
    CUDA_CHECK(cudaStreamSynchronize(I.stream));
  } else if (I.opt.debug_sync) {
    I.run_plain_checked(0, I.plan->op_count());
  } else {
    I.launch_all(I.stream);
    CUDA_CHECK(cudaStreamSynchronize(I.stream));
  }
}

void CudaExecutor::run_ops(int begin, int end) {
  Impl& I = *impl_;
  if (begin < 0 || end > I.plan->op_count() || begin > end) throw Error("CudaExecutor::run_ops: bad op range");
  CUDA_CHECK(cudaSetDevice(I.opt.device));
  I.run_plain_checked(begin, end);
}

void CudaExecutor::invoke() {
  Impl& I = *impl_;
  CUDA_CHECK(cudaSetDevice(I.opt.device));
  const int tin = I.plan->input();
  CUDA_CHECK(cudaMemcpyAsync(I.data(tin), I.host_in.get(), I.host_in.size() * sizeof(float), cudaMemcpyHostToDevice,
                             I.stream));
  if (I.graph_exec) {
    CUDA_CHECK(cudaGraphLaunch(I.graph_exec, I.stream));
  } else if (I.opt.debug_sync) {
    I.run_plain_checked(0, I.plan->op_count());
  } else {
    I.launch_all(I.stream);
  }
  for (size_t i = 0; i < I.plan->outputs().size(); ++i) {
    const int t = I.plan->outputs()[i];
    CUDA_CHECK(cudaMemcpyAsync(I.host_out[i].get(), I.data(t), I.host_out[i].size() * sizeof(float),
                               cudaMemcpyDeviceToHost, I.stream));
  }
  CUDA_CHECK(cudaStreamSynchronize(I.stream));
}

std::vector<float> CudaExecutor::download(int tensor) const {
  const Impl& I = *impl_;
  const TensorInfo& ti = I.plan->tensor(tensor);
  CUDA_CHECK(cudaSetDevice(I.opt.device));
  CUDA_CHECK(cudaStreamSynchronize(I.stream));  // the copy below runs on the legacy stream
  std::vector<float> out;
  if (ti.layout == PlanLayout::NHWC && !ti.constant && ti.shape.size() == 4) {
    const MapView m = I.map(tensor);
    const size_t pixels = static_cast<size_t>(m.h) * m.w;
    out.resize(pixels * static_cast<size_t>(m.c));
    if (!out.empty())
      CUDA_CHECK(cudaMemcpy2D(out.data(), static_cast<size_t>(m.c) * sizeof(float), m.data,
                              static_cast<size_t>(m.pixel_stride) * sizeof(float),
                              static_cast<size_t>(m.c) * sizeof(float), pixels, cudaMemcpyDeviceToHost));
  } else if (ti.constant) {
    out.assign(I.plan->constant_data(tensor), I.plan->constant_data(tensor) + ti.numel);
  } else {
    out.resize(static_cast<size_t>(ti.numel));
    if (!out.empty())
      CUDA_CHECK(cudaMemcpy(out.data(), I.data(tensor), out.size() * sizeof(float), cudaMemcpyDeviceToHost));
  }
  return out;
}

void CudaExecutor::upload(int tensor, const std::vector<float>& packed) {
  Impl& I = *impl_;
  const TensorInfo& ti = I.plan->tensor(tensor);
  if (ti.constant) throw Error("CudaExecutor::upload: '" + ti.name + "' is a constant");
  CUDA_CHECK(cudaSetDevice(I.opt.device));
  if (static_cast<int64_t>(packed.size()) != ti.numel) throw Error("CudaExecutor::upload: wrong element count");
  if (packed.empty()) return;
  if (ti.layout == PlanLayout::NHWC && ti.shape.size() == 4) {
    const MapView m = I.map(tensor);
    CUDA_CHECK(cudaMemcpy2DAsync(m.data, static_cast<size_t>(m.pixel_stride) * sizeof(float), packed.data(),
                                 static_cast<size_t>(m.c) * sizeof(float), static_cast<size_t>(m.c) * sizeof(float),
                                 static_cast<size_t>(m.h) * m.w, cudaMemcpyHostToDevice, I.stream));
  } else {
    CUDA_CHECK(cudaMemcpyAsync(I.data(tensor), packed.data(), packed.size() * sizeof(float), cudaMemcpyHostToDevice,
                               I.stream));
  }
  // On the executor's (non-blocking) stream, so that its kernels are ordered after the copy; a pageable
  // copy may return before the data has landed, and `packed` belongs to the caller.
  CUDA_CHECK(cudaStreamSynchronize(I.stream));
}

}  // namespace fx
