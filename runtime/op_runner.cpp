#include "runtime/op_runner.h"

#include <cstring>

#include "ops/conv/conv.h"
#include "ops/elementwise/elementwise.h"
#include "ops/matmul/matmul.h"
#include "ops/pool/maxpool.h"
#include "ops/resize/resize.h"
#include "ops/shape/shape_ops.h"
#include "ops/softmax/softmax.h"
#include "runtime/error.h"

namespace fx {

// An op prepared for the CPU kernels: its description (op_desc.h) plus what the kernels need built
// once (packed weights, constant operands, the whole output as a span list); data pointers are bound
// per run.
struct OpRunner::PreparedOp {
  OpDesc d;
  std::vector<Span> spans;  // local ops: the whole output map, one span per row
  SpanList span_list;
  std::unique_ptr<Conv2d> conv;
  std::unique_ptr<ConvTranspose2d> conv_t;
  LocalOperand la, lb;  // kinds and constant values; maps bound per run
};

OpRunner::OpRunner(std::shared_ptr<const Plan> plan) : plan_(std::move(plan)) {
  ops_.resize(static_cast<size_t>(plan_->op_count()));
  for (int i = 0; i < plan_->op_count(); ++i) prepare_op(plan_->op(i));
  workspace_bytes_ = (workspace_bytes_ + 63) / 64 * 64;
}

OpRunner::OpRunner(std::shared_ptr<const Plan> plan, std::vector<TensorInfo> tensors, const std::vector<int>& ops)
    : plan_(std::move(plan)), tensors_(std::move(tensors)) {
  if (tensors_.size() != plan_->tensors().size())
    throw Error("op runner: one tensor description per plan tensor expected");
  ops_.resize(static_cast<size_t>(plan_->op_count()));
  for (int i : ops) {
    if (i < 0 || i >= plan_->op_count()) throw Error("op runner: op " + std::to_string(i) + " is not in the plan");
    prepare_op(describe_op(*plan_, tensors_, i));
  }
  workspace_bytes_ = (workspace_bytes_ + 63) / 64 * 64;
}

OpRunner::~OpRunner() = default;

bool OpRunner::is_local(int index) const {
  const auto& p = ops_.at(static_cast<size_t>(index));
  return p && p->d.local;
}

const TensorInfo& OpRunner::tensor(int id) const {
  return tensors_.empty() ? plan_->tensor(id) : tensors_.at(static_cast<size_t>(id));
}

float* OpRunner::data(int tensor, const TensorBases& bases) const {
  const TensorInfo& t = this->tensor(tensor);
  if (t.constant) return const_cast<float*>(plan_->constant_data(tensor));
  return storage_of(t, tensor, bases);
}

MapView OpRunner::map(int tensor, const TensorBases& bases) const { return map_at(this->tensor(tensor), data(tensor, bases)); }

void OpRunner::prepare_op(const OpDesc& d) {
  auto p = std::make_unique<PreparedOp>();
  p->d = d;
  const float* bias = d.in.size() > 2 && d.in[2] >= 0 ? plan_->constant_data(d.in[2]) : nullptr;
  switch (d.kind) {
    case OpKind::Conv:
      p->conv = std::make_unique<Conv2d>(d.conv, plan_->constant_data(d.in[1]), bias);
      workspace_bytes_ = std::max(workspace_bytes_, p->conv->workspace_bytes());
      break;
    case OpKind::ConvTranspose:
      p->conv_t = std::make_unique<ConvTranspose2d>(d.conv_t, plan_->constant_data(d.in[1]), bias);
      workspace_bytes_ = std::max(workspace_bytes_, p->conv_t->workspace_bytes());
      break;
    case OpKind::Add:
    case OpKind::Sub:
    case OpKind::Mul:
    case OpKind::Div:
      p->la.kind = d.la;
      p->lb.kind = d.lb;
      if (d.la != LocalOperand::Map) p->la.values = plan_->constant_data(d.in[0]);
      if (d.lb != LocalOperand::Map) p->lb.values = plan_->constant_data(d.in[1]);
      break;
    default:
      break;
  }
  if (d.local) {
    const TensorInfo& m = tensor(d.span_tensor());
    for (int y = 0; y < m.h(); ++y) p->spans.push_back({y, 0, static_cast<int>(m.w())});
    p->span_list = make_span_list(p->spans);
  }
  ops_[static_cast<size_t>(d.index)] = std::move(p);
}

void OpRunner::run(int index, const TensorBases& bases, const SpanList* spans, ThreadPool& pool,
                   const Workspace& ws) const {
  if (!ops_.at(static_cast<size_t>(index))) throw Error("op runner: op " + std::to_string(index) + " was not prepared");
  const PreparedOp& p = *ops_[static_cast<size_t>(index)];
  const OpDesc& o = p.d;
  const SpanList& sl = spans ? *spans : p.span_list;
  auto d = [&](int t) { return data(t, bases); };
  auto m = [&](int t) { return map(t, bases); };
  switch (o.kind) {
    case OpKind::Conv: {
      MapView res = o.has_residual ? m(o.in[3]) : MapView{};
      p.conv->run(m(o.in[0]), m(o.out[0]), o.has_residual ? &res : nullptr, sl, pool, ws);
      break;
    }
    case OpKind::ConvTranspose:
      p.conv_t->run(m(o.in[0]), m(o.out[0]), sl, pool, ws);
      break;
    case OpKind::MaxPool:
      maxpool2d(o.pool, m(o.in[0]), m(o.out[0]), sl, pool);
      break;
    case OpKind::ResizeNearest:
      resize_nearest(o.scale_h, o.scale_w, m(o.in[0]), m(o.out[0]), sl, pool);
      break;
    case OpKind::Add:
    case OpKind::Sub:
    case OpKind::Mul:
    case OpKind::Div:
      if (o.local) {
        LocalOperand a = p.la, b = p.lb;
        if (a.kind == LocalOperand::Map) a.map = m(o.in[0]);
        if (b.kind == LocalOperand::Map) b.map = m(o.in[1]);
        binary_local(o.bop, a, b, m(o.out[0]), sl, pool);
      } else {
        binary_plain(o.bop, d(o.in[0]), o.a_shape, d(o.in[1]), o.b_shape, d(o.out[0]), o.out_shape, pool);
      }
      break;
    case OpKind::Sigmoid:
      if (o.local)
        unary_local(UnaryOp::Sigmoid, m(o.in[0]), m(o.out[0]), sl, pool);
      else
        unary_plain(UnaryOp::Sigmoid, d(o.in[0]), d(o.out[0]), tensor(o.in[0]).numel, pool);
      break;
    case OpKind::Concat:
      if (o.local) {
        MapView whole = m(o.out[0]);
        int off = 0;
        for (int t : o.in) {
          MapView part = m(t), dst = whole.channels(off, part.c);
          if (part.data != dst.data || part.pixel_stride != dst.pixel_stride)  // not stored in place
            copy_channels(part, dst, sl, pool);
          off += part.c;
        }
      } else if (o.blocks) {
        float* whole = d(o.out[0]);
        for (size_t i = 0; i < o.in.size(); ++i) {
          const float* part = d(o.in[i]);
          float* dst = whole + o.block_offset[i];
          if (part != dst)  // not stored in place
            std::memmove(dst, part, static_cast<size_t>(tensor(o.in[i]).bytes()));
        }
      } else {
        const float* ptrs[kMaxParts];
        for (size_t i = 0; i < o.in.size(); ++i) ptrs[i] = d(o.in[i]);
        concat_plain(ptrs, o.part_shapes.data(), static_cast<int>(o.in.size()), o.axis, d(o.out[0]), pool);
      }
      break;
    case OpKind::Split:
      if (o.local) {
        MapView whole = m(o.in[0]);
        int off = 0;
        for (int t : o.out) {
          MapView part = m(t), src = whole.channels(off, part.c);
          if (part.data != src.data || part.pixel_stride != src.pixel_stride)  // not a view of the input
            copy_channels(src, part, sl, pool);
          off += part.c;
        }
      } else if (o.blocks) {
        const float* whole = d(o.in[0]);
        for (size_t i = 0; i < o.out.size(); ++i) {
          float* part = d(o.out[i]);
          const float* src = whole + o.block_offset[i];
          if (part != src)  // not a view of the input
            std::memmove(part, src, static_cast<size_t>(tensor(o.out[i]).bytes()));
        }
      } else {
        float* ptrs[kMaxParts];
        for (size_t i = 0; i < o.out.size(); ++i) ptrs[i] = d(o.out[i]);
        split_plain(d(o.in[0]), o.a_shape, o.axis, ptrs, o.sizes.data(), static_cast<int>(o.out.size()), pool);
      }
      break;
    case OpKind::Reshape:
      if (d(o.out[0]) != d(o.in[0]))  // not a view of its input
        std::memcpy(d(o.out[0]), d(o.in[0]), static_cast<size_t>(tensor(o.in[0]).bytes()));
      break;
    case OpKind::Transpose:
      transpose(d(o.in[0]), o.a_shape, o.perm, d(o.out[0]), pool);
      break;
    case OpKind::MatMul:
      matmul(d(o.in[0]), o.a_shape, d(o.in[1]), o.b_shape, d(o.out[0]), o.out_shape, pool);
      break;
    case OpKind::Softmax:
      softmax(d(o.in[0]), o.a_shape, o.axis, d(o.out[0]), pool);
      break;
    case OpKind::Slice:
      slice(d(o.in[0]), o.a_shape, o.starts, o.steps, d(o.out[0]), o.out_shape, pool);
      break;
    case OpKind::Relayout:
      if (o.to_nhwc)
        nchw_to_nhwc(d(o.in[0]), m(o.out[0]), pool);
      else
        nhwc_to_nchw(m(o.in[0]), d(o.out[0]), pool);
      break;
  }
}

}  // namespace fx
