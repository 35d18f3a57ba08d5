// The plan's vocabulary shared by the loader (plan.h), the op descriptions (op_desc.h) and the
// executors: enum aliases of the FlatBuffers schema and what the runtime knows about one tensor.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "schema/plan_generated.h"

namespace fx {

using plan_fb = ::fluxshard::plan::Plan;
using OpKind = ::fluxshard::plan::OpKind;
using PlanLayout = ::fluxshard::plan::Layout;
using PlanRegion = ::fluxshard::plan::Region;

const char* op_kind_name(OpKind k);

// FlatBuffers' verifier (2.0) checks a vector's length field for 4-byte alignment only; vectors of
// 8-byte elements must also be 8-byte aligned before they are read.
template <typename T>
bool vector_aligned(const flatbuffers::Vector<T>* v) {
  return !v || v->size() == 0 || reinterpret_cast<uintptr_t>(v->data()) % alignof(T) == 0;
}

// What the runtime knows about one tensor of the plan.
struct TensorInfo {
  std::string name;
  std::vector<int64_t> shape;     // logical (ONNX) shape
  std::vector<int64_t> physical;  // shape in memory order (NHWC for 4-D NHWC tensors)
  PlanLayout layout = PlanLayout::Plain;
  int stride = 0;
  bool constant = false;
  int64_t arena_offset = -1;  // bytes; activations only
  int buffer = -1;            // constants only
  int64_t numel = 0;
  // Element distance between consecutive pixels of an NHWC map (the root's channel count when the
  // tensor is a channel slice of another: in-place concat / split).
  int64_t pixel_stride = 0;
  int alias_root = -1;       // tensor whose storage this one lives in (-1: its own)
  int channel_offset = 0;    // first channel (NHWC) or element (plain) inside the root
  int producer = -1;         // the (last) op that writes it; -1: the graph input or a constant

  int64_t bytes() const { return numel * 4; }
  // N, C, H, W of a 4-D tensor.
  int64_t n() const { return shape[0]; }
  int64_t c() const { return shape[1]; }
  int64_t h() const { return shape[2]; }
  int64_t w() const { return shape[3]; }
  // The tensor owning this one's storage (itself unless it is an alias).
  int root(int self) const { return alias_root >= 0 ? alias_root : self; }
};

// The window of a convolution or pooling along one axis, in its input coordinates: output o reads
// inputs o * stride - pad + j * dilation for j in [0, kernel).
struct AxisWindow {
  int kernel = 1, stride = 1, pad = 0, dilation = 1;
};

}  // namespace fx
