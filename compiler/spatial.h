// Spatial analysis (DESIGN 3.4): each 4-D feature map gets its stride relative to the model input; each
// node a region class (local / global / epilogue) and, when local, the kernel, stride, padding,
// dilation and halo the sparse executor needs; and each node its FLOPs.
#pragma once

#include "compiler/ir.h"

namespace fx {

void analyze_spatial(ir::Graph& g);

// 2 x multiply-accumulates of one dense run of node n (Conv, ConvTranspose, MatMul; 0 for data
// movement and element-wise ops, which is how Ultralytics' published GFLOPs count).
uint64_t node_flops(const ir::Graph& g, const ir::Node& n);

}  // namespace fx
