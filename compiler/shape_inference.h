// Static shape inference over the IR: every tensor gets a known shape and data type, or the node that
// cannot be inferred is named in an fx::Error. Shapes are never taken from the file's value_info.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "compiler/ir.h"

namespace fx {

// Sets shape and dtype of node n's outputs from its inputs (which must be known).
void infer_node_shapes(ir::Graph& g, int n);

// Infers every live node in list order.
void infer_shapes(ir::Graph& g);

// Attribute helpers shared with the lowering.
int64_t normalize_axis(int64_t axis, int64_t rank, const std::string& what);

// Conv/Pool-style explicit padding [top, left, bottom, right] after resolving auto_pad.
struct Window2d {
  int kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1;
  int pad_t = 0, pad_l = 0, pad_b = 0, pad_r = 0;
};
Window2d window_of(const ir::Node& n, int64_t in_h, int64_t in_w, int64_t kh, int64_t kw);

// The values of a constant input (throws naming the node when the input is not constant).
std::vector<int64_t> constant_ints(const ir::Graph& g, const ir::Node& n, int input, const std::string& what);

}  // namespace fx
