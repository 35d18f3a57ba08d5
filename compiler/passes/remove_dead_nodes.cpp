#include "compiler/passes/passes.h"

namespace fx::passes {

int remove_dead_nodes(ir::Graph& g) {
  int removed = 0;
  for (int n : g.live_nodes()) {
    ir::Node& node = g.node(n);
    if (node.op != "Identity" || node.inputs.empty() || node.inputs[0] < 0) continue;
    int out = node.outputs[0];
    if (g.is_graph_output(out)) continue;  // keep the output's name
    g.replace_uses(out, node.inputs[0]);
    g.remove_node(n);
    ++removed;
  }
  for (bool changed = true; changed;) {
    changed = false;
    for (int n : g.live_nodes()) {
      bool used = false;
      for (int o : g.node(n).outputs) used = used || g.is_graph_output(o) || !g.consumers(o).empty();
      if (!used) {
        g.remove_node(n);
        ++removed;
        changed = true;
      }
    }
  }
  return removed;
}

}  // namespace fx::passes
