// A textured, non-periodic picture defined on the whole positive plane, for tests that move content
// by known amounts (motion search, video round trips): smooth value noise at two scales plus a little
// pixel noise, so every block has a unique best match.
#pragma once

#include <cmath>
#include <cstdint>

namespace fx::test {

inline uint32_t hash3(int x, int y, int seed) {
  uint32_t h = static_cast<uint32_t>(x) * 374761393u + static_cast<uint32_t>(y) * 668265263u +
               static_cast<uint32_t>(seed) * 2246822519u;
  h = (h ^ (h >> 13)) * 1274126177u;
  return h ^ (h >> 16);
}

// Bilinear noise on a grid of `cell` pixels; x, y >= 0.
inline double value_noise(int x, int y, int cell, int seed) {
  const int gx = x / cell, gy = y / cell;
  const double fx_ = (x % cell) / static_cast<double>(cell), fy_ = (y % cell) / static_cast<double>(cell);
  auto v = [&](int i, int j) { return (hash3(gx + i, gy + j, seed) & 0xffff) / 65535.0; };
  return (v(0, 0) * (1 - fx_) + v(1, 0) * fx_) * (1 - fy_) + (v(0, 1) * (1 - fx_) + v(1, 1) * fx_) * fy_;
}

// Channel c of pixel (x, y), x, y >= 0.
inline uint8_t texture(int x, int y, int c) {
  const double v = 0.55 * value_noise(x, y, 12, 11 + c) + 0.35 * value_noise(x, y, 5, 23 + c) +
                   0.10 * ((hash3(x, y, 37 + c) & 0xff) / 255.0);
  return static_cast<uint8_t>(std::lround(20 + 215 * v));
}

}  // namespace fx::test
