#include "compiler/const_eval.h"
#include "compiler/passes/passes.h"
#include "compiler/shape_inference.h"

namespace fx::passes {

int fold_constants(ir::Graph& g) {
  int folded = 0;
  for (int n : g.live_nodes()) {
    if (try_fold_node(g, n)) {
      ++folded;
    } else {
      infer_node_shapes(g, n);
    }
  }
  return folded;
}

}  // namespace fx::passes
