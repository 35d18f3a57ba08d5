#include "compiler/plan_writer.h"

#include <cmath>
#include <map>

#include "compiler/class_names.h"
#include "compiler/shape_inference.h"
#include "runtime/error.h"
#include "runtime/plan.h"
#include "runtime/plan_checksum.h"

namespace fx {

namespace fb = ::fluxshard::plan;

namespace {

std::string meta_value(const ir::Graph& g, const std::string& key) {
  for (const auto& kv : g.metadata)
    if (kv.first == key) return kv.second;
  return "";
}

fb::Activation activation_of(const ir::Node& n) {
  std::string a = n.attr_string("activation", "");
  if (a == "SiLU") return fb::Activation::SiLU;
  if (a == "Sigmoid") return fb::Activation::Sigmoid;
  return fb::Activation::None;
}

// Logical NCHW axis -> physical NHWC axis.
int physical_axis(int axis, ir::Layout layout) {
  if (layout != ir::Layout::NHWC) return axis;
  static const int map[4] = {0, 3, 1, 2};
  return map[axis];
}

std::string describe(const ir::Node& n) { return "node '" + n.name + "' (" + n.op + ")"; }

void check_resize(const ir::Graph& g, const ir::Node& n, int& sh, int& sw) {
  std::string mode = n.attr_string("mode", "nearest");
  std::string ct = n.attr_string("coordinate_transformation_mode", "half_pixel");
  std::string nm = n.attr_string("nearest_mode", "round_prefer_floor");
  const auto& x = g.tensor(n.inputs[0]).shape;
  const auto& y = g.tensor(n.outputs[0]).shape;
  bool integer = x.size() == 4 && y[0] == x[0] && y[1] == x[1] && y[2] % x[2] == 0 && y[3] % x[3] == 0;
  if (mode != "nearest" || !integer)
    throw Error(describe(n) + ": only nearest upsampling by integer factors is supported (mode '" + mode + "')");
  sh = static_cast<int>(y[2] / x[2]);
  sw = static_cast<int>(y[3] / x[3]);
  // For integer factors these coordinate rules all pick source index floor(o / scale).
  bool floor_rule = (ct == "asymmetric" && nm == "floor") ||
                    ((ct == "half_pixel" || ct == "pytorch_half_pixel") &&
                     (nm == "round_prefer_floor" || nm == "round_prefer_ceil"));
  if (!floor_rule && !(sh == 1 && sw == 1))
    throw Error(describe(n) + ": coordinate mode '" + ct + "' with nearest mode '" + nm + "' is not supported");
}

}  // namespace

std::vector<uint8_t> write_plan(const ir::Graph& g, const AliasPlan& aliases, const MemoryPlan& mem,
                                const std::string& producer) {
  flatbuffers::FlatBufferBuilder b(1 << 20);

  // Weight buffers first (their vectors are 64-byte aligned), one per constant read by an op.
  std::map<int, int> buffer_of;  // ir tensor -> buffer index
  std::vector<flatbuffers::Offset<fb::Buffer>> buffers;
  auto buffer_for = [&](int t) {
    auto it = buffer_of.find(t);
    if (it != buffer_of.end()) return it->second;
    const ir::Tensor& tt = g.tensor(t);
    std::vector<float> v = tt.to_floats();
    // A NaN or infinite weight turns every detection downstream into garbage; refuse it here, where
    // the model is named, rather than compile it into a plan whose checksum then vouches for it.
    for (size_t i = 0; i < v.size(); ++i)
      if (!std::isfinite(v[i]))
        throw Error("tensor '" + tt.name + "' holds a non-finite value (" + (std::isnan(v[i]) ? "NaN" : "infinity") +
                    ") at element " + std::to_string(i));
    b.ForceVectorAlignment(v.size() * 4, 1, 64);
    auto data = b.CreateVector(reinterpret_cast<const uint8_t*>(v.data()), v.size() * 4);
    int idx = static_cast<int>(buffers.size());
    buffers.push_back(fb::CreateBuffer(b, data));
    buffer_of[t] = idx;
    return idx;
  };

  // Plan tensors: those the ops (as lowered) and the ports refer to.
  std::map<int, int> plan_tensor;  // ir tensor -> plan tensor index
  std::vector<int> tensor_order;
  auto ref = [&](int t) {
    if (t < 0) return -1;
    auto it = plan_tensor.find(t);
    if (it != plan_tensor.end()) return it->second;
    int idx = static_cast<int>(tensor_order.size());
    plan_tensor[t] = idx;
    tensor_order.push_back(t);
    return idx;
  };

  std::vector<flatbuffers::Offset<fb::Op>> ops;
  for (int ni : g.live_nodes()) {
    const ir::Node& n = g.node(ni);
    for (int t : n.inputs)
      if (t >= 0 && g.tensor(t).dtype != ir::DType::F32 &&
          !(g.tensor(t).constant && (n.op == "Reshape" || n.op == "Unsqueeze" || n.op == "Squeeze" ||
                                     n.op == "Split" || n.op == "Resize" || n.op == "Slice")))
        throw Error(describe(n) + ": reads '" + g.tensor(t).name + "' of type " + ir::dtype_name(g.tensor(t).dtype) +
                    "; only float32 tensors are supported at run time");
    fb::OpKind kind;
    fb::OpOptions opt_type = fb::OpOptions::NONE;
    flatbuffers::Offset<void> opt;
    std::vector<int> inputs;
    const ir::Layout layout = g.tensor(n.outputs[0]).layout;

    if (n.op == "Conv" || n.op == "ConvTranspose") {
      const auto& x = g.tensor(n.inputs[0]).shape;
      const auto& w = g.tensor(n.inputs[1]).shape;
      if (!g.tensor(n.inputs[1]).constant) throw Error(describe(n) + ": weights must be constants");
      if (n.inputs.size() > 2 && n.inputs[2] >= 0 && !g.tensor(n.inputs[2]).constant)
        throw Error(describe(n) + ": bias must be a constant");
      Window2d win = window_of(n, x[2], x[3], w[2], w[3]);
      auto op_pad = n.attr_ints("output_padding", {0, 0});
      kind = n.op == "Conv" ? fb::OpKind::Conv : fb::OpKind::ConvTranspose;
      bool residual = n.attr_int("residual", 0) != 0;
      opt = fb::CreateConvOptions(b, win.kh, win.kw, win.sh, win.sw, win.pad_t, win.pad_l, win.pad_b, win.pad_r,
                                  win.dh, win.dw, static_cast<int>(n.attr_int("group", 1)), activation_of(n),
                                  n.op == "ConvTranspose" ? static_cast<int>(op_pad[0]) : 0,
                                  n.op == "ConvTranspose" ? static_cast<int>(op_pad[1]) : 0, residual)
                .Union();
      opt_type = fb::OpOptions::ConvOptions;
      inputs = {n.inputs[0], n.inputs[1], n.inputs.size() > 2 ? n.inputs[2] : -1};
      if (residual) inputs.push_back(n.inputs.at(3));
    } else if (n.op == "MaxPool") {
      const auto& x = g.tensor(n.inputs[0]).shape;
      auto ks = n.attr_ints("kernel_shape");
      Window2d win = window_of(n, x[2], x[3], ks[0], ks[1]);
      kind = fb::OpKind::MaxPool;
      opt = fb::CreatePoolOptions(b, win.kh, win.kw, win.sh, win.sw, win.pad_t, win.pad_l, win.pad_b, win.pad_r,
                                  win.dh, win.dw)
                .Union();
      opt_type = fb::OpOptions::PoolOptions;
      inputs = {n.inputs[0]};
    } else if (n.op == "Resize") {
      int sh = 1, sw = 1;
      check_resize(g, n, sh, sw);
      kind = fb::OpKind::ResizeNearest;
      opt = fb::CreateResizeOptions(b, sh, sw).Union();
      opt_type = fb::OpOptions::ResizeOptions;
      inputs = {n.inputs[0]};
    } else if (n.op == "Concat" || n.op == "Split") {
      int rank = static_cast<int>(g.tensor(n.inputs[0]).shape.size());
      int axis = static_cast<int>(normalize_axis(n.attr_int("axis", 0), rank, describe(n)));
      if (layout == ir::Layout::NHWC) axis = physical_axis(axis, layout);
      std::vector<int64_t> sizes;
      if (n.op == "Split") sizes = n.attr_ints("split");
      kind = n.op == "Concat" ? fb::OpKind::Concat : fb::OpKind::Split;
      opt = fb::CreateAxisOptions(b, axis, sizes.empty() ? 0 : b.CreateVector(sizes)).Union();
      opt_type = fb::OpOptions::AxisOptions;
      inputs = n.op == "Concat" ? n.inputs : std::vector<int>{n.inputs[0]};
    } else if (n.op == "Add" || n.op == "Sub" || n.op == "Mul" || n.op == "Div") {
      kind = n.op == "Add"   ? fb::OpKind::Add
             : n.op == "Sub" ? fb::OpKind::Sub
             : n.op == "Mul" ? fb::OpKind::Mul
                             : fb::OpKind::Div;
      inputs = n.inputs;
    } else if (n.op == "Sigmoid") {
      kind = fb::OpKind::Sigmoid;
      inputs = {n.inputs[0]};
    } else if (n.op == "Reshape" || n.op == "Flatten" || n.op == "Squeeze" || n.op == "Unsqueeze" ||
               n.op == "Identity") {
      kind = fb::OpKind::Reshape;
      inputs = {n.inputs[0]};
    } else if (n.op == "Transpose") {
      kind = fb::OpKind::Transpose;
      auto perm64 = n.attr_ints("perm");
      std::vector<int> perm(perm64.begin(), perm64.end());
      opt = fb::CreateTransposeOptions(b, b.CreateVector(perm)).Union();
      opt_type = fb::OpOptions::TransposeOptions;
      inputs = {n.inputs[0]};
    } else if (n.op == "MatMul") {
      kind = fb::OpKind::MatMul;
      inputs = n.inputs;
    } else if (n.op == "Softmax") {
      kind = fb::OpKind::Softmax;
      opt = fb::CreateAxisOptions(b, static_cast<int>(n.attr_int("axis", -1))).Union();
      opt_type = fb::OpOptions::AxisOptions;
      inputs = {n.inputs[0]};
    } else if (n.op == "Slice") {
      kind = fb::OpKind::Slice;
      auto starts = n.attr_ints("resolved_starts");
      auto steps = n.attr_ints("resolved_steps");
      opt = fb::CreateSliceOptions(b, b.CreateVector(starts), b.CreateVector(steps)).Union();
      opt_type = fb::OpOptions::SliceOptions;
      inputs = {n.inputs[0]};
    } else if (n.op == "Relayout") {
      kind = fb::OpKind::Relayout;
      bool to_nhwc = n.attr_string("to", "") == "NHWC";
      opt = fb::CreateRelayoutOptions(b, to_nhwc ? fb::Layout::NHWC : fb::Layout::Plain).Union();
      opt_type = fb::OpOptions::RelayoutOptions;
      inputs = {n.inputs[0]};
    } else {
      throw Error(describe(n) + " cannot run at run time (it should have been folded into a constant; its input "
                  "is probably not static)");
    }

    std::vector<int> in_idx, out_idx;
    for (int t : inputs) {
      if (t >= 0 && g.tensor(t).constant) buffer_for(t);
      in_idx.push_back(ref(t));
    }
    for (int t : n.outputs) out_idx.push_back(ref(t));
    const ir::SpatialInfo& s = n.spatial;
    fb::Region region = n.region == ir::Region::Local    ? fb::Region::Local
                        : n.region == ir::Region::Global ? fb::Region::Global
                                                         : fb::Region::Epilogue;
    auto spatial = fb::CreateSpatial(b, region, s.kernel_h, s.kernel_w, s.stride_h, s.stride_w, s.pad_top,
                                     s.pad_left, s.pad_bottom, s.pad_right, s.dilation_h, s.dilation_w, s.halo_top,
                                     s.halo_left, s.halo_bottom, s.halo_right, s.upsample,
                                     g.tensor(n.outputs[0]).stride);
    auto name = b.CreateString(n.name);
    auto ins = b.CreateVector(in_idx);
    auto outs = b.CreateVector(out_idx);
    ops.push_back(fb::CreateOp(b, kind, name, ins, outs, opt_type, opt, spatial, n.flops));
  }

  std::vector<int> in_ports, out_ports;
  for (int t : g.inputs) in_ports.push_back(ref(t));
  for (int t : g.outputs) out_ports.push_back(ref(t));

  // Storage owners of aliased tensors must be in the plan too.
  for (size_t i = 0; i < tensor_order.size(); ++i) ref(aliases.root[tensor_order[i]]);

  std::vector<flatbuffers::Offset<fb::Tensor>> tensors;
  for (int t : tensor_order) {
    const ir::Tensor& tt = g.tensor(t);
    auto name = b.CreateString(tt.name);
    auto shape = b.CreateVector(tt.shape);
    fb::Layout layout = tt.layout == ir::Layout::NHWC ? fb::Layout::NHWC : fb::Layout::Plain;
    uint64_t offset = 0;
    int buffer = -1;
    if (tt.constant) {
      buffer = buffer_for(t);
    } else {
      if (mem.offset.at(static_cast<size_t>(t)) < 0) throw Error("tensor '" + tt.name + "' has no memory");
      offset = static_cast<uint64_t>(mem.offset[static_cast<size_t>(t)]);
    }
    int root = aliases.root[t];
    int alias_of = root == t ? -1 : plan_tensor.at(root);
    int64_t pixel_stride = root == t || tt.layout != ir::Layout::NHWC ? 0 : g.tensor(root).shape[1];
    tensors.push_back(fb::CreateTensor(b, name, fb::DType::F32, shape, layout, tt.stride, offset, buffer, alias_of,
                                       aliases.channel_offset[t], pixel_stride));
  }

  // Metadata.
  std::string task = meta_value(g, "task");
  if (task.empty()) task = g.outputs.size() == 2 ? "segment" : "detect";
  if (task != "detect" && task != "segment")
    throw Error("the model's task is '" + task + "'; only detect and segment are supported");
  std::vector<std::string> names = parse_class_names(meta_value(g, "names"));
  const ir::Tensor& input = g.tensor(g.inputs.at(0));
  if (input.shape.size() != 4 || input.shape[0] != 1 || input.shape[1] != 3)
    throw Error("the model input must be [1,3,H,W]; it is " + ir::shape_string(input.shape));
  int max_stride = 0;
  for (int t = 0; t < g.tensor_count(); ++t) max_stride = std::max(max_stride, g.tensor(t).stride);
  std::vector<flatbuffers::Offset<fb::KeyValue>> kvs;
  for (const auto& kv : g.metadata)
    kvs.push_back(fb::CreateKeyValue(b, b.CreateString(kv.first), b.CreateString(kv.second)));
  auto meta = fb::CreateModelMeta(b, b.CreateString(task), b.CreateVectorOfStrings(names),
                                  static_cast<int>(input.shape[2]), static_cast<int>(input.shape[3]), max_stride,
                                  b.CreateVector(kvs), b.CreateString(producer));

  auto plan = fb::CreatePlan(b, kPlanVersion, meta, b.CreateVector(tensors), b.CreateVector(ops),
                             b.CreateVector(buffers), b.CreateVector(in_ports), b.CreateVector(out_ports),
                             mem.arena_bytes, 0, kChecksumPlaceholder);
  fb::FinishPlanBuffer(b, plan);
  std::vector<uint8_t> bytes(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
  if (!seal_plan(bytes.data(), bytes.size())) throw Error("internal error: the plan just written does not verify");
  return bytes;
}

}  // namespace fx
