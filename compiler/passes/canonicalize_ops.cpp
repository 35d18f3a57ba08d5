#include "compiler/passes/passes.h"
#include "compiler/shape_inference.h"

namespace fx::passes {

int canonicalize_ops(ir::Graph& g) {
  int rewritten = 0;
  for (int n : g.live_nodes()) {
    ir::Node node = g.node(n);
    if (node.op == "Cast" && g.tensor(node.inputs[0]).dtype == ir::DType::F32 && node.attr_int("to", 1) == 1) {
      g.node(n).op = "Identity";
      g.node(n).attrs.clear();
      ++rewritten;
      continue;
    }
    if (node.op != "Softmax") continue;
    const ir::Tensor& x = g.tensor(node.inputs[0]);
    int64_t rank = static_cast<int64_t>(x.shape.size());
    int64_t axis = normalize_axis(node.attr_int("axis", g.opset >= 13 ? -1 : 1), rank, "node '" + node.name + "'");
    if (g.opset >= 13 || axis == rank - 1) {
      g.node(n).set_int("axis", axis);
      continue;
    }
    // Opset < 13: softmax over the flattened axes [axis, rank).
    int64_t outer = 1, inner = 1;
    for (int64_t i = 0; i < rank; ++i) (i < axis ? outer : inner) *= x.shape[i];
    auto make_tensor = [&](const std::string& name, std::vector<int64_t> shape) {
      ir::Tensor t;
      t.name = g.unique_name(name);
      t.shape = std::move(shape);
      t.shape_known = true;
      return g.add_tensor(t);
    };
    int flat = make_tensor(node.name + "/flat", {outer, inner});
    int soft = make_tensor(node.name + "/softmax", {outer, inner});
    int s1 = g.add_constant_ints(g.unique_name(node.name + "/flat_shape"), {2}, {outer, inner});
    int s2 = g.add_constant_ints(g.unique_name(node.name + "/shape"), {rank}, x.shape);
    ir::Node r1, sm, r2;
    r1.name = node.name + "/reshape_in";
    r1.op = "Reshape";
    r1.inputs = {node.inputs[0], s1};
    r1.outputs = {flat};
    sm.name = node.name;
    sm.op = "Softmax";
    sm.inputs = {flat};
    sm.outputs = {soft};
    sm.set_int("axis", 1);
    r2.name = node.name + "/reshape_out";
    r2.op = "Reshape";
    r2.inputs = {soft, s2};
    r2.outputs = {node.outputs[0]};
    g.remove_node(n);
    g.add_node(r1);
    g.add_node(sm);
    g.add_node(r2);
    ++rewritten;
  }
  if (rewritten) g.topo_sort();
  return rewritten;
}

}  // namespace fx::passes
