#include <cmath>

#include "compiler/passes/passes.h"
#include "runtime/error.h"

namespace fx::passes {

namespace {

// Per-channel (scale, shift) of an inference-mode BatchNormalization.
void bn_affine(const ir::Graph& g, const ir::Node& bn, std::vector<double>& scale, std::vector<double>& shift) {
  for (int i = 1; i <= 4; ++i)
    if (i >= static_cast<int>(bn.inputs.size()) || bn.inputs[i] < 0 || !g.tensor(bn.inputs[i]).constant)
      throw Error("BatchNormalization '" + bn.name + "': scale, bias, mean and variance must be constants");
  auto gamma = g.tensor(bn.inputs[1]).to_floats();
  auto beta = g.tensor(bn.inputs[2]).to_floats();
  auto mean = g.tensor(bn.inputs[3]).to_floats();
  auto var = g.tensor(bn.inputs[4]).to_floats();
  size_t c = gamma.size();
  if (beta.size() != c || mean.size() != c || var.size() != c)
    throw Error("BatchNormalization '" + bn.name + "': parameter sizes differ");
  double eps = bn.attr_float("epsilon", 1e-5f);
  scale.resize(c);
  shift.resize(c);
  for (size_t i = 0; i < c; ++i) {
    scale[i] = gamma[i] / std::sqrt(static_cast<double>(var[i]) + eps);
    shift[i] = beta[i] - mean[i] * scale[i];
  }
}

}  // namespace

int fold_batchnorm(ir::Graph& g) {
  int folded = 0;
  for (int n : g.live_nodes()) {
    if (g.node(n).op != "BatchNormalization") continue;
    ir::Node bn = g.node(n);
    std::vector<double> scale, shift;
    bn_affine(g, bn, scale, shift);
    int x = bn.inputs[0];
    int conv = g.producer(x);
    bool fold_into_conv = conv >= 0 && g.node(conv).op == "Conv" && g.consumers(x).size() == 1 &&
                          !g.is_graph_output(x) && g.tensor(g.node(conv).inputs[1]).constant &&
                          static_cast<int64_t>(scale.size()) == g.tensor(x).shape.at(1);
    if (fold_into_conv) {
      ir::Node& cv = g.node(conv);
      ir::Tensor w = g.tensor(cv.inputs[1]);
      auto wv = w.to_floats();
      int64_t cout = w.shape[0], per = w.numel() / cout;
      std::vector<float> bias(static_cast<size_t>(cout), 0.f);
      if (cv.inputs.size() > 2 && cv.inputs[2] >= 0) bias = g.tensor(cv.inputs[2]).to_floats();
      for (int64_t o = 0; o < cout; ++o) {
        for (int64_t i = 0; i < per; ++i) wv[o * per + i] = static_cast<float>(wv[o * per + i] * scale[o]);
        bias[o] = static_cast<float>(bias[o] * scale[o] + shift[o]);
      }
      int wt = g.add_constant_floats(g.unique_name(w.name + "/bn_folded"), w.shape, wv);
      int bt = g.add_constant_floats(g.unique_name(cv.name + "/bn_bias"), {cout}, bias);
      ir::Node& cv2 = g.node(conv);  // add_constant may not invalidate nodes, but re-fetch for clarity
      cv2.inputs.resize(3);
      cv2.inputs[1] = wt;
      cv2.inputs[2] = bt;
      g.replace_uses(bn.outputs[0], x);
      // Keep the BN output's name when it is a graph output.
      if (g.is_graph_output(x)) {
        std::string bn_name = g.tensor(bn.outputs[0]).name;
        g.rename_tensor(bn.outputs[0], g.unique_name(bn_name + "/unused"));
        g.rename_tensor(x, bn_name);
      }
      g.remove_node(n);
    } else {
      int64_t c = static_cast<int64_t>(scale.size());
      std::vector<float> s(scale.begin(), scale.end()), b(shift.begin(), shift.end());
      int st = g.add_constant_floats(g.unique_name(bn.name + "/scale"), {1, c, 1, 1}, s);
      int bt = g.add_constant_floats(g.unique_name(bn.name + "/shift"), {1, c, 1, 1}, b);
      ir::Tensor mid;
      mid.name = g.unique_name(bn.name + "/scaled");
      mid.shape = g.tensor(x).shape;
      mid.shape_known = true;
      int mt = g.add_tensor(mid);
      ir::Node mul;
      mul.name = bn.name + "/mul";
      mul.op = "Mul";
      mul.inputs = {x, st};
      mul.outputs = {mt};
      ir::Node add;
      add.name = bn.name + "/add";
      add.op = "Add";
      add.inputs = {mt, bt};
      add.outputs = {bn.outputs[0]};
      g.remove_node(n);
      g.add_node(mul);
      g.add_node(add);
    }
    ++folded;
  }
  if (folded) g.topo_sort();
  return folded;
}

}  // namespace fx::passes
