#include "net/profile.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>

#include "runtime/detector.h"
#include "runtime/sparse/sparse_executor.h"
#include "runtime/util/clock.h"

namespace fx::net {

namespace {

std::vector<uint8_t> textured(int w, int h, unsigned seed) {
  std::mt19937 r(seed);
  std::vector<uint8_t> img(static_cast<size_t>(w) * h * 3);
  float fx = 0.05f + (r() % 100) * 0.001f, fy = 0.04f + (r() % 100) * 0.001f;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) {
        float v = 128 + 60 * std::sin(fx * x * (c + 1) + fy * y) + static_cast<float>(r() % 41) - 20;
        img[(static_cast<size_t>(y) * w + x) * 3 + c] = static_cast<uint8_t>(std::clamp(v, 0.f, 255.f));
      }
  return img;
}

}  // namespace

std::vector<std::pair<int, double>> profile_sparse(std::shared_ptr<const Plan> plan, std::shared_ptr<ThreadPool> pool,
                                                   std::shared_ptr<const OpRunner> runner, int block, int repeats) {
  const int W = plan->input_w(), H = plan->input_h();
  SparseExecutor exec(plan, pool, block, runner);
  const int n = exec.block_cols() * exec.block_rows();
  OutputLayout layout = output_layout(*plan);
  LetterboxInfo lb = letterbox_info(W, H, W, H);
  PostOptions post;
  std::vector<uint8_t> a = textured(W, H, 1), b = textured(W, H, 2);
  exec.reset(a.data());
  std::mt19937 rng(7);
  std::vector<int> order(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
  std::vector<std::pair<int, double>> points;
  const double shares[] = {0.0, 0.05, 0.15, 0.35, 0.65, 1.0};
  std::vector<Label> labels(static_cast<size_t>(n));
  // The production (approximate) mode, blocks that are not fresh panning by one pixel: a small camera
  // motion, so the time includes the cache shifts and the border recomputation every real frame pays.
  SparseParams params;
  params.round_offsets = true;
  params.footprint_only = true;
  const int cols = exec.block_cols();
  int flip = 0;
  for (double s : shares) {
    int k = static_cast<int>(std::lround(s * n));
    double best = 1e30;
    for (int rep = 0; rep < std::max(1, repeats); ++rep) {
      std::shuffle(order.begin(), order.end(), rng);
      for (int i = 0; i < n; ++i) labels[static_cast<size_t>(i)] = (i % cols == cols - 1) ? pack_shift(0, 0) : pack_shift(1, 0);
      for (int i = 0; i < k; ++i) labels[static_cast<size_t>(order[static_cast<size_t>(i)])] = kInvalid;
      const std::vector<uint8_t>& img = (flip++ % 2) ? a : b;
      auto t0 = Clock::now();
      exec.run(labels, img.data(), params);
      postprocess(layout, exec.output_data(0), layout.protos >= 0 ? exec.output_data(1) : nullptr, lb, post);
      best = std::min(best, ms_since(t0));
    }
    points.emplace_back(k, best);
  }
  return points;
}

}  // namespace fx::net
