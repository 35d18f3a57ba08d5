// Max pooling on NHWC maps. Padding positions are -infinity (ONNX), never selected.
#pragma once

#include "ops/map_view.h"
#include "ops/thread_pool.h"

namespace fx {

struct PoolParams {
  int kh = 1, kw = 1;
  int sh = 1, sw = 1;
  int pad_t = 0, pad_l = 0, pad_b = 0, pad_r = 0;
  int dh = 1, dw = 1;
};

void maxpool2d_reference(const PoolParams& p, const MapView& in, const MapView& out, SpanList spans);
void maxpool2d(const PoolParams& p, const MapView& in, const MapView& out, SpanList spans, ThreadPool& pool);

}  // namespace fx
