// A short sequence of real source frames without a video decoder (the goldens' images), so that the
// GPU tests and benchmarks need no FFmpeg on a GPU machine: still frames, pans by multiples of the
// strides and not, an edited region, a cut to another image and back.
#pragma once

#include <algorithm>
#include <cstring>
#include <vector>

#include "golden_format.h"
#include "runtime/io/video_reader.h"
#include "test_util.h"

namespace fx::test {

inline std::vector<Frame> real_sequence() {
  const Golden a = read_golden(source_path("tests/goldens/yolo11n-640_bedroom_f10.fxg"));
  const Golden b = read_golden(source_path("tests/goldens/yolo11n-640_cockatoo_f40.fxg"));
  auto frame_of = [](const Golden& g, int dx, int dy, bool edit) {
    Frame f;
    f.width = g.width, f.height = g.height;
    f.rgb.resize(g.rgb.size());
    for (int y = 0; y < g.height; ++y)
      for (int x = 0; x < g.width; ++x) {
        const int sy = std::min(std::max(y - dy, 0), g.height - 1), sx = std::min(std::max(x - dx, 0), g.width - 1);
        std::memcpy(&f.rgb[(static_cast<size_t>(y) * g.width + x) * 3],
                    &g.rgb[(static_cast<size_t>(sy) * g.width + sx) * 3], 3);
      }
    if (edit)
      for (int y = g.height / 3; y < g.height / 2; ++y)
        for (int x = g.width / 4; x < g.width / 3; ++x) f.rgb[(static_cast<size_t>(y) * g.width + x) * 3] ^= 0x5a;
    return f;
  };
  std::vector<Frame> seq;
  const int moves[][3] = {{0, 0, 0},   {0, 0, 0},    {8, 0, 0},    {16, 0, 0},   {21, -5, 0},
                          {21, -5, 1}, {27, -9, 1},  {32, -16, 0}, {32, -16, 0}, {35, -13, 1}};
  for (const auto& m : moves) seq.push_back(frame_of(a, m[0], m[1], m[2] != 0));
  seq.push_back(frame_of(b, 0, 0, false));
  seq.push_back(frame_of(b, -6, 3, false));
  seq.push_back(frame_of(a, 0, 0, false));
  for (size_t i = 0; i < seq.size(); ++i) seq[i].index = static_cast<int64_t>(i);
  return seq;
}

}  // namespace fx::test
