// Nearest-neighbour upsampling by integer factors on NHWC maps (ONNX Resize, mode nearest,
// coordinate mode asymmetric, nearest_mode floor): out(y, x) = in(y / sh, x / sw).
#pragma once

#include "ops/map_view.h"
#include "ops/thread_pool.h"

namespace fx {

void resize_nearest_reference(int scale_h, int scale_w, const MapView& in, const MapView& out, SpanList spans);
void resize_nearest(int scale_h, int scale_w, const MapView& in, const MapView& out, SpanList spans,
                    ThreadPool& pool);

}  // namespace fx
