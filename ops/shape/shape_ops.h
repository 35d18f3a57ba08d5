// Data movement on plain (row-major) tensors and layout conversion between NCHW and NHWC.
#pragma once

#include <cstdint>

#include "ops/map_view.h"
#include "ops/shape.h"
#include "ops/thread_pool.h"

namespace fx {

// out = in with axes permuted: out.shape[i] = in.shape[perm[i]].
void transpose_reference(const float* in, const Shape& in_shape, const int* perm, float* out);
void transpose(const float* in, const Shape& in_shape, const int* perm, float* out, ThreadPool& pool);

// out[i0, i1, ...] = in[starts[0] + i0 * steps[0], ...] (steps may be negative); out_shape gives counts.
void slice(const float* in, const Shape& in_shape, const int64_t* starts, const int64_t* steps, float* out,
           const Shape& out_shape, ThreadPool& pool);

// Concatenation / split of plain tensors along `axis`.
void concat_plain(const float* const* inputs, const Shape* input_shapes, int count, int axis, float* out,
                  ThreadPool& pool);
void split_plain(const float* in, const Shape& in_shape, int axis, float* const* outputs, const int64_t* sizes,
                 int count, ThreadPool& pool);

// Layout conversion of a batch-1 map: NCHW (plain, [c][h][w]) <-> NHWC view.
void nhwc_to_nchw(const MapView& in, float* out, ThreadPool& pool);
void nchw_to_nhwc(const float* in, const MapView& out, ThreadPool& pool);

}  // namespace fx
