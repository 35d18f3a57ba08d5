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
#include "runtime/sparse/cost_curve.h"
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

// The sparse cost curve (runtime/sparse/cost_curve.h) on two frames of --input (grey without one).
int bench_sparse(const Args& args) {
  args.max_positionals(2);
  const std::string& plan_path = args.positional(1, "PLAN.fsp");
  CostCurveOptions opt;
  opt.runs = args.get_int("--runs", 7, 1, 10000);
  opt.block = args.get_int("--block", 16, 4, 128);
  opt.pan = args.has("--pan");
  opt.pan_dx = args.get_int("--pan", 0, -64, 64);
  opt.island_eps = SessionOptions{}.island_eps;
  opt.island_reused_scale = SessionOptions{}.island_reused_scale;
  auto plan = Plan::load_file(plan_path);
  const auto device = make_device(plan, backend_options(args));
  const int W = plan->input_w(), H = plan->input_h();
  // A real frame as content.
  std::vector<uint8_t> img(static_cast<size_t>(W) * H * 3, 114), frame = img;
  if (args.has("--input")) {
    VideoReader r(args.get("--input"));
    Frame f;
    if (r.read(f)) letterbox_rgb(f.rgb.data(), f.width, f.height, W, H, img.data());
    if (r.read(f)) letterbox_rgb(f.rgb.data(), f.width, f.height, W, H, frame.data());
  }
  const std::vector<CostPoint> points = sparse_cost_curve(device, img, frame, opt);
  const bool json = args.has("--json");
  if (!json && !points.empty())
    std::printf("dense: %.2f ms (median of %d, %s)\n%-10s %-10s %9s %10s %10s %9s %9s\n", points[0].dense_ms, opt.runs,
                device->name().c_str(), "policy", "pattern", "blocks%", "FLOPs%", "ms", "speed-up", "ideal");
  for (const CostPoint& p : points) {
    if (json)
      std::printf(
          "{\"policy\":\"%s\",\"pattern\":\"%s\",\"blocks\":%.3f,\"flops\":%.4f,\"ms\":%.3f,"
          "\"dense_ms\":%.3f,\"speedup\":%.3f}\n",
          p.policy.c_str(), p.pattern.c_str(), p.share / 100.0, p.flops, p.ms, p.dense_ms, p.dense_ms / p.ms);
    else
      std::printf("%-10s %-10s %8d%% %9.1f%% %10.2f %8.2fx %8.2fx   (kernels %.2f, labels %.2f, copies %.2f, "
                  "island %.2f, epilogue %.2f)\n", p.policy.c_str(), p.pattern.c_str(), p.share, 100 * p.flops, p.ms,
                  p.dense_ms / p.ms, p.share ? 100.0 / p.share : 0.0, p.last.kernel_ms, p.last.labels_ms,
                  p.last.copy_ms, p.last.island_ms, p.last.epilogue_ms);
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
