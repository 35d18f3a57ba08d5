#include "runtime/motion/change_test.h"

#include <algorithm>
#include <cstdlib>

namespace fx {

BlockResidual block_residual(const uint8_t* cur, const uint8_t* ref, int width, int B, int bx, int by, int dx, int dy) {
  const int x0 = bx * B, y0 = by * B, h = B / 2, row = 3 * B, half = 3 * h;
  const size_t stride = static_cast<size_t>(width) * 3;
  const uint8_t* a0 = cur + static_cast<size_t>(y0) * stride + static_cast<size_t>(x0) * 3;
  const uint8_t* b0 = ref + static_cast<size_t>(y0 + dy) * stride + static_cast<size_t>(x0 + dx) * 3;
  // Integer sums (exact, independent of the order; the byte loops vectorise): per quadrant |I - R|, per
  // channel sum(I) and sum(R), then sum |n I - sum_c(I)| = n x sum |I - mean_c(I)| with n = B * B.
  int64_t quad[4] = {0, 0, 0, 0}, sum_i[3] = {0, 0, 0}, sum_r[3] = {0, 0, 0};
  for (int y = 0; y < B; ++y) {
    const uint8_t* a = a0 + y * stride;
    const uint8_t* b = b0 + y * stride;
    int32_t left = 0, right = 0;
    for (int j = 0; j < half; ++j) left += std::abs(a[j] - b[j]);
    for (int j = half; j < row; ++j) right += std::abs(a[j] - b[j]);
    int64_t* q = quad + (y < h ? 0 : 2);
    q[0] += left;
    q[1] += right;
    for (int j = 0; j < row; j += 3)
      for (int c = 0; c < 3; ++c) sum_i[c] += a[j + c], sum_r[c] += b[j + c];
  }
  const int32_t n = B * B;
  int32_t pattern[3 * 256];  // sum_c(I) per byte of a row (B <= 256)
  for (int j = 0; j < row; ++j) pattern[j] = static_cast<int32_t>(sum_i[j % 3]);
  int64_t dev = 0;
  for (int y = 0; y < B; ++y) {
    const uint8_t* a = a0 + y * stride;
    int64_t d = 0;  // up to 3 B x n x 255 per row
    for (int j = 0; j < row; ++j) d += std::abs(n * a[j] - pattern[j]);
    dev += d;
  }
  const double values = static_cast<double>(n) * 3;
  // Quadrants of h and B - h rows / columns (equal for an even B).
  const double w[2] = {static_cast<double>(h), static_cast<double>(B - h)};
  double peak = 0;
  for (int k = 0; k < 4; ++k)
    if (w[k / 2] > 0 && w[k % 2] > 0) peak = std::max(peak, static_cast<double>(quad[k]) / (w[k / 2] * w[k % 2] * 3));
  BlockResidual r;
  r.mean_abs = static_cast<float>(static_cast<double>(quad[0] + quad[1] + quad[2] + quad[3]) / values);
  r.peak_abs = static_cast<float>(peak);
  r.contrast = static_cast<float>(static_cast<double>(dev) / (values * n));
  r.offset =
      static_cast<float>(static_cast<double>(sum_i[0] + sum_i[1] + sum_i[2] - sum_r[0] - sum_r[1] - sum_r[2]) / values);
  return r;
}

float NoiseTracker::update(const std::vector<BlockResidual>& blocks) {
  scratch_.clear();
  for (const BlockResidual& b : blocks)
    if (b.peak_abs > 0) scratch_.push_back(b.peak_abs);
  float v = 0;
  if (!scratch_.empty()) {
    const size_t k = std::min(scratch_.size() - 1, static_cast<size_t>(q_ * static_cast<float>(scratch_.size())));
    std::nth_element(scratch_.begin(), scratch_.begin() + static_cast<long>(k), scratch_.end());
    v = scratch_[k];
  }
  prev_level_ = level_, prev_have_ = have_;
  level_ = have_ && v < level_ ? level_ + a_ * (v - level_) : v;
  have_ = true;
  return level_;
}

}  // namespace fx
