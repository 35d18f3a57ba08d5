// Element-wise operations. Two families:
//  - local: on NHWC maps restricted to a span list (the sparse executor's form); the second operand is a
//    map of the same size, a per-channel constant vector or a scalar (the only broadcasts that keep an
//    op shift-equivariant);
//  - plain: on whole row-major tensors with numpy broadcasting (epilogue and attention island).
#pragma once

#include <cstdint>

#include "ops/map_view.h"
#include "ops/shape.h"
#include "ops/thread_pool.h"

namespace fx {

enum class BinaryOp : uint8_t { Add, Sub, Mul, Div };
enum class UnaryOp : uint8_t { Sigmoid, SiLU };

struct LocalOperand {
  enum Kind : uint8_t { Map, Channels, Scalar } kind = Map;
  MapView map;                     // kind == Map
  const float* values = nullptr;  // kind == Channels: c values; Scalar: one value
};

// out(y, x, ch) = a(y, x, ch) op b(y, x, ch) for the positions in spans; operand order matters (Sub, Div).
void binary_local_reference(BinaryOp op, const LocalOperand& a, const LocalOperand& b, const MapView& out,
                            SpanList spans);
void binary_local(BinaryOp op, const LocalOperand& a, const LocalOperand& b, const MapView& out, SpanList spans,
                  ThreadPool& pool);

void unary_local_reference(UnaryOp op, const MapView& in, const MapView& out, SpanList spans);
void unary_local(UnaryOp op, const MapView& in, const MapView& out, SpanList spans, ThreadPool& pool);

// Copies every channel of `in` to `out` (same h, w, c; different views) for the positions in spans:
// channel concat and split on NHWC maps.
void copy_channels(const MapView& in, const MapView& out, SpanList spans, ThreadPool& pool);

// Plain tensors, numpy broadcasting (shapes right-aligned, size-1 axes stretch). out has out_shape.
void binary_plain_reference(BinaryOp op, const float* a, const Shape& a_shape, const float* b,
                            const Shape& b_shape, float* out, const Shape& out_shape);
void binary_plain(BinaryOp op, const float* a, const Shape& a_shape, const float* b, const Shape& b_shape,
                  float* out, const Shape& out_shape, ThreadPool& pool);

void unary_plain_reference(UnaryOp op, const float* in, float* out, int64_t n);
void unary_plain(UnaryOp op, const float* in, float* out, int64_t n, ThreadPool& pool);

}  // namespace fx
