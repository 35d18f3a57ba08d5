// Evaluation of nodes whose inputs are all constants (and Shape of a known shape), for the constant
// folding pass: the exporter's shape arithmetic (Shape/Gather/Unsqueeze/Concat/Cast...) disappears
// before lowering, so the runtime only ever sees float activations.
#pragma once

#include "compiler/ir.h"

namespace fx {

// When node n can be evaluated now, turns its outputs into constants, removes the node and returns true.
bool try_fold_node(ir::Graph& g, int n);

}  // namespace fx
