#include <map>

#include "compiler/passes/passes.h"
#include "runtime/error.h"

namespace fx::passes {

namespace {

bool needs_nhwc(const std::string& op) {
  return op == "Conv" || op == "ConvTranspose" || op == "MaxPool" || op == "Resize";
}

// Ops that work in either layout when every activation they touch is 4-D.
bool layout_flexible(const std::string& op) {
  return op == "Add" || op == "Sub" || op == "Mul" || op == "Div" || op == "Sigmoid" || op == "Concat" ||
         op == "Split";
}

// Physical (N, H, W, C) order of a logical NCHW 4-D constant, after padding its rank to 4.
std::vector<float> to_nhwc(const std::vector<float>& v, const std::vector<int64_t>& s4) {
  int64_t n = s4[0], c = s4[1], h = s4[2], w = s4[3];
  std::vector<float> out(v.size());
  for (int64_t a = 0; a < n; ++a)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x)
          out[((a * h + y) * w + x) * c + ch] = v[((a * c + ch) * h + y) * w + x];
  return out;
}

}  // namespace

int assign_layouts(ir::Graph& g) {
  using ir::Layout;
  // 1. Each node's mode, which is also the layout of its outputs. Graph inputs stay Plain (the ONNX
  //    contract); constants are rewritten below.
  for (int n : g.live_nodes()) {
    ir::Node& node = g.node(n);
    Layout mode = Layout::Plain;
    if (needs_nhwc(node.op)) {
      if (g.tensor(node.inputs[0]).shape.size() != 4)
        throw Error("node '" + node.name + "' (" + node.op + "): only 4-D (NCHW) inputs are supported");
      mode = Layout::NHWC;
    } else if (layout_flexible(node.op)) {
      bool all_4d = true, any_nhwc_input = false;
      for (int t : node.inputs) {
        if (t < 0) continue;
        const ir::Tensor& tt = g.tensor(t);
        if (tt.constant) continue;
        all_4d = all_4d && tt.shape.size() == 4;
        any_nhwc_input = any_nhwc_input || tt.layout == Layout::NHWC;
      }
      for (int t : node.outputs) all_4d = all_4d && g.tensor(t).shape.size() == 4;
      if (all_4d && any_nhwc_input) mode = Layout::NHWC;
    }
    for (int t : node.outputs) g.tensor(t).layout = mode;
  }

  // 2. Relayouts where a reader needs the other layout (one per tensor and target layout).
  int inserted = 0;
  std::map<std::pair<int, int>, int> converted;  // (tensor, target layout) -> converted tensor
  auto convert = [&](int t, Layout to) -> int {
    auto key = std::make_pair(t, static_cast<int>(to));
    auto it = converted.find(key);
    if (it != converted.end()) return it->second;
    ir::Tensor ct;
    ct.name = g.unique_name(g.tensor(t).name + (to == Layout::NHWC ? "/nhwc" : "/nchw"));
    ct.dtype = g.tensor(t).dtype;
    ct.shape = g.tensor(t).shape;
    ct.shape_known = true;
    ct.layout = to;
    int c = g.add_tensor(ct);
    ir::Node r;
    r.name = ct.name;
    r.op = "Relayout";
    r.inputs = {t};
    r.outputs = {c};
    r.set_string("to", to == Layout::NHWC ? "NHWC" : "Plain");
    g.add_node(r);
    ++inserted;
    converted[key] = c;
    return c;
  };

  for (int n : g.live_nodes()) {
    if (g.node(n).op == "Relayout") continue;
    Layout mode = g.tensor(g.node(n).outputs[0]).layout;
    size_t count = g.node(n).inputs.size();
    for (size_t i = 0; i < count; ++i) {
      int t = g.node(n).inputs[i];
      if (t < 0) continue;
      const ir::Tensor& tt = g.tensor(t);
      if (tt.constant) {
        // Weights of Conv-like ops keep their ONNX layout (the runtime packs them); constants read by
        // element-wise ops in NHWC mode are stored in physical order.
        bool elementwise = layout_flexible(g.node(n).op);
        if (mode == Layout::NHWC && elementwise && tt.layout != Layout::NHWC) {
          if (tt.shape.size() > 4) throw Error("node '" + g.node(n).name + "': constant of rank > 4");
          std::vector<int64_t> s4(4 - tt.shape.size(), 1);
          s4.insert(s4.end(), tt.shape.begin(), tt.shape.end());
          int c = g.add_constant_floats(g.unique_name(tt.name + "/nhwc"), s4, to_nhwc(tt.to_floats(), s4));
          g.tensor(c).layout = Layout::NHWC;
          g.node(n).inputs[i] = c;
        }
        continue;
      }
      if (needs_nhwc(g.node(n).op) && i > 0 && !(g.node(n).op == "Conv" && i == 3)) continue;  // params
      if (tt.layout != mode) {
        int c = convert(t, mode);
        g.node(n).inputs[i] = c;
      }
    }
  }
  // Graph outputs are Plain, under their ONNX names.
  for (int& out : g.outputs) {
    if (g.tensor(out).layout != Layout::NHWC) continue;
    std::string name = g.tensor(out).name;
    g.rename_tensor(out, g.unique_name(name + "/nhwc"));
    int c = convert(out, Layout::Plain);
    g.rename_tensor(c, name);
    out = c;
  }
  if (inserted) g.topo_sort();
  return inserted;
}

}  // namespace fx::passes
