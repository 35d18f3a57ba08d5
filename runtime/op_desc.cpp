#include "runtime/op_desc.h"

#include <algorithm>

#include "runtime/error.h"
#include "runtime/plan.h"

namespace fx {

namespace fb = ::fluxshard::plan;

std::string OpDesc::what() const {
  return "plan op " + std::to_string(index) + " (" + op_kind_name(kind) + " '" + name + "')";
}

namespace {

Shape physical_shape(const TensorInfo& t) { return Shape::from(t.physical.begin(), t.physical.end()); }

Act act_of(fb::Activation a) {
  switch (a) {
    case fb::Activation::SiLU: return Act::SiLU;
    case fb::Activation::Sigmoid: return Act::Sigmoid;
    default: return Act::None;
  }
}

// The checks and the decoding of one op, with the helpers they share.
struct Describer {
  const Plan& plan;
  const std::vector<TensorInfo>& tensors;
  const fb::Op* op;
  OpDesc& d;

  Error fail(const std::string& why) const { return Error(d.what() + ": " + why); }
  const TensorInfo& info(int t) const { return tensors.at(static_cast<size_t>(t)); }
  void need_inputs(size_t lo, size_t hi) const {
    if (d.in.size() < lo || d.in.size() > hi) throw fail("wrong number of inputs");
    for (size_t i = 0; i < lo; ++i)
      if (d.in[i] < 0) throw fail("missing input");
  }
  void need_outputs(size_t n) const {
    if (d.out.size() != n) throw fail("wrong number of outputs");
  }
  // An NHWC activation: its h, w, c.
  const TensorInfo& nhwc(int t) const {
    const TensorInfo& ti = info(t);
    if (ti.layout != PlanLayout::NHWC || ti.constant) throw fail("'" + ti.name + "' must be an NHWC activation");
    return ti;
  }
  // Kernels of the plain (row-major) family cannot read channel slices of wider maps.
  void require_dense(const std::vector<int>& ts) const {
    for (int t : ts)
      if (t >= 0 && info(t).alias_root >= 0 && info(t).layout == PlanLayout::NHWC)
        throw fail("'" + info(t).name + "' is a channel slice; this op needs dense storage");
  }
  // A window's parameters within the ranges every kernel and the label arithmetic take.
  static bool window_ok(int kh, int kw, int sh, int sw, int dh, int dw, int pt, int pl, int pb, int pr) {
    return kh > 0 && kw > 0 && sh > 0 && sw > 0 && dh > 0 && dw > 0 && pt >= 0 && pl >= 0 && pb >= 0 && pr >= 0 &&
           kh <= 64 && kw <= 64 && pt <= 4096 && pl <= 4096 && pb <= 4096 && pr <= 4096 && sh <= 4096 &&
           sw <= 4096 && dh <= 4096 && dw <= 4096;
  }

  void conv();
  void maxpool();
  void resize();
  void binary();
  void sigmoid();
  void concat_split();
  void reshape();
  void transpose();
  void matmul();
  void softmax();
  void slice();
  void relayout();
};

void Describer::conv() {
  const fb::ConvOptions* o = op->options_as_ConvOptions();
  if (!o) throw fail("missing convolution options");
  const bool plain_conv = d.kind == OpKind::Conv;
  need_inputs(2, plain_conv ? 4 : 3);
  need_outputs(1);
  const TensorInfo &x = nhwc(d.in[0]), &y = nhwc(d.out[0]);
  const TensorInfo& w = info(d.in[1]);
  if (!w.constant || w.shape.size() != 4) throw fail("weights must be a 4-D constant");
  const bool bias = d.in.size() > 2 && d.in[2] >= 0;
  if (bias && !info(d.in[2]).constant) throw fail("bias must be a constant");
  const int g = o->group();
  const int cin = static_cast<int>(x.c()), cout = static_cast<int>(y.c());
  if (g <= 0 || cin % g || cout % g) throw fail("group does not divide the channels");
  if (!window_ok(o->kernel_h(), o->kernel_w(), o->stride_h(), o->stride_w(), o->dilation_h(), o->dilation_w(),
                 o->pad_top(), o->pad_left(), o->pad_bottom(), o->pad_right()))
    throw fail("invalid window parameters");
  if (bias && info(d.in[2]).numel != cout) throw fail("bias size does not match the output channels");
  d.wy = {o->kernel_h(), o->stride_h(), o->pad_top(), o->dilation_h()};
  d.wx = {o->kernel_w(), o->stride_w(), o->pad_left(), o->dilation_w()};
  if (plain_conv) {
    ConvParams& cp = d.conv;
    cp.cin = cin, cp.cout = cout, cp.kh = o->kernel_h(), cp.kw = o->kernel_w();
    cp.sh = o->stride_h(), cp.sw = o->stride_w(), cp.pad_t = o->pad_top(), cp.pad_l = o->pad_left();
    cp.pad_b = o->pad_bottom(), cp.pad_r = o->pad_right(), cp.dh = o->dilation_h(), cp.dw = o->dilation_w();
    cp.group = g, cp.act = act_of(o->activation());
    if (w.shape != std::vector<int64_t>{cout, cin / g, cp.kh, cp.kw}) throw fail("weight shape does not fit");
    if (conv_out_size(x.h(), cp.kh, cp.sh, cp.pad_t, cp.pad_b, cp.dh) != y.h() ||
        conv_out_size(x.w(), cp.kw, cp.sw, cp.pad_l, cp.pad_r, cp.dw) != y.w())
      throw fail("output size does not follow from the input and window");
    if (o->has_residual()) {
      if (d.in.size() != 4 || d.in[3] < 0) throw fail("residual input missing");
      const TensorInfo& r = nhwc(d.in[3]);
      if (r.h() != y.h() || r.w() != y.w() || r.c() != y.c()) throw fail("residual shape differs from the output");
      d.has_residual = true;
    }
  } else {
    ConvTransposeParams& cp = d.conv_t;
    cp.cin = cin, cp.cout = cout, cp.kh = o->kernel_h(), cp.kw = o->kernel_w();
    cp.sh = o->stride_h(), cp.sw = o->stride_w(), cp.pad_t = o->pad_top(), cp.pad_l = o->pad_left();
    cp.pad_b = o->pad_bottom(), cp.pad_r = o->pad_right(), cp.dh = o->dilation_h(), cp.dw = o->dilation_w();
    cp.group = g, cp.out_pad_h = o->output_pad_h(), cp.out_pad_w = o->output_pad_w();
    cp.act = act_of(o->activation());
    if (w.shape != std::vector<int64_t>{cin, cout / g, cp.kh, cp.kw}) throw fail("weight shape does not fit");
    if (conv_transpose_out_size(x.h(), cp.kh, cp.sh, cp.pad_t, cp.pad_b, cp.dh, cp.out_pad_h) != y.h() ||
        conv_transpose_out_size(x.w(), cp.kw, cp.sw, cp.pad_l, cp.pad_r, cp.dw, cp.out_pad_w) != y.w())
      throw fail("output size does not follow from the input and window");
  }
  d.local = true;
}

void Describer::maxpool() {
  const fb::PoolOptions* o = op->options_as_PoolOptions();
  if (!o) throw fail("missing pooling options");
  need_inputs(1, 1);
  need_outputs(1);
  const TensorInfo &x = nhwc(d.in[0]), &y = nhwc(d.out[0]);
  PoolParams& pp = d.pool;
  pp.kh = o->kernel_h(), pp.kw = o->kernel_w(), pp.sh = o->stride_h(), pp.sw = o->stride_w();
  pp.pad_t = o->pad_top(), pp.pad_l = o->pad_left(), pp.pad_b = o->pad_bottom(), pp.pad_r = o->pad_right();
  pp.dh = o->dilation_h(), pp.dw = o->dilation_w();
  // Ranges first: the window extents below must not overflow. A pad never covers a whole window.
  if (!window_ok(pp.kh, pp.kw, pp.sh, pp.sw, pp.dh, pp.dw, pp.pad_t, pp.pad_l, pp.pad_b, pp.pad_r) ||
      pp.pad_t >= pp.kh * pp.dh || pp.pad_l >= pp.kw * pp.dw || pp.pad_b >= pp.kh * pp.dh ||
      pp.pad_r >= pp.kw * pp.dw)
    throw fail("invalid window parameters");
  if (x.c() != y.c() || conv_out_size(x.h(), pp.kh, pp.sh, pp.pad_t, pp.pad_b, pp.dh) != y.h() ||
      conv_out_size(x.w(), pp.kw, pp.sw, pp.pad_l, pp.pad_r, pp.dw) != y.w())
    throw fail("output size does not follow from the input and window");
  d.wy = {pp.kh, pp.sh, pp.pad_t, pp.dh};
  d.wx = {pp.kw, pp.sw, pp.pad_l, pp.dw};
  d.local = true;
}

void Describer::resize() {
  const fb::ResizeOptions* o = op->options_as_ResizeOptions();
  if (!o) throw fail("missing resize options");
  need_inputs(1, 1);
  need_outputs(1);
  const TensorInfo &x = nhwc(d.in[0]), &y = nhwc(d.out[0]);
  d.scale_h = o->scale_h();
  d.scale_w = o->scale_w();
  if (d.scale_h <= 0 || d.scale_w <= 0 || x.c() != y.c() || x.h() * d.scale_h != y.h() || x.w() * d.scale_w != y.w())
    throw fail("output size does not follow from the scale");
  d.local = true;
}

void Describer::binary() {
  need_inputs(2, 2);
  need_outputs(1);
  d.bop = d.kind == OpKind::Add   ? BinaryOp::Add
          : d.kind == OpKind::Sub ? BinaryOp::Sub
          : d.kind == OpKind::Mul ? BinaryOp::Mul
                                  : BinaryOp::Div;
  const TensorInfo &a = info(d.in[0]), &b = info(d.in[1]), &y = info(d.out[0]);
  if (y.layout != a.layout && !a.constant) throw fail("operands in different layouts");
  if (y.layout != b.layout && !b.constant) throw fail("operands in different layouts");
  d.a_shape = physical_shape(a);
  d.b_shape = physical_shape(b);
  d.out_shape = physical_shape(y);
  // numpy broadcasting of the physical shapes must give the output shape exactly.
  const int r = std::max(d.a_shape.rank, d.b_shape.rank);
  if (r != d.out_shape.rank) throw fail("broadcast rank does not match the output");
  for (int i = 0; i < r; ++i) {
    const int64_t da = i < r - d.a_shape.rank ? 1 : d.a_shape.d[i - (r - d.a_shape.rank)];
    const int64_t db = i < r - d.b_shape.rank ? 1 : d.b_shape.d[i - (r - d.b_shape.rank)];
    if ((da != db && da != 1 && db != 1) || std::max(da, db) != d.out_shape.d[i] || std::min(da, db) < 1)
      throw fail("operand shapes do not broadcast to the output");
  }
  if (y.layout == PlanLayout::NHWC) {
    nhwc(d.out[0]);
    // The local form takes a map of the output's size, a per-channel constant or a scalar.
    auto operand = [&](int t, LocalOperand::Kind& kind) {
      const TensorInfo& ti = info(t);
      if (!ti.constant && ti.layout == PlanLayout::NHWC && ti.shape == y.shape) kind = LocalOperand::Map;
      else if (ti.constant && ti.numel == 1) kind = LocalOperand::Scalar;
      else if (ti.constant && ti.numel == y.c() && ti.physical.back() == y.c()) kind = LocalOperand::Channels;
      else return false;
      return true;
    };
    d.local = operand(d.in[0], d.la) && operand(d.in[1], d.lb);
  }
  if (!d.local) require_dense({d.in[0], d.in[1], d.out[0]});
}

void Describer::sigmoid() {
  need_inputs(1, 1);
  need_outputs(1);
  const TensorInfo &x = info(d.in[0]), &y = info(d.out[0]);
  if (x.shape != y.shape || x.layout != y.layout) throw fail("input and output differ");
  if (y.layout == PlanLayout::NHWC) {
    nhwc(d.in[0]);
    nhwc(d.out[0]);
    d.local = true;
  } else {
    require_dense({d.in[0], d.out[0]});
  }
}

void Describer::concat_split() {
  const fb::AxisOptions* o = op->options_as_AxisOptions();
  if (!o) throw fail("missing axis options");
  const bool concat = d.kind == OpKind::Concat;
  if (concat) {
    need_inputs(1, OpDesc::kMaxParts);
    need_outputs(1);
  } else {
    need_inputs(1, 1);
    if (d.out.empty() || d.out.size() > OpDesc::kMaxParts) throw fail("wrong number of outputs");
  }
  const std::vector<int>& parts = concat ? d.in : d.out;
  const int whole = concat ? d.out[0] : d.in[0];
  const TensorInfo& wt = info(whole);
  const int rank = static_cast<int>(wt.physical.size());
  d.axis = o->axis();
  if (d.axis < 0 || d.axis >= rank) throw fail("axis out of range");
  int64_t total = 0;
  for (int t : parts) {
    if (t < 0) throw fail("missing tensor");
    const TensorInfo& pt = info(t);
    if (pt.layout != wt.layout || pt.physical.size() != wt.physical.size()) throw fail("parts differ in layout");
    for (int k = 0; k < rank; ++k)
      if (k != d.axis && pt.physical[static_cast<size_t>(k)] != wt.physical[static_cast<size_t>(k)])
        throw fail("parts differ off the axis");
    total += pt.physical[static_cast<size_t>(d.axis)];
    d.part_shapes.push_back(physical_shape(pt));
    d.sizes.push_back(pt.physical[static_cast<size_t>(d.axis)]);
  }
  d.a_shape = physical_shape(wt);
  if (total != wt.physical[static_cast<size_t>(d.axis)]) throw fail("part sizes do not add up");
  if (wt.layout == PlanLayout::NHWC && d.axis == 3) {
    nhwc(whole);
    d.local = true;
  } else {
    require_dense(d.in);
    require_dense(d.out);
    d.blocks = wt.layout == PlanLayout::Plain;
    for (int k = 0; k < d.axis; ++k) d.blocks = d.blocks && wt.physical[static_cast<size_t>(k)] == 1;
    int64_t off = 0;
    for (int t : parts) {
      d.block_offset.push_back(off);
      off += info(t).numel;
    }
  }
}

void Describer::reshape() {
  need_inputs(1, 1);
  need_outputs(1);
  const TensorInfo &x = info(d.in[0]), &y = info(d.out[0]);
  if (x.numel != y.numel) throw fail("element counts differ");
  require_dense({d.in[0], d.out[0]});
  if (x.layout != PlanLayout::Plain || y.layout != PlanLayout::Plain) throw fail("reshape needs plain layouts");
}

void Describer::transpose() {
  const fb::TransposeOptions* o = op->options_as_TransposeOptions();
  need_inputs(1, 1);
  need_outputs(1);
  const TensorInfo &x = info(d.in[0]), &y = info(d.out[0]);
  if (!o || !o->perm() || o->perm()->size() != x.physical.size()) throw fail("invalid permutation");
  require_dense({d.in[0], d.out[0]});
  if (x.layout != PlanLayout::Plain || y.layout != PlanLayout::Plain) throw fail("transpose needs plain layouts");
  const int r = static_cast<int>(x.physical.size());
  if (static_cast<int>(y.physical.size()) != r) throw fail("rank differs");
  bool seen[Shape::kMaxRank] = {};
  for (int i = 0; i < r; ++i) {
    const int v = o->perm()->Get(static_cast<flatbuffers::uoffset_t>(i));
    if (v < 0 || v >= r || seen[v] || y.physical[static_cast<size_t>(i)] != x.physical[static_cast<size_t>(v)])
      throw fail("invalid permutation");
    seen[v] = true;
    d.perm[i] = v;
  }
  d.a_shape = physical_shape(x);
}

void Describer::matmul() {
  need_inputs(2, 2);
  need_outputs(1);
  const TensorInfo &a = info(d.in[0]), &b = info(d.in[1]), &y = info(d.out[0]);
  if (a.layout != PlanLayout::Plain || b.layout != PlanLayout::Plain || y.layout != PlanLayout::Plain)
    throw fail("matmul needs plain layouts");
  require_dense({d.in[0], d.in[1], d.out[0]});
  d.a_shape = physical_shape(a);
  d.b_shape = physical_shape(b);
  d.out_shape = physical_shape(y);
  const int ra = d.a_shape.rank, rb = d.b_shape.rank, ry = d.out_shape.rank;
  if (ra < 2 || rb < 2 || ry != std::max(ra, rb) || d.a_shape[ra - 1] != d.b_shape[rb - 2] ||
      d.out_shape[ry - 2] != d.a_shape[ra - 2] || d.out_shape[ry - 1] != d.b_shape[rb - 1])
    throw fail("operand shapes do not multiply to the output");
  for (int i = 0; i < ry - 2; ++i) {
    const int64_t da = i < ry - ra ? 1 : d.a_shape.d[i - (ry - ra)];
    const int64_t db = i < ry - rb ? 1 : d.b_shape.d[i - (ry - rb)];
    if ((da != db && da != 1 && db != 1) || std::max(da, db) != d.out_shape.d[i]) throw fail("batch axes do not broadcast");
  }
}

void Describer::softmax() {
  const fb::AxisOptions* o = op->options_as_AxisOptions();
  need_inputs(1, 1);
  need_outputs(1);
  const TensorInfo &x = info(d.in[0]), &y = info(d.out[0]);
  if (!o || x.physical != y.physical || x.layout != PlanLayout::Plain) throw fail("invalid softmax");
  require_dense({d.in[0], d.out[0]});
  d.axis = o->axis();
  if (d.axis < 0 || d.axis >= static_cast<int>(x.physical.size())) throw fail("axis out of range");
  d.a_shape = physical_shape(x);
}

void Describer::slice() {
  const fb::SliceOptions* o = op->options_as_SliceOptions();
  need_inputs(1, 1);
  need_outputs(1);
  const TensorInfo &x = info(d.in[0]), &y = info(d.out[0]);
  const size_t r = x.physical.size();
  if (!o || !o->starts() || !o->steps() || !vector_aligned(o->starts()) || !vector_aligned(o->steps()) ||
      o->starts()->size() != r || o->steps()->size() != r || y.physical.size() != r || x.layout != PlanLayout::Plain)
    throw fail("invalid slice");
  require_dense({d.in[0], d.out[0]});
  for (size_t i = 0; i < r; ++i) {
    const int64_t s = o->starts()->Get(static_cast<flatbuffers::uoffset_t>(i));
    const int64_t st = o->steps()->Get(static_cast<flatbuffers::uoffset_t>(i));
    const int64_t n = y.physical[i];
    // Every index start + k * step (k < n) must lie inside the input.
    if (st == 0 || st > (int64_t(1) << 31) || st < -(int64_t(1) << 31) ||
        (n > 0 && (s < 0 || s >= x.physical[i] || s + (n - 1) * st < 0 || s + (n - 1) * st >= x.physical[i])))
      throw fail("slice reads outside its input");
    d.starts[i] = s;
    d.steps[i] = st;
  }
  d.a_shape = physical_shape(x);
  d.out_shape = physical_shape(y);
}

void Describer::relayout() {
  const fb::RelayoutOptions* o = op->options_as_RelayoutOptions();
  need_inputs(1, 1);
  need_outputs(1);
  const TensorInfo &x = info(d.in[0]), &y = info(d.out[0]);
  if (!o || x.shape != y.shape || x.shape.size() != 4 || x.layout == y.layout || y.layout != o->to())
    throw fail("invalid relayout");
  d.to_nhwc = y.layout == PlanLayout::NHWC;
  require_dense({d.to_nhwc ? d.in[0] : d.out[0]});
  nhwc(d.to_nhwc ? d.out[0] : d.in[0]);
  if (x.shape[0] != 1) throw fail("batch must be 1");
  d.local = true;
}

}  // namespace

OpDesc describe_op(const Plan& plan, const std::vector<TensorInfo>& tensors, int index) {
  const auto* ops = plan.fb().ops();
  if (!ops || index < 0 || static_cast<flatbuffers::uoffset_t>(index) >= ops->size())
    throw Error("op " + std::to_string(index) + " is not in the plan");
  const fb::Op* op = ops->Get(static_cast<flatbuffers::uoffset_t>(index));
  OpDesc d;
  d.index = index;
  d.kind = op->kind();
  d.name = op->name() ? op->name()->str() : "";
  d.region = op->spatial() ? op->spatial()->region() : PlanRegion::Epilogue;
  if (const fb::Spatial* sp = op->spatial()) {
    d.spatial = {sp->kernel_h(),  sp->kernel_w(),  sp->stride_h(),    sp->stride_w(),    sp->pad_top(),
                 sp->pad_left(),  sp->pad_bottom(), sp->pad_right(),  sp->halo_top(),    sp->halo_left(),
                 sp->halo_bottom(), sp->halo_right(), sp->upsample()};
  }
  d.flops = op->flops();
  d.in.assign(op->inputs()->begin(), op->inputs()->end());
  d.out.assign(op->outputs()->begin(), op->outputs()->end());
  Describer s{plan, tensors, op, d};
  for (int t : d.in)
    if (t < -1 || t >= static_cast<int>(tensors.size())) throw s.fail("reads a tensor that does not exist");
  for (int t : d.out)
    if (t < 0 || t >= static_cast<int>(tensors.size())) throw s.fail("writes a tensor that does not exist");
  switch (d.kind) {
    case OpKind::Conv:
    case OpKind::ConvTranspose: s.conv(); break;
    case OpKind::MaxPool: s.maxpool(); break;
    case OpKind::ResizeNearest: s.resize(); break;
    case OpKind::Add:
    case OpKind::Sub:
    case OpKind::Mul:
    case OpKind::Div: s.binary(); break;
    case OpKind::Sigmoid: s.sigmoid(); break;
    case OpKind::Concat:
    case OpKind::Split: s.concat_split(); break;
    case OpKind::Reshape: s.reshape(); break;
    case OpKind::Transpose: s.transpose(); break;
    case OpKind::MatMul: s.matmul(); break;
    case OpKind::Softmax: s.softmax(); break;
    case OpKind::Slice: s.slice(); break;
    case OpKind::Relayout: s.relayout(); break;
    default: throw s.fail("unknown op kind");
  }
  return d;
}

}  // namespace fx
