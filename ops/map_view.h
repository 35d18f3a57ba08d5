// Views of activations as the kernels see them. Feature maps of the local (convolutional) part of a
// network are NHWC with batch 1; a view may be a channel slice of a wider map (a concat output written
// in place), so consecutive pixels are `pixel_stride` floats apart rather than `c`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace fx {

enum class Act : uint8_t { None = 0, SiLU = 1, Sigmoid = 2 };

struct MapView {
  float* data = nullptr;
  int h = 0, w = 0, c = 0;
  int64_t pixel_stride = 0;  // >= c

  float* at(int y, int x) const { return data + (static_cast<int64_t>(y) * w + x) * pixel_stride; }
  // A view of channels [first, first + count) of this map.
  MapView channels(int first, int count) const { return {data + first, h, w, count, pixel_stride}; }
};

inline MapView dense_map(float* data, int h, int w, int c) { return {data, h, w, c, c}; }

// One run of output positions: row y, columns [x0, x1).
struct Span {
  int y, x0, x1;
};

// The output positions an op computes: dense execution passes every row in full, the sparse executor
// passes the dirty tiles. Kernels must give every position the same bits whichever list it came in.
struct SpanList {
  const Span* spans = nullptr;
  int count = 0;
  int64_t positions = 0;  // sum of (x1 - x0)
};

// Owns the spans covering a whole h x w map, one per row.
struct FullSpans {
  std::vector<Span> rows;
  FullSpans(int h, int w) {
    rows.reserve(static_cast<size_t>(h));
    for (int y = 0; y < h; ++y) rows.push_back({y, 0, w});
  }
  SpanList list(int h_rows, int w) const {
    return {rows.data(), h_rows, static_cast<int64_t>(h_rows) * w};
  }
};

inline SpanList make_span_list(const std::vector<Span>& spans) {
  int64_t n = 0;
  for (const Span& s : spans) n += s.x1 - s.x0;
  return {spans.data(), static_cast<int>(spans.size()), n};
}

}  // namespace fx
