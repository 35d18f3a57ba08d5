#include "runtime/sparse/cost_curve.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "runtime/dense_executor.h"
#include "runtime/io/letterbox.h"
#include "runtime/sparse/truncation.h"
#include "runtime/util/clock.h"

namespace fx {

namespace {

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

std::vector<CostPoint> sparse_cost_curve(const std::shared_ptr<const Device>& device, const std::vector<uint8_t>& img,
                                         const std::vector<uint8_t>& frame, const CostCurveOptions& opt) {
  const Plan& plan = *device->plan();
  const int W = plan.input_w(), H = plan.input_h(), block = opt.block;
  DenseExecutor dense(device);
  SparseExecutor sparse(device, block);
  rgb_to_planar_float(img.data(), W, H, dense.input_data());
  for (int i = 0; i < 2; ++i) dense.invoke();
  std::vector<double> dt;
  for (int i = 0; i < opt.runs; ++i) {
    auto t0 = Clock::now();
    dense.invoke();
    dt.push_back(ms_since(t0));
  }
  const double dense_ms = median_of(dt);
  const int cols = sparse.block_cols(), rows = sparse.block_rows(), n = cols * rows;
  sparse.reset(img.data());
  const std::vector<float> island_eps = default_eps(plan, sparse, opt.island_eps);
  std::vector<CostPoint> points;
  // Pan: "policy" 0 copies shifted maps, 1 moves origins; else 0 is the exact policy, 1 footprint.
  for (int policy = 0; policy < 2; ++policy)
    for (int clustered = 0; clustered < 2; ++clustered)
      for (int pct : opt.shares) {
        if (opt.pan && (!clustered || pct > 25)) continue;
        std::mt19937 rng(static_cast<unsigned>(42 + 2 * pct + clustered));  // the same blocks for both policies
        const int footprint = opt.pan ? 1 : policy;
        std::vector<Label> labels(static_cast<size_t>(n), 0);
        for (int i = 0; opt.pan && i < n; ++i) {
          const int x0 = (i % cols) * block + opt.pan_dx;
          labels[static_cast<size_t>(i)] = x0 < 0 || x0 + block > W ? kInvalid : pack_shift(opt.pan_dx, 0);
        }
        const int k = n * pct / 100;
        if (clustered) {
          // A square-ish region of k blocks at a random place.
          const int side_w =
              std::min(cols, std::max(1, static_cast<int>(std::ceil(std::sqrt(double(k) * cols / rows)))));
          const int bx0 = static_cast<int>(rng() % static_cast<unsigned>(cols - side_w + 1)),
                    by = static_cast<int>(rng() % static_cast<unsigned>(rows));
          for (int i = 0; i < k; ++i) {
            const int x = bx0 + i % side_w, y = (by + i / side_w) % rows;
            labels[static_cast<size_t>(y) * cols + x] = kInvalid;
          }
        } else {
          std::vector<int> idx(static_cast<size_t>(n));
          for (int i = 0; i < n; ++i) idx[static_cast<size_t>(i)] = i;
          std::shuffle(idx.begin(), idx.end(), rng);
          for (int i = 0; i < k; ++i) labels[static_cast<size_t>(idx[static_cast<size_t>(i)])] = kInvalid;
        }
        SparseParams p;
        p.footprint_only = footprint != 0;
        p.round_offsets = opt.pan;
        p.move_origins = !opt.pan || policy == 1;
        // The island's outputs are compared with the cache at the blocks' motion, as in a session.
        if (opt.pan) p.block_motion = &labels;
        // The dense island's outputs are compared with the cache as the sessions do by default, else any
        // change dirties every later layer.
        p.eps = &island_eps;
        if (footprint) p.island_reused_scale = opt.island_reused_scale;
        std::vector<double> st;
        CostPoint pt;
        for (int i = 0; i < opt.runs + 1; ++i) {
          sparse.reset(img.data());
          auto t0 = Clock::now();
          const SparseStats& s = sparse.run(labels, (i % 2) ? img.data() : frame.data(), p);
          const double ms = ms_since(t0);
          if (i > 0) st.push_back(ms);  // the first is a warm-up
          pt.flops = 1.0 - s.flop_hit_ratio();
          pt.last = s;
        }
        pt.policy = opt.pan ? (policy ? "pan-move" : "pan-copy") : footprint ? "footprint" : "exact";
        pt.pattern = clustered ? "clustered" : "random";
        pt.share = pct;
        pt.ms = median_of(st);
        pt.dense_ms = dense_ms;
        points.push_back(pt);
      }
  return points;
}

}  // namespace fx
