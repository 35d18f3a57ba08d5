#include "runtime/baselines.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace fx {

namespace {

uint64_t block_sad(const uint8_t* cur, const uint8_t* ref, int width, int B, int x0, int y0, int dx, int dy) {
  uint64_t s = 0;
  for (int y = 0; y < B; ++y) {
    const uint8_t* a = cur + (static_cast<size_t>(y0 + y) * width + x0) * 3;
    const uint8_t* b = ref + (static_cast<size_t>(y0 + y + dy) * width + x0 + dx) * 3;
    for (int i = 0; i < B * 3; ++i) s += static_cast<uint64_t>(std::abs(int(a[i]) - int(b[i])));
  }
  return s;
}

}  // namespace

MotionVector global_motion(const uint8_t* cur, const uint8_t* ref, int width, int height, const AlignerOptions& opt,
                           MotionField& field) {
  const size_t n = field.blocks.size();
  MotionVector g;
  if (n == 0) return g;
  const int B = field.block;
  // Candidates: the component-wise median of the block vectors, the most frequent non-zero vector and
  // zero; the one with the least SAD over the whole frame wins (static padding or background cannot
  // outvote the motion of the content by their number alone).
  std::vector<int> dx(n), dy(n);
  for (size_t i = 0; i < n; ++i) dx[i] = field.blocks[i].mv.dx, dy[i] = field.blocks[i].mv.dy;
  const auto mid = static_cast<std::ptrdiff_t>((n - 1) / 2);
  std::vector<int> sx = dx, sy = dy;
  std::nth_element(sx.begin(), sx.begin() + mid, sx.end());
  std::nth_element(sy.begin(), sy.begin() + mid, sy.end());
  std::vector<std::pair<MotionVector, int>> counts;
  for (size_t i = 0; i < n; ++i) {
    if (dx[i] == 0 && dy[i] == 0) continue;
    MotionVector v;
    v.dx = static_cast<int16_t>(dx[i]), v.dy = static_cast<int16_t>(dy[i]);
    auto it = std::find_if(counts.begin(), counts.end(), [&](const auto& c) { return c.first == v; });
    if (it == counts.end())
      counts.emplace_back(v, 1);
    else
      ++it->second;
  }
  std::vector<MotionVector> cand(1);  // zero
  MotionVector med;
  med.dx = static_cast<int16_t>(sx[static_cast<size_t>(mid)]),
  med.dy = static_cast<int16_t>(sy[static_cast<size_t>(mid)]);
  cand.push_back(med);
  if (!counts.empty())
    cand.push_back(std::max_element(counts.begin(), counts.end(), [](const auto& a, const auto& b) {
                     return a.second < b.second;
                   })->first);
  uint64_t best = UINT64_MAX;
  for (const MotionVector& v : cand) {
    uint64_t total = 0;
    for (int by = 0; by < field.rows; ++by)
      for (int bx = 0; bx < field.cols; ++bx) {
        const int x0 = bx * B, y0 = by * B;
        total += block_sad(cur, ref, width, B, x0, y0, std::clamp<int>(v.dx, -x0, width - B - x0),
                           std::clamp<int>(v.dy, -y0, height - B - y0));
      }
    if (total < best) best = total, g = v;
  }
  // The aligner's thresholds (aligner.h): cost > tau <=> SAD > floor(tau * norm).
  const double norm = static_cast<double>(B) * B * 3 * 255;
  const uint64_t tau_sad = static_cast<uint64_t>(std::floor(static_cast<double>(opt.tau) * norm));
  for (int by = 0; by < field.rows; ++by)
    for (int bx = 0; bx < field.cols; ++bx) {
      BlockMotion& m = field.at(bx, by);
      const int x0 = bx * B, y0 = by * B;
      const int cx = std::clamp<int>(g.dx, -x0, width - B - x0), cy = std::clamp<int>(g.dy, -y0, height - B - y0);
      const uint64_t sad = block_sad(cur, ref, width, B, x0, y0, cx, cy);
      m.mv.dx = static_cast<int16_t>(cx);
      m.mv.dy = static_cast<int16_t>(cy);
      m.cost = static_cast<float>(static_cast<double>(sad) / norm);
      const bool outside = cx != g.dx || cy != g.dy;
      m.candidate = outside || sad > tau_sad;
      m.exposed = outside;
    }
  return g;
}

double frame_change(const uint8_t* a, const uint8_t* b, size_t bytes) {
  if (bytes == 0) return 0;
  uint64_t s = 0;
  for (size_t i = 0; i < bytes; ++i) s += static_cast<uint64_t>(std::abs(int(a[i]) - int(b[i])));
  return static_cast<double>(s) / (static_cast<double>(bytes) * 255.0);
}

void roi_blocks(const std::vector<Detection>& boxes, int width, int height, int block, int margin,
                std::vector<uint8_t>& fresh) {
  const int cols = width / block, rows = height / block;
  fresh.assign(static_cast<size_t>(cols) * rows, 0);
  for (const Detection& d : boxes) {
    const float x1 = std::max(0.f, d.box[0] - margin), y1 = std::max(0.f, d.box[1] - margin);
    const float x2 = std::min(static_cast<float>(width), d.box[2] + margin);
    const float y2 = std::min(static_cast<float>(height), d.box[3] + margin);
    if (!(x2 > x1 && y2 > y1)) continue;
    // Blocks [bx0, bx1] overlap [x1, x2): the last is the one holding x2 - epsilon.
    const int bx0 = static_cast<int>(x1) / block, by0 = static_cast<int>(y1) / block;
    const int bx1 =
        std::min(cols - 1, static_cast<int>(std::ceil(x2)) / block - (static_cast<int>(std::ceil(x2)) % block == 0));
    const int by1 =
        std::min(rows - 1, static_cast<int>(std::ceil(y2)) / block - (static_cast<int>(std::ceil(y2)) % block == 0));
    for (int by = by0; by <= by1; ++by)
      for (int bx = bx0; bx <= bx1; ++bx) fresh[static_cast<size_t>(by) * cols + bx] = 1;
  }
}

}  // namespace fx
