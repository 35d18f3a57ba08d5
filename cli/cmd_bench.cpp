#include <chrono>
#include <cstdio>
#include <algorithm>
#include <cmath>
#include <random>

#include "cli/commands.h"
#include "cli/common.h"
#include "runtime/dense_executor.h"
#include "runtime/error.h"
#include "runtime/io/npy.h"
#include "runtime/io/letterbox.h"
#include "runtime/io/video_reader.h"
#include "runtime/session.h"
#include "runtime/sparse/sparse_executor.h"
#include "runtime/util/clock.h"

namespace fx::cli {

namespace {

int bench_dense(const Args& args) {
  args.max_positionals(2);
  const std::string& plan_path = args.positional(1, "PLAN.fsp");
  int runs = args.get_int("--runs", 20, 1, 100000);
  int warmup = args.get_int("--warmup", 3, 0, 10000);
  auto plan = Plan::load_file(plan_path);
  const auto device = make_device(plan, backend_options(args));
  DenseExecutor exec(device);
  const TensorInfo& it = plan->tensor(plan->input());
  if (args.has("--input")) {
    NpyArray in = read_npy(args.get("--input"));
    if (in.shape != it.shape)
      throw Error("'" + args.get("--input") + "' does not have the plan's input shape " + shape_text(it.shape));
    std::copy(in.data.begin(), in.data.end(), exec.input_data());
  } else {
    // An already letterboxed input: values of a natural image's range, fixed seed.
    std::mt19937 rng(1234);
    std::uniform_real_distribution<float> u(0.f, 1.f);
    float* x = exec.input_data();
    for (int64_t i = 0; i < it.numel; ++i) x[i] = u(rng);
  }
  for (int i = 0; i < warmup; ++i) exec.invoke();
  std::vector<double> ms;
  bool profile = args.has("--profile");
  std::vector<double> op_total(static_cast<size_t>(plan->op_count()), 0.0);
  exec.set_profiling(profile);
  for (int i = 0; i < runs; ++i) {
    auto t0 = Clock::now();
    exec.invoke();
    ms.push_back(ms_since(t0));
    if (profile)
      for (size_t k = 0; k < op_total.size(); ++k) op_total[k] += exec.op_times_ms()[k];
  }
  double mn = *std::min_element(ms.begin(), ms.end()), mx = *std::max_element(ms.begin(), ms.end());
  double med = median(ms);
  if (args.has("--json")) {
    std::printf("{\"plan\":\"%s\",\"backend\":\"%s\",\"threads\":%d,\"runs\":%d,\"min_ms\":%.3f,\"median_ms\":%.3f,"
                "\"max_ms\":%.3f}\n",
                sanitize_file_part(plan->source()).c_str(), device->options().kind.c_str(), device->pool().size(), runs,
                mn, med, mx);
  } else {
    std::printf("dense %s: %s, %d runs: min %.2f ms, median %.2f ms, max %.2f ms\n", plan->source().c_str(),
                device->name().c_str(), runs, mn, med, mx);
  }
  if (profile) {
    std::vector<std::pair<double, int>> order;
    for (size_t k = 0; k < op_total.size(); ++k) order.emplace_back(op_total[k] / runs, static_cast<int>(k));
    std::sort(order.rbegin(), order.rend());
    double region_ms[3] = {0, 0, 0};
    for (size_t k = 0; k < op_total.size(); ++k) {
      int r = static_cast<int>(plan->op(static_cast<int>(k)).region);
      region_ms[r < 0 || r > 2 ? 2 : r] += op_total[k] / runs;
    }
    std::fprintf(stderr, "time by region (mean ms): local %.2f, global %.2f, epilogue %.2f\n", region_ms[0],
                 region_ms[1], region_ms[2]);
    std::fprintf(stderr, "slowest ops (mean ms):\n");
    for (size_t k = 0; k < std::min<size_t>(25, order.size()); ++k) {
      const OpDesc& op = plan->op(order[k].second);
      std::fprintf(stderr, "  %7.3f  #%-4d %-14s %s\n", order[k].first, order[k].second, op_kind_name(op.kind),
                   op.name.c_str());
    }
  }
  return 0;
}

// The sparse cost curve: a forced share of blocks recomputed each frame (random or clustered), all others
// moved by 0, timed against dense inference in the same run. With --pan DX: a camera pan instead, every
// other block moved by DX pixels (blocks whose source leaves the image are fresh too), timed with the
// caches' origin moves on and off (fluxshard mode's rounding and footprint policy).
int bench_sparse(const Args& args) {
  args.max_positionals(2);
  const std::string& plan_path = args.positional(1, "PLAN.fsp");
  int runs = args.get_int("--runs", 7, 1, 10000);
  int block = args.get_int("--block", 16, 4, 128);
  const bool pan = args.has("--pan");
  const int pan_dx = args.get_int("--pan", 0, -64, 64);
  auto plan = Plan::load_file(plan_path);
  const auto device = make_device(plan, backend_options(args));
  DenseExecutor dense(device);
  SparseExecutor sparse(device, block);
  const int W = plan->input_w(), H = plan->input_h();
  // A real frame as content.
  std::vector<uint8_t> img(static_cast<size_t>(W) * H * 3, 114), frame = img;
  if (args.has("--input")) {
    VideoReader r(args.get("--input"));
    Frame f;
    if (r.read(f)) letterbox_rgb(f.rgb.data(), f.width, f.height, W, H, img.data());
    if (r.read(f)) letterbox_rgb(f.rgb.data(), f.width, f.height, W, H, frame.data());
  }
  rgb_to_planar_float(img.data(), W, H, dense.input_data());
  for (int i = 0; i < 2; ++i) dense.invoke();
  std::vector<double> dt;
  for (int i = 0; i < runs; ++i) {
    auto t0 = Clock::now();
    dense.invoke();
    dt.push_back(ms_since(t0));
  }
  double dense_ms = median(dt);
  const int cols = sparse.block_cols(), rows = sparse.block_rows(), n = cols * rows;
  sparse.reset(img.data());
  std::vector<float> island_eps = default_eps(*plan, sparse, SessionOptions{}.island_eps);
  const bool json = args.has("--json");
  if (!json)
    std::printf("dense: %.2f ms (median of %d, %s)\n%-10s %-10s %9s %10s %10s %9s %9s\n", dense_ms, runs,
                device->name().c_str(), "policy", "pattern", "blocks%", "FLOPs%", "ms", "speed-up", "ideal");
  // Pan: "policy" 0 copies shifted maps, 1 moves origins; else 0 is the exact policy, 1 footprint.
  for (int policy = 0; policy < 2; ++policy)
    for (int clustered = 0; clustered < 2; ++clustered)
      for (int pct : {0, 5, 10, 25, 50, 75, 100}) {
        if (pan && (!clustered || pct > 25)) continue;
        std::mt19937 rng(static_cast<unsigned>(42 + 2 * pct + clustered));  // the same blocks for both policies
        const int footprint = pan ? 1 : policy;
        std::vector<Label> labels(static_cast<size_t>(n), 0);
        for (int i = 0; pan && i < n; ++i) {
          int x0 = (i % cols) * block + pan_dx;
          labels[static_cast<size_t>(i)] = x0 < 0 || x0 + block > W ? kInvalid : pack_shift(pan_dx, 0);
        }
        int k = n * pct / 100;
        if (clustered) {
          // A square-ish region of k blocks at a random place.
          int side_w = std::min(cols, std::max(1, static_cast<int>(std::ceil(std::sqrt(double(k) * cols / rows)))));
          int bx0 = static_cast<int>(rng() % static_cast<unsigned>(cols - side_w + 1)),
              by = static_cast<int>(rng() % static_cast<unsigned>(rows));
          for (int i = 0; i < k; ++i) {
            int x = bx0 + i % side_w, y = (by + i / side_w) % rows;
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
        p.round_offsets = pan;
        p.move_origins = !pan || policy == 1;
        // The island's outputs are compared with the cache at the blocks' motion, as in a session.
        if (pan) p.block_motion = &labels;
        // The dense island's outputs are compared with the cache as the sessions do by default
        // (SessionOptions::island_eps), else any change dirties every later layer.
        p.eps = &island_eps;
        if (footprint) p.island_reused_scale = SessionOptions{}.island_reused_scale;
        std::vector<double> st;
        double flops = 0;
        SparseStats last;
        for (int i = 0; i < runs + 1; ++i) {
          sparse.reset(img.data());
          auto t0 = Clock::now();
          const SparseStats& s = sparse.run(labels, (i % 2) ? img.data() : frame.data(), p);
          double ms = ms_since(t0);
          if (i > 0) st.push_back(ms);  // the first is a warm-up
          flops = 1.0 - s.flop_hit_ratio();
          last = s;
        }
        double ms = median(st);
        const char* policy_name = pan ? (policy ? "pan-move" : "pan-copy") : footprint ? "footprint" : "exact";
        const char* pattern = clustered ? "clustered" : "random";
        if (json)
          std::printf(
              "{\"policy\":\"%s\",\"pattern\":\"%s\",\"blocks\":%.3f,\"flops\":%.4f,\"ms\":%.3f,"
              "\"dense_ms\":%.3f,\"speedup\":%.3f}\n",
              policy_name, pattern, pct / 100.0, flops, ms, dense_ms, dense_ms / ms);
        else
          std::printf("%-10s %-10s %8d%% %9.1f%% %10.2f %8.2fx %8.2fx   (kernels %.2f, labels %.2f, copies %.2f, "
                      "island %.2f, epilogue %.2f)\n", policy_name, pattern, pct, 100 * flops, ms, dense_ms / ms,
                      pct ? 100.0 / pct : 0.0, last.kernel_ms, last.labels_ms, last.copy_ms, last.island_ms,
                      last.epilogue_ms);
      }
  return 0;
}

}  // namespace

int cmd_bench(const Args& args) {
  std::string what = args.positional(0, "benchmark name (dense)");
  if (what == "dense") return bench_dense(args);
  if (what == "sparse") return bench_sparse(args);
  throw UsageError("fluxshard bench: unknown benchmark '" + what + "' (available: dense, sparse)");
}

}  // namespace fx::cli
