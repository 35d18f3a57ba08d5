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

namespace fb = ::fluxshard::plan;

// Parameters of one op, checked against the plan's tensors once; data pointers are bound per run.
struct OpRunner::PreparedOp {
  OpKind kind;
  std::vector<int> in, out;
  bool local = false;  // runs a local (span-based, NHWC) kernel
  MapView in_map, out_map;  // shapes only (data == nullptr)
  bool has_res = false;
  std::vector<Span> spans;  // the whole output map, one span per row
  SpanList span_list;
  std::unique_ptr<Conv2d> conv;
  std::unique_ptr<ConvTranspose2d> conv_t;
  PoolParams pool;
  int scale_h = 1, scale_w = 1;
  BinaryOp bop = BinaryOp::Add;
  LocalOperand la, lb;  // kinds and constant values; maps bound per run
  Shape a_shape, b_shape, out_shape;
  int axis = 0;
  std::vector<Shape> part_shapes;
  std::vector<int64_t> sizes;
  // Plain concat / split with only size-1 axes before the axis: each part is one contiguous block of
  // the whole at this element offset (and may already be stored there, see compiler/alias_plan.h).
  bool blocks = false;
  std::vector<int64_t> block_offset;
  int perm[Shape::kMaxRank] = {};
  int64_t starts[Shape::kMaxRank] = {}, steps[Shape::kMaxRank] = {};
  bool to_nhwc = false;
};

namespace {

Shape physical_shape(const TensorInfo& t) { return Shape::from(t.physical.begin(), t.physical.end()); }

Act act_of(fb::Activation a) {
  switch (a) {
    case fb::Activation::SiLU: return Act::SiLU;
    case fb::Activation::Sigmoid: return Act::Sigmoid;
    default: return Act::None;
  }
}

}  // namespace

OpRunner::OpRunner(std::shared_ptr<const Plan> plan) : plan_(std::move(plan)) {
  ops_.resize(static_cast<size_t>(plan_->op_count()));
  for (int i = 0; i < plan_->op_count(); ++i) prepare_op(i);
  workspace_bytes_ = (workspace_bytes_ + 63) / 64 * 64;
}

OpRunner::OpRunner(std::shared_ptr<const Plan> plan, std::vector<TensorInfo> tensors, const std::vector<int>& ops)
    : plan_(std::move(plan)), tensors_(std::move(tensors)) {
  if (tensors_.size() != plan_->tensors().size())
    throw Error("op runner: one tensor description per plan tensor expected");
  ops_.resize(static_cast<size_t>(plan_->op_count()));
  for (int i : ops) {
    if (i < 0 || i >= plan_->op_count()) throw Error("op runner: op " + std::to_string(i) + " is not in the plan");
    prepare_op(i);
  }
  workspace_bytes_ = (workspace_bytes_ + 63) / 64 * 64;
}

OpRunner::~OpRunner() = default;

bool OpRunner::is_local(int index) const {
  const auto& p = ops_.at(static_cast<size_t>(index));
  return p && p->local;
}

const TensorInfo& OpRunner::tensor(int id) const {
  return tensors_.empty() ? plan_->tensor(id) : tensors_.at(static_cast<size_t>(id));
}

float* OpRunner::data(int tensor, const TensorBases& bases) const {
  const TensorInfo& t = this->tensor(tensor);
  if (t.constant) return const_cast<float*>(plan_->constant_data(tensor));
  if (t.alias_root >= 0) return bases[static_cast<size_t>(t.alias_root)] + t.channel_offset;
  return bases[static_cast<size_t>(tensor)];
}

MapView OpRunner::map(int tensor, const TensorBases& bases) const {
  const TensorInfo& t = this->tensor(tensor);
  return {data(tensor, bases), static_cast<int>(t.h()), static_cast<int>(t.w()), static_cast<int>(t.c()),
          t.pixel_stride};
}

void OpRunner::prepare_op(int index) {
  const fb::Op* op = plan_->fb().ops()->Get(static_cast<flatbuffers::uoffset_t>(index));
  auto p = std::make_unique<PreparedOp>();
  p->kind = op->kind();
  p->in.assign(op->inputs()->begin(), op->inputs()->end());
  p->out.assign(op->outputs()->begin(), op->outputs()->end());
  std::string what = "plan op " + std::to_string(index) + " (" + op_kind_name(op->kind()) + " '" +
                     (op->name() ? op->name()->str() : "") + "')";
  auto fail = [&](const std::string& why) { return Error(what + ": " + why); };
  auto need_inputs = [&](size_t lo, size_t hi) {
    if (p->in.size() < lo || p->in.size() > hi) throw fail("wrong number of inputs");
    for (size_t i = 0; i < lo; ++i)
      if (p->in[i] < 0) throw fail("missing input");
  };
  auto need_outputs = [&](size_t n) {
    if (p->out.size() != n) throw fail("wrong number of outputs");
  };
  auto info = [&](int t) -> const TensorInfo& { return tensor(t); };
  // Shape of an NHWC activation (the data pointer is bound at run time).
  auto nhwc_map = [&](int t) {
    const TensorInfo& ti = info(t);
    if (ti.layout != PlanLayout::NHWC || ti.constant) throw fail("'" + ti.name + "' must be an NHWC activation");
    return MapView{nullptr, static_cast<int>(ti.h()), static_cast<int>(ti.w()), static_cast<int>(ti.c()),
                   ti.pixel_stride};
  };
  // Kernels of the plain (row-major) family cannot read channel slices of wider maps.
  auto require_dense = [&](const std::vector<int>& ts) {
    for (int t : ts)
      if (t >= 0 && info(t).alias_root >= 0 && info(t).layout == PlanLayout::NHWC)
        throw fail("'" + info(t).name + "' is a channel slice; this op needs dense storage");
  };
  auto full_spans = [&](const MapView& m) {
    p->spans.clear();
    for (int y = 0; y < m.h; ++y) p->spans.push_back({y, 0, m.w});
    p->span_list = make_span_list(p->spans);
    p->local = true;
  };

  switch (p->kind) {
    case OpKind::Conv:
    case OpKind::ConvTranspose: {
      const fb::ConvOptions* o = op->options_as_ConvOptions();
      if (!o) throw fail("missing convolution options");
      need_inputs(2, p->kind == OpKind::Conv ? 4 : 3);
      need_outputs(1);
      p->in_map = nhwc_map(p->in[0]);
      p->out_map = nhwc_map(p->out[0]);
      const TensorInfo& w = info(p->in[1]);
      if (!w.constant || w.shape.size() != 4) throw fail("weights must be a 4-D constant");
      const float* bias = nullptr;
      if (p->in.size() > 2 && p->in[2] >= 0) {
        if (!info(p->in[2]).constant) throw fail("bias must be a constant");
        bias = plan_->constant_data(p->in[2]);
      }
      int g = o->group();
      int cin = p->in_map.c, cout = p->out_map.c;
      if (g <= 0 || cin % g || cout % g) throw fail("group does not divide the channels");
      if (o->kernel_h() <= 0 || o->kernel_w() <= 0 || o->stride_h() <= 0 || o->stride_w() <= 0 ||
          o->dilation_h() <= 0 || o->dilation_w() <= 0 || o->pad_top() < 0 || o->pad_left() < 0 ||
          o->pad_bottom() < 0 || o->pad_right() < 0 || o->kernel_h() > 64 || o->kernel_w() > 64 ||
          o->pad_top() > 4096 || o->pad_left() > 4096 || o->pad_bottom() > 4096 || o->pad_right() > 4096 ||
          o->stride_h() > 4096 || o->stride_w() > 4096 || o->dilation_h() > 4096 || o->dilation_w() > 4096)
        throw fail("invalid window parameters");
      if (bias && info(p->in[2]).numel != cout) throw fail("bias size does not match the output channels");
      if (p->kind == OpKind::Conv) {
        ConvParams cp;
        cp.cin = cin, cp.cout = cout, cp.kh = o->kernel_h(), cp.kw = o->kernel_w();
        cp.sh = o->stride_h(), cp.sw = o->stride_w(), cp.pad_t = o->pad_top(), cp.pad_l = o->pad_left();
        cp.pad_b = o->pad_bottom(), cp.pad_r = o->pad_right(), cp.dh = o->dilation_h(), cp.dw = o->dilation_w();
        cp.group = g, cp.act = act_of(o->activation());
        if (w.shape != std::vector<int64_t>{cout, cin / g, cp.kh, cp.kw}) throw fail("weight shape does not fit");
        if (conv_out_size(p->in_map.h, cp.kh, cp.sh, cp.pad_t, cp.pad_b, cp.dh) != p->out_map.h ||
            conv_out_size(p->in_map.w, cp.kw, cp.sw, cp.pad_l, cp.pad_r, cp.dw) != p->out_map.w)
          throw fail("output size does not follow from the input and window");
        if (o->has_residual()) {
          if (p->in.size() != 4 || p->in[3] < 0) throw fail("residual input missing");
          MapView res = nhwc_map(p->in[3]);
          if (res.h != p->out_map.h || res.w != p->out_map.w || res.c != p->out_map.c)
            throw fail("residual shape differs from the output");
          p->has_res = true;
        }
        p->conv = std::make_unique<Conv2d>(cp, plan_->constant_data(p->in[1]), bias);
      } else {
        ConvTransposeParams cp;
        cp.cin = cin, cp.cout = cout, cp.kh = o->kernel_h(), cp.kw = o->kernel_w();
        cp.sh = o->stride_h(), cp.sw = o->stride_w(), cp.pad_t = o->pad_top(), cp.pad_l = o->pad_left();
        cp.pad_b = o->pad_bottom(), cp.pad_r = o->pad_right(), cp.dh = o->dilation_h(), cp.dw = o->dilation_w();
        cp.group = g, cp.out_pad_h = o->output_pad_h(), cp.out_pad_w = o->output_pad_w();
        cp.act = act_of(o->activation());
        if (w.shape != std::vector<int64_t>{cin, cout / g, cp.kh, cp.kw}) throw fail("weight shape does not fit");
        if (conv_transpose_out_size(p->in_map.h, cp.kh, cp.sh, cp.pad_t, cp.pad_b, cp.dh, cp.out_pad_h) !=
                p->out_map.h ||
            conv_transpose_out_size(p->in_map.w, cp.kw, cp.sw, cp.pad_l, cp.pad_r, cp.dw, cp.out_pad_w) != p->out_map.w)
          throw fail("output size does not follow from the input and window");
        p->conv_t = std::make_unique<ConvTranspose2d>(cp, plan_->constant_data(p->in[1]), bias);
      }
      full_spans(p->out_map);
      break;
    }
    case OpKind::MaxPool: {
      const fb::PoolOptions* o = op->options_as_PoolOptions();
      if (!o) throw fail("missing pooling options");
      need_inputs(1, 1);
      need_outputs(1);
      p->in_map = nhwc_map(p->in[0]);
      p->out_map = nhwc_map(p->out[0]);
      PoolParams& pp = p->pool;
      pp.kh = o->kernel_h(), pp.kw = o->kernel_w(), pp.sh = o->stride_h(), pp.sw = o->stride_w();
      pp.pad_t = o->pad_top(), pp.pad_l = o->pad_left(), pp.pad_b = o->pad_bottom(), pp.pad_r = o->pad_right();
      pp.dh = o->dilation_h(), pp.dw = o->dilation_w();
      // Ranges first: the window extents below must not overflow.
      if (pp.kh <= 0 || pp.kw <= 0 || pp.sh <= 0 || pp.sw <= 0 || pp.dh <= 0 || pp.dw <= 0 || pp.pad_t < 0 ||
          pp.pad_l < 0 || pp.pad_b < 0 || pp.pad_r < 0 || pp.kh > 64 || pp.kw > 64 || pp.sh > 4096 ||
          pp.sw > 4096 || pp.dh > 4096 || pp.dw > 4096 || pp.pad_t >= pp.kh * pp.dh || pp.pad_l >= pp.kw * pp.dw ||
          pp.pad_b >= pp.kh * pp.dh || pp.pad_r >= pp.kw * pp.dw)
        throw fail("invalid window parameters");
      if (p->in_map.c != p->out_map.c ||
          conv_out_size(p->in_map.h, pp.kh, pp.sh, pp.pad_t, pp.pad_b, pp.dh) != p->out_map.h ||
          conv_out_size(p->in_map.w, pp.kw, pp.sw, pp.pad_l, pp.pad_r, pp.dw) != p->out_map.w)
        throw fail("output size does not follow from the input and window");
      full_spans(p->out_map);
      break;
    }
    case OpKind::ResizeNearest: {
      const fb::ResizeOptions* o = op->options_as_ResizeOptions();
      if (!o) throw fail("missing resize options");
      need_inputs(1, 1);
      need_outputs(1);
      p->in_map = nhwc_map(p->in[0]);
      p->out_map = nhwc_map(p->out[0]);
      p->scale_h = o->scale_h();
      p->scale_w = o->scale_w();
      if (p->scale_h <= 0 || p->scale_w <= 0 || p->in_map.c != p->out_map.c ||
          static_cast<int64_t>(p->in_map.h) * p->scale_h != p->out_map.h ||
          static_cast<int64_t>(p->in_map.w) * p->scale_w != p->out_map.w)
        throw fail("output size does not follow from the scale");
      full_spans(p->out_map);
      break;
    }
    case OpKind::Add:
    case OpKind::Sub:
    case OpKind::Mul:
    case OpKind::Div: {
      need_inputs(2, 2);
      need_outputs(1);
      p->bop = p->kind == OpKind::Add   ? BinaryOp::Add
               : p->kind == OpKind::Sub ? BinaryOp::Sub
               : p->kind == OpKind::Mul ? BinaryOp::Mul
                                        : BinaryOp::Div;
      const TensorInfo &a = info(p->in[0]), &b = info(p->in[1]), &y = info(p->out[0]);
      if (y.layout != a.layout && !a.constant) throw fail("operands in different layouts");
      if (y.layout != b.layout && !b.constant) throw fail("operands in different layouts");
      p->a_shape = physical_shape(a);
      p->b_shape = physical_shape(b);
      p->out_shape = physical_shape(y);
      // numpy broadcasting of the physical shapes must give the output shape exactly.
      {
        int r = std::max(p->a_shape.rank, p->b_shape.rank);
        if (r != p->out_shape.rank) throw fail("broadcast rank does not match the output");
        for (int i = 0; i < r; ++i) {
          int64_t da = i < r - p->a_shape.rank ? 1 : p->a_shape.d[i - (r - p->a_shape.rank)];
          int64_t db = i < r - p->b_shape.rank ? 1 : p->b_shape.d[i - (r - p->b_shape.rank)];
          if ((da != db && da != 1 && db != 1) || std::max(da, db) != p->out_shape.d[i] || std::min(da, db) < 1)
            throw fail("operand shapes do not broadcast to the output");
        }
      }
      if (y.layout == PlanLayout::NHWC) {
        p->out_map = nhwc_map(p->out[0]);
        auto operand = [&](int t, LocalOperand& lo) {
          const TensorInfo& ti = info(t);
          if (!ti.constant && ti.layout == PlanLayout::NHWC && ti.shape == y.shape) {
            lo.kind = LocalOperand::Map;
            return true;
          }
          if (ti.constant && ti.numel == 1) {
            lo.kind = LocalOperand::Scalar;
            lo.values = plan_->constant_data(t);
            return true;
          }
          if (ti.constant && ti.numel == y.c() && ti.physical.back() == y.c()) {
            lo.kind = LocalOperand::Channels;
            lo.values = plan_->constant_data(t);
            return true;
          }
          return false;
        };
        if (operand(p->in[0], p->la) && operand(p->in[1], p->lb)) full_spans(p->out_map);
      }
      if (!p->local) require_dense({p->in[0], p->in[1], p->out[0]});
      break;
    }
    case OpKind::Sigmoid: {
      need_inputs(1, 1);
      need_outputs(1);
      const TensorInfo &x = info(p->in[0]), &y = info(p->out[0]);
      if (x.shape != y.shape || x.layout != y.layout) throw fail("input and output differ");
      if (y.layout == PlanLayout::NHWC) {
        p->in_map = nhwc_map(p->in[0]);
        p->out_map = nhwc_map(p->out[0]);
        full_spans(p->out_map);
      } else {
        require_dense({p->in[0], p->out[0]});
      }
      break;
    }
    case OpKind::Concat:
    case OpKind::Split: {
      const fb::AxisOptions* o = op->options_as_AxisOptions();
      if (!o) throw fail("missing axis options");
      bool concat = p->kind == OpKind::Concat;
      if (concat) {
        need_inputs(1, kMaxParts);
        need_outputs(1);
      } else {
        need_inputs(1, 1);
        if (p->out.empty() || p->out.size() > kMaxParts) throw fail("wrong number of outputs");
      }
      const std::vector<int>& parts = concat ? p->in : p->out;
      int whole = concat ? p->out[0] : p->in[0];
      const TensorInfo& wt = info(whole);
      int rank = static_cast<int>(wt.physical.size());
      p->axis = o->axis();
      if (p->axis < 0 || p->axis >= rank) throw fail("axis out of range");
      int64_t total = 0;
      for (int t : parts) {
        if (t < 0) throw fail("missing tensor");
        const TensorInfo& pt = info(t);
        if (pt.layout != wt.layout || pt.physical.size() != wt.physical.size()) throw fail("parts differ in layout");
        for (int d = 0; d < rank; ++d)
          if (d != p->axis && pt.physical[d] != wt.physical[d]) throw fail("parts differ off the axis");
        total += pt.physical[p->axis];
        p->part_shapes.push_back(physical_shape(pt));
        p->sizes.push_back(pt.physical[p->axis]);
      }
      if (parts.size() > kMaxParts) throw fail("more than 64 parts");
      p->a_shape = physical_shape(wt);
      if (total != wt.physical[p->axis]) throw fail("part sizes do not add up");
      if (wt.layout == PlanLayout::NHWC && p->axis == 3) {
        p->out_map = nhwc_map(whole);  // for Split, the map being split
        full_spans(p->out_map);
      } else {
        require_dense(p->in);
        require_dense(p->out);
        p->blocks = wt.layout == PlanLayout::Plain;
        for (int d = 0; d < p->axis; ++d) p->blocks = p->blocks && wt.physical[d] == 1;
        int64_t off = 0;
        for (int t : parts) {
          p->block_offset.push_back(off);
          off += info(t).numel;
        }
      }
      break;
    }
    case OpKind::Reshape: {
      need_inputs(1, 1);
      need_outputs(1);
      const TensorInfo &x = info(p->in[0]), &y = info(p->out[0]);
      if (x.numel != y.numel) throw fail("element counts differ");
      require_dense({p->in[0], p->out[0]});
      if (x.layout != PlanLayout::Plain || y.layout != PlanLayout::Plain) throw fail("reshape needs plain layouts");
      break;
    }
    case OpKind::Transpose: {
      const fb::TransposeOptions* o = op->options_as_TransposeOptions();
      need_inputs(1, 1);
      need_outputs(1);
      const TensorInfo &x = info(p->in[0]), &y = info(p->out[0]);
      if (!o || !o->perm() || o->perm()->size() != x.physical.size()) throw fail("invalid permutation");
      require_dense({p->in[0], p->out[0]});
      if (x.layout != PlanLayout::Plain || y.layout != PlanLayout::Plain) throw fail("transpose needs plain layouts");
      int r = static_cast<int>(x.physical.size());
      if (static_cast<int>(y.physical.size()) != r) throw fail("rank differs");
      bool seen[Shape::kMaxRank] = {};
      for (int i = 0; i < r; ++i) {
        int v = o->perm()->Get(static_cast<flatbuffers::uoffset_t>(i));
        if (v < 0 || v >= r || seen[v] || y.physical[i] != x.physical[v]) throw fail("invalid permutation");
        seen[v] = true;
        p->perm[i] = v;
      }
      p->a_shape = physical_shape(x);
      break;
    }
    case OpKind::MatMul: {
      need_inputs(2, 2);
      need_outputs(1);
      const TensorInfo &a = info(p->in[0]), &b = info(p->in[1]), &y = info(p->out[0]);
      if (a.layout != PlanLayout::Plain || b.layout != PlanLayout::Plain || y.layout != PlanLayout::Plain)
        throw fail("matmul needs plain layouts");
      require_dense({p->in[0], p->in[1], p->out[0]});
      p->a_shape = physical_shape(a);
      p->b_shape = physical_shape(b);
      p->out_shape = physical_shape(y);
      int ra = p->a_shape.rank, rb = p->b_shape.rank, ry = p->out_shape.rank;
      if (ra < 2 || rb < 2 || ry != std::max(ra, rb) || p->a_shape[ra - 1] != p->b_shape[rb - 2] ||
          p->out_shape[ry - 2] != p->a_shape[ra - 2] || p->out_shape[ry - 1] != p->b_shape[rb - 1])
        throw fail("operand shapes do not multiply to the output");
      for (int i = 0; i < ry - 2; ++i) {
        int64_t da = i < ry - ra ? 1 : p->a_shape.d[i - (ry - ra)];
        int64_t db = i < ry - rb ? 1 : p->b_shape.d[i - (ry - rb)];
        if ((da != db && da != 1 && db != 1) || std::max(da, db) != p->out_shape.d[i])
          throw fail("batch axes do not broadcast");
      }
      break;
    }
    case OpKind::Softmax: {
      const fb::AxisOptions* o = op->options_as_AxisOptions();
      need_inputs(1, 1);
      need_outputs(1);
      const TensorInfo &x = info(p->in[0]), &y = info(p->out[0]);
      if (!o || x.physical != y.physical || x.layout != PlanLayout::Plain) throw fail("invalid softmax");
      require_dense({p->in[0], p->out[0]});
      p->axis = o->axis();
      if (p->axis < 0 || p->axis >= static_cast<int>(x.physical.size())) throw fail("axis out of range");
      p->a_shape = physical_shape(x);
      break;
    }
    case OpKind::Slice: {
      const fb::SliceOptions* o = op->options_as_SliceOptions();
      need_inputs(1, 1);
      need_outputs(1);
      const TensorInfo &x = info(p->in[0]), &y = info(p->out[0]);
      size_t r = x.physical.size();
      if (!o || !o->starts() || !o->steps() || !vector_aligned(o->starts()) || !vector_aligned(o->steps()) ||
          o->starts()->size() != r || o->steps()->size() != r ||
          y.physical.size() != r || x.layout != PlanLayout::Plain)
        throw fail("invalid slice");
      require_dense({p->in[0], p->out[0]});
      for (size_t i = 0; i < r; ++i) {
        int64_t s = o->starts()->Get(static_cast<flatbuffers::uoffset_t>(i));
        int64_t st = o->steps()->Get(static_cast<flatbuffers::uoffset_t>(i));
        int64_t n = y.physical[i];
        // Every index start + k*step (k < n) must lie inside the input.
        if (st == 0 || st > (int64_t(1) << 31) || st < -(int64_t(1) << 31) ||
            (n > 0 && (s < 0 || s >= x.physical[i] || s + (n - 1) * st < 0 || s + (n - 1) * st >= x.physical[i])))
          throw fail("slice reads outside its input");
        p->starts[i] = s;
        p->steps[i] = st;
      }
      p->a_shape = physical_shape(x);
      p->out_shape = physical_shape(y);
      break;
    }
    case OpKind::Relayout: {
      const fb::RelayoutOptions* o = op->options_as_RelayoutOptions();
      need_inputs(1, 1);
      need_outputs(1);
      const TensorInfo &x = info(p->in[0]), &y = info(p->out[0]);
      if (!o || x.shape != y.shape || x.shape.size() != 4 || x.layout == y.layout || y.layout != o->to())
        throw fail("invalid relayout");
      p->to_nhwc = y.layout == PlanLayout::NHWC;
      require_dense({p->to_nhwc ? p->in[0] : p->out[0]});
      if (p->to_nhwc) p->out_map = nhwc_map(p->out[0]);
      else p->in_map = nhwc_map(p->in[0]);
      full_spans(p->to_nhwc ? p->out_map : p->in_map);
      if (x.shape[0] != 1) throw fail("batch must be 1");
      break;
    }
    default:
      throw fail("unknown op kind");
  }
  if (p->kind == OpKind::Conv) workspace_bytes_ = std::max(workspace_bytes_, p->conv->workspace_bytes());
  if (p->kind == OpKind::ConvTranspose) workspace_bytes_ = std::max(workspace_bytes_, p->conv_t->workspace_bytes());
  ops_[static_cast<size_t>(index)] = std::move(p);
}

void OpRunner::run(int index, const TensorBases& bases, const SpanList* spans, ThreadPool& pool,
                   const Workspace& ws) const {
  if (!ops_.at(static_cast<size_t>(index))) throw Error("op runner: op " + std::to_string(index) + " was not prepared");
  const PreparedOp& p = *ops_[static_cast<size_t>(index)];
  const SpanList& sl = spans ? *spans : p.span_list;
  auto d = [&](int t) { return data(t, bases); };
  auto m = [&](int t) { return map(t, bases); };
  switch (p.kind) {
    case OpKind::Conv: {
      MapView res = p.has_res ? m(p.in[3]) : MapView{};
      p.conv->run(m(p.in[0]), m(p.out[0]), p.has_res ? &res : nullptr, sl, pool, ws);
      break;
    }
    case OpKind::ConvTranspose:
      p.conv_t->run(m(p.in[0]), m(p.out[0]), sl, pool, ws);
      break;
    case OpKind::MaxPool:
      maxpool2d(p.pool, m(p.in[0]), m(p.out[0]), sl, pool);
      break;
    case OpKind::ResizeNearest:
      resize_nearest(p.scale_h, p.scale_w, m(p.in[0]), m(p.out[0]), sl, pool);
      break;
    case OpKind::Add:
    case OpKind::Sub:
    case OpKind::Mul:
    case OpKind::Div:
      if (p.local) {
        LocalOperand a = p.la, b = p.lb;
        if (a.kind == LocalOperand::Map) a.map = m(p.in[0]);
        if (b.kind == LocalOperand::Map) b.map = m(p.in[1]);
        binary_local(p.bop, a, b, m(p.out[0]), sl, pool);
      } else {
        binary_plain(p.bop, d(p.in[0]), p.a_shape, d(p.in[1]), p.b_shape, d(p.out[0]), p.out_shape, pool);
      }
      break;
    case OpKind::Sigmoid:
      if (p.local)
        unary_local(UnaryOp::Sigmoid, m(p.in[0]), m(p.out[0]), sl, pool);
      else
        unary_plain(UnaryOp::Sigmoid, d(p.in[0]), d(p.out[0]), tensor(p.in[0]).numel, pool);
      break;
    case OpKind::Concat:
      if (p.local) {
        MapView whole = m(p.out[0]);
        int off = 0;
        for (int t : p.in) {
          MapView part = m(t), dst = whole.channels(off, part.c);
          if (part.data != dst.data || part.pixel_stride != dst.pixel_stride)  // not stored in place
            copy_channels(part, dst, sl, pool);
          off += part.c;
        }
      } else if (p.blocks) {
        float* whole = d(p.out[0]);
        for (size_t i = 0; i < p.in.size(); ++i) {
          const float* part = d(p.in[i]);
          float* dst = whole + p.block_offset[i];
          if (part != dst)  // not stored in place
            std::memmove(dst, part, static_cast<size_t>(tensor(p.in[i]).bytes()));
        }
      } else {
        const float* ptrs[kMaxParts];
        for (size_t i = 0; i < p.in.size(); ++i) ptrs[i] = d(p.in[i]);
        concat_plain(ptrs, p.part_shapes.data(), static_cast<int>(p.in.size()), p.axis, d(p.out[0]), pool);
      }
      break;
    case OpKind::Split:
      if (p.local) {
        MapView whole = m(p.in[0]);
        int off = 0;
        for (int t : p.out) {
          MapView part = m(t), src = whole.channels(off, part.c);
          if (part.data != src.data || part.pixel_stride != src.pixel_stride)  // not a view of the input
            copy_channels(src, part, sl, pool);
          off += part.c;
        }
      } else if (p.blocks) {
        const float* whole = d(p.in[0]);
        for (size_t i = 0; i < p.out.size(); ++i) {
          float* part = d(p.out[i]);
          const float* src = whole + p.block_offset[i];
          if (part != src)  // not a view of the input
            std::memmove(part, src, static_cast<size_t>(tensor(p.out[i]).bytes()));
        }
      } else {
        float* ptrs[kMaxParts];
        for (size_t i = 0; i < p.out.size(); ++i) ptrs[i] = d(p.out[i]);
        split_plain(d(p.in[0]), p.a_shape, p.axis, ptrs, p.sizes.data(), static_cast<int>(p.out.size()), pool);
      }
      break;
    case OpKind::Reshape:
      if (d(p.out[0]) != d(p.in[0]))  // not a view of its input
        std::memcpy(d(p.out[0]), d(p.in[0]), static_cast<size_t>(tensor(p.in[0]).bytes()));
      break;
    case OpKind::Transpose:
      transpose(d(p.in[0]), p.a_shape, p.perm, d(p.out[0]), pool);
      break;
    case OpKind::MatMul:
      matmul(d(p.in[0]), p.a_shape, d(p.in[1]), p.b_shape, d(p.out[0]), p.out_shape, pool);
      break;
    case OpKind::Softmax:
      softmax(d(p.in[0]), p.a_shape, p.axis, d(p.out[0]), pool);
      break;
    case OpKind::Slice:
      slice(d(p.in[0]), p.a_shape, p.starts, p.steps, d(p.out[0]), p.out_shape, pool);
      break;
    case OpKind::Relayout:
      if (p.to_nhwc)
        nchw_to_nhwc(d(p.in[0]), m(p.out[0]), pool);
      else
        nhwc_to_nchw(m(p.in[0]), d(p.out[0]), pool);
      break;
  }
}

}  // namespace fx
