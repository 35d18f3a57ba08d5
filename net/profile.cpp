#include "net/profile.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>

#include "runtime/detector.h"
#include "runtime/sparse/sparse_executor.h"
#include "runtime/util/clock.h"
#include "runtime/util/test_pattern.h"

namespace fx::net {

std::vector<std::pair<int, double>> profile_sparse(std::shared_ptr<const Device> device, int block, int repeats) {
  const std::shared_ptr<const Plan>& plan = device->plan();
  const int W = plan->input_w(), H = plan->input_h();
  SparseExecutor exec(device, block);
  const int n = exec.block_cols() * exec.block_rows();
  OutputLayout layout = output_layout(*plan);
  LetterboxInfo lb = letterbox_info(W, H, W, H);
  PostOptions post;
  std::vector<uint8_t> a = test_pattern_rgb(W, H, 1), b = test_pattern_rgb(W, H, 2);
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
      for (int i = 0; i < n; ++i)
        labels[static_cast<size_t>(i)] = (i % cols == cols - 1) ? pack_shift(0, 0) : pack_shift(1, 0);
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
