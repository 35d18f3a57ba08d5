// Graph passes. Each is a stand-alone unit over the public IR API (compiler/ir.h), runs in place, and
// returns how many changes it made (so a driver or a test can see it did something).
#pragma once

#include "compiler/ir.h"

namespace fx::passes {

// Infers shapes in node order and folds every node whose inputs are constant (Shape of a known shape
// included), so exporter shape arithmetic disappears. Returns nodes folded.
int fold_constants(ir::Graph& g);

// Conv -> BatchNormalization (inference form) becomes one Conv with scaled weights and bias; a
// BatchNormalization elsewhere becomes Mul + Add with per-channel constants. Returns BNs removed.
int fold_batchnorm(ir::Graph& g);

// Conv -> Sigmoid -> Mul(conv, sigmoid) becomes Conv with activation SiLU; Conv -> Sigmoid (the conv's
// only reader) becomes Conv with activation Sigmoid. Returns activations fused.
int fuse_conv_activation(ir::Graph& g);

// Add(act(conv(x)), r) where the conv output has no other reader becomes a Conv with a residual input
// (y = act(conv(x)) + r, the same arithmetic in the same order). Returns adds fused.
int fuse_conv_residual(ir::Graph& g);

// Removes Identity nodes, and nodes none of whose outputs is read or is a graph output. Returns nodes
// removed.
int remove_dead_nodes(ir::Graph& g);

// Chooses NHWC for the feature maps of the convolutional part and Plain elsewhere, inserts Relayout
// nodes where a reader needs the other layout, and rewrites constants read by NHWC element-wise ops
// into the physical order. Returns Relayout nodes inserted.
int assign_layouts(ir::Graph& g);

}  // namespace fx::passes

namespace fx::passes {

// Rewrites ops into the forms the lowering expects: opset < 13 Softmax over a non-last axis (which
// flattens the trailing axes) becomes Reshape -> Softmax(last axis) -> Reshape; Softmax axes are made
// non-negative; Cast to float32 of a float32 tensor becomes Identity. Returns nodes rewritten.
int canonicalize_ops(ir::Graph& g);

}  // namespace fx::passes
