#include "compiler/alias_plan.h"

#include <algorithm>

namespace fx {

namespace {

bool is_nhwc_activation(const ir::Tensor& t) {
  return !t.constant && t.layout == ir::Layout::NHWC && t.shape.size() == 4 && t.shape[0] == 1;
}

bool channel_axis(const ir::Node& n) { return n.attr_int("axis", 0) == 1; }

// True when node n reads and writes tensor t through a strided NHWC map view at run time (the
// executor's local kernels), so t may live inside a wider buffer.
bool can_view(const ir::Graph& g, const ir::Node& n, int t) {
  const std::string& op = n.op;
  if (op == "Conv" || op == "ConvTranspose" || op == "MaxPool" || op == "Resize" || op == "Relayout") return true;
  if (op == "Concat" || op == "Split") return channel_axis(n) && g.tensor(n.outputs[0]).layout == ir::Layout::NHWC;
  if (op == "Sigmoid") return g.tensor(n.outputs[0]).layout == ir::Layout::NHWC;
  if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div") {
    const ir::Tensor& y = g.tensor(n.outputs[0]);
    if (y.layout != ir::Layout::NHWC) return false;
    // The executor's local form: every operand a map of the output's shape, a per-channel vector or a scalar.
    for (int in : n.inputs) {
      const ir::Tensor& it = g.tensor(in);
      if (!it.constant && it.shape != y.shape) return false;
      if (it.constant && it.numel() != 1 && !(it.numel() == y.shape[1] && it.shape.back() == y.shape[1])) return false;
    }
    return true;
  }
  return false;
}

}  // namespace

AliasPlan plan_aliases(const ir::Graph& g) {
  int nt = g.tensor_count();
  AliasPlan a;
  a.root.resize(static_cast<size_t>(nt));
  a.channel_offset.assign(static_cast<size_t>(nt), 0);
  for (int t = 0; t < nt; ++t) a.root[t] = t;

  auto viewable = [&](int t) {
    const ir::Tensor& tt = g.tensor(t);
    if (!is_nhwc_activation(tt) || g.is_graph_output(t)) return false;
    if (std::find(g.inputs.begin(), g.inputs.end(), t) != g.inputs.end()) return false;
    int p = g.producer(t);
    if (p < 0 || !can_view(g, g.node(p), t)) return false;
    for (int c : g.consumers(t))
      if (!can_view(g, g.node(c), t)) return false;
    return true;
  };
  // Follows alias links to the storage owner, accumulating the channel offset.
  auto resolve = [&](int t, int& offset) {
    offset = 0;
    while (a.root[t] != t) {
      offset += a.channel_offset[t];
      t = a.root[t];
    }
    return t;
  };

  std::vector<int> order = g.live_nodes();
  // Concat outputs claim their inputs.
  for (int n : order) {
    const ir::Node& node = g.node(n);
    if (node.op != "Concat" || !channel_axis(node) || !is_nhwc_activation(g.tensor(node.outputs[0]))) continue;
    int out = node.outputs[0];
    int off = 0;
    for (int in : node.inputs) {
      int c = static_cast<int>(g.tensor(in).shape[1]);
      bool once = std::count(node.inputs.begin(), node.inputs.end(), in) == 1;
      if (once && a.root[in] == in && viewable(in)) {
        a.root[in] = out;
        a.channel_offset[in] = off;
      }
      off += c;
    }
  }
  // Split outputs become slices of their input, or the input moves into the buffer its outputs
  // already live in when they sit there contiguously in the split's order.
  for (int n : order) {
    const ir::Node& node = g.node(n);
    if (node.op != "Split" || !channel_axis(node) || !is_nhwc_activation(g.tensor(node.inputs[0]))) continue;
    int x = node.inputs[0];
    int base_root = -1, base = 0;
    bool contiguous = true;
    int off = 0;
    for (int y : node.outputs) {
      int o;
      int r = resolve(y, o);
      if (r == y) contiguous = false;
      if (base_root < 0) base_root = r, base = o - off;
      if (r != base_root || o != base + off) contiguous = false;
      off += static_cast<int>(g.tensor(y).shape[1]);
    }
    int xo;
    if (contiguous && a.root[x] == x && viewable(x) && resolve(base_root, xo) == base_root && base_root != x) {
      a.root[x] = base_root;
      a.channel_offset[x] = base;
      continue;
    }
    off = 0;
    for (int y : node.outputs) {
      if (a.root[y] == y && viewable(y) && viewable(x)) {
        a.root[y] = x;
        a.channel_offset[y] = off;
      }
      off += static_cast<int>(g.tensor(y).shape[1]);
    }
  }
  // Plain Concat / Split along an axis with nothing but size-1 axes before it: every part is one
  // contiguous block of the whole, so parts live inside the whole at element offsets. (The detect head's
  // box/class split and the final concat of output0.)
  auto outer_is_one = [&](const ir::Node& node, int whole) {
    int64_t axis = node.attr_int("axis", 0);
    const auto& shape = g.tensor(whole).shape;
    if (axis < 0) axis += static_cast<int64_t>(shape.size());
    for (int64_t d = 0; d < axis; ++d)
      if (shape[static_cast<size_t>(d)] != 1) return false;
    return true;
  };
  auto plain_activation = [&](int t) {
    const ir::Tensor& tt = g.tensor(t);
    return !tt.constant && tt.layout == ir::Layout::Plain &&
           std::find(g.inputs.begin(), g.inputs.end(), t) == g.inputs.end();
  };
  for (int n : order) {
    const ir::Node& node = g.node(n);
    if (node.op != "Concat" || g.tensor(node.outputs[0]).layout != ir::Layout::Plain) continue;
    int out = node.outputs[0];
    if (!outer_is_one(node, out)) continue;
    int64_t off = 0;
    for (int in : node.inputs) {
      bool once = std::count(node.inputs.begin(), node.inputs.end(), in) == 1;
      if (once && a.root[in] == in && plain_activation(in) && !g.is_graph_output(in)) {
        a.root[in] = out;
        a.channel_offset[in] = static_cast<int>(off);
      }
      off += g.tensor(in).numel();
    }
  }
  for (int n : order) {
    const ir::Node& node = g.node(n);
    if (node.op != "Split" || g.tensor(node.inputs[0]).layout != ir::Layout::Plain) continue;
    int x = node.inputs[0];
    if (!outer_is_one(node, x) || !plain_activation(x)) continue;
    int64_t off = 0;
    for (int y : node.outputs) {
      if (a.root[y] == y && plain_activation(y) && !g.is_graph_output(y)) {
        a.root[y] = x;
        a.channel_offset[y] = static_cast<int>(off);
      }
      off += g.tensor(y).numel();
    }
  }
  // A Reshape of a plain tensor moves no data: its output is the same bytes as its input.
  for (int n : order) {
    const ir::Node& node = g.node(n);
    if (node.op != "Reshape" && node.op != "Flatten" && node.op != "Squeeze" && node.op != "Unsqueeze") continue;
    int x = node.inputs[0], y = node.outputs[0];
    const ir::Tensor &xt = g.tensor(x), &yt = g.tensor(y);
    if (xt.constant || xt.layout != ir::Layout::Plain || yt.layout != ir::Layout::Plain || a.root[y] != y) continue;
    if (g.is_graph_output(y) || g.is_graph_output(x)) continue;
    if (std::find(g.inputs.begin(), g.inputs.end(), x) != g.inputs.end()) continue;
    int o;
    if (resolve(x, o) == y) continue;
    a.root[y] = x;
    a.channel_offset[y] = 0;
  }
  // Flatten chains so every alias points at its storage owner directly.
  AliasPlan flat = a;
  for (int t = 0; t < nt; ++t) {
    int o;
    flat.root[t] = resolve(t, o);
    flat.channel_offset[t] = o;
  }
  return flat;
}

}  // namespace fx
