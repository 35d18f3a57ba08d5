// Backend-neutral descriptions of a plan's ops: each op is decoded from the plan's FlatBuffers and
// validated against the tensors it touches ONCE (at plan load, runtime/plan.cpp), into typed
// parameters every backend consumes (the CPU OpRunner, the CUDA backend, the sparse executor's label
// windows). A backend never reads the FlatBuffers op tables itself, so the checks and the decoding
// exist in one place.
//
// Adding an op: a value at the end of OpKind (schema/plan.fbs), its parameters and checks in
// describe_op (op_desc.cpp), then one case in each backend's switch (runtime/op_runner.cpp for the CPU,
// runtime/cuda/cuda_ops.cpp for CUDA, which may leave it to the CPU fallback: CudaOps::supports).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ops/conv/conv.h"
#include "ops/elementwise/elementwise.h"
#include "ops/pool/maxpool.h"
#include "ops/shape.h"
#include "runtime/plan_types.h"

namespace fx {

class Plan;

struct OpDesc {
  static constexpr size_t kMaxParts = 64;  // inputs of a Concat / outputs of a Split

  int index = -1;
  OpKind kind = OpKind::Conv;
  PlanRegion region = PlanRegion::Epilogue;
  std::string name;
  std::vector<int> in, out;  // tensor ids (-1: an absent optional input)
  uint64_t flops = 0;        // of one dense run (2 x multiply-accumulates)
  // The compiler's receptive-field metadata as stored in the plan (what `inspect` shows; the executors
  // use the window parameters below).
  struct Spatial {
    int kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1;
    int pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
    int halo_top = 0, halo_left = 0, halo_bottom = 0, halo_right = 0;
    int upsample = 1;
  } spatial;

  // Runs the local form: NHWC maps, restricted to a list of output positions (span list). Otherwise
  // the plain form over whole row-major tensors.
  bool local = false;

  // Conv / ConvTranspose (weights in[1], bias in[2] or -1; Conv with has_residual: residual in[3]).
  ConvParams conv;
  ConvTransposeParams conv_t;
  bool has_residual = false;
  // MaxPool.
  PoolParams pool;
  // The window of Conv / MaxPool / ConvTranspose per axis (label propagation); 1x1 otherwise.
  AxisWindow wy, wx;
  // ResizeNearest.
  int scale_h = 1, scale_w = 1;
  // Add / Sub / Mul / Div; local form: what each operand is (a map, or a constant per channel / scalar).
  BinaryOp bop = BinaryOp::Add;
  LocalOperand::Kind la = LocalOperand::Map, lb = LocalOperand::Map;
  // Plain forms: physical shapes of the operands / the whole of a concat or split / the output.
  Shape a_shape, b_shape, out_shape;
  // Concat / Split / Softmax: the axis in physical order; Concat / Split: each part's shape and size
  // along it.
  int axis = 0;
  std::vector<Shape> part_shapes;
  std::vector<int64_t> sizes;
  // Plain concat / split with only size-1 axes before the axis: each part is one contiguous block of
  // the whole at this element offset (and may already be stored there, see compiler/alias_plan.h).
  bool blocks = false;
  std::vector<int64_t> block_offset;
  // Transpose.
  int perm[Shape::kMaxRank] = {};
  // Slice: per physical axis, first index and step.
  int64_t starts[Shape::kMaxRank] = {}, steps[Shape::kMaxRank] = {};
  // Relayout: Plain (NCHW) -> NHWC, or back.
  bool to_nhwc = false;

  // Local ops: the tensor whose positions a span list names (the output; for a Split, and a Relayout
  // back to NCHW, the map being read).
  int span_tensor() const { return kind == OpKind::Split || (kind == OpKind::Relayout && !to_nhwc) ? in[0] : out[0]; }
  // "plan op 3 (Conv 'model.0.conv')": how errors name the op.
  std::string what() const;
};

// Decodes and validates op `index` of `plan` over `tensors` (one description per plan tensor: the
// plan's own, or the same ops at other shapes, e.g. the column tail's compact tensors). Throws
// fx::Error naming the op when anything does not fit: counts of inputs and outputs, layouts, shapes
// that do not follow from the parameters, weight sizes, parameter ranges.
OpDesc describe_op(const Plan& plan, const std::vector<TensorInfo>& tensors, int index);

}  // namespace fx
