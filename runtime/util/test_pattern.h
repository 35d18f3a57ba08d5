// A seeded textured picture (smooth waves plus pixel noise), packed RGB24: content for start-up
// profiling and for tests, where every block differs from its neighbours but nothing depends on a file.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace fx {

inline std::vector<uint8_t> test_pattern_rgb(int w, int h, unsigned seed) {
  std::mt19937 r(seed);
  std::vector<uint8_t> img(static_cast<size_t>(w) * h * 3);
  float fx = 0.05f + (r() % 100) * 0.001f, fy = 0.04f + (r() % 100) * 0.001f;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) {
        float v = 128 + 60 * std::sin(fx * x * (c + 1) + fy * y) + 40 * std::cos(0.11f * y - 0.07f * x * c) +
                  static_cast<float>(r() % 41) - 20;
        img[(static_cast<size_t>(y) * w + x) * 3 + c] = static_cast<uint8_t>(std::clamp(v, 0.f, 255.f));
      }
  return img;
}

}  // namespace fx
