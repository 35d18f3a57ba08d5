#include <chrono>
#include <cstdio>
#include <random>

#include "cli/commands.h"
#include "cli/common.h"
#include "runtime/dense_executor.h"
#include "runtime/error.h"
#include "runtime/io/npy.h"

namespace fx::cli {

namespace {

int bench_dense(const Args& args) {
  args.max_positionals(2);
  const std::string& plan_path = args.positional(1, "PLAN.fsp");
  int runs = args.get_int("--runs", 20, 1, 100000);
  int warmup = args.get_int("--warmup", 3, 0, 10000);
  int threads = thread_option(args);
  auto plan = Plan::load_file(plan_path);
  auto pool = std::make_shared<ThreadPool>(threads);
  DenseExecutor exec(plan, pool);
  const TensorInfo& it = plan->tensor(plan->input());
  if (args.has("--input")) {
    NpyArray in = read_npy(args.get("--input"));
    if (in.shape != it.shape) throw Error("'" + args.get("--input") + "' does not have the plan's input shape " + shape_text(it.shape));
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
    auto t0 = std::chrono::steady_clock::now();
    exec.invoke();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    if (profile)
      for (size_t k = 0; k < op_total.size(); ++k) op_total[k] += exec.op_times_ms()[k];
  }
  double mn = *std::min_element(ms.begin(), ms.end()), mx = *std::max_element(ms.begin(), ms.end());
  double med = median(ms);
  if (args.has("--json")) {
    std::printf("{\"plan\":\"%s\",\"threads\":%d,\"runs\":%d,\"min_ms\":%.3f,\"median_ms\":%.3f,\"max_ms\":%.3f}\n",
                sanitize_file_part(plan->source()).c_str(), pool->size(), runs, mn, med, mx);
  } else {
    std::printf("dense %s: %d threads, %d runs: min %.2f ms, median %.2f ms, max %.2f ms\n", plan->source().c_str(),
                pool->size(), runs, mn, med, mx);
  }
  if (profile) {
    std::vector<std::pair<double, int>> order;
    for (size_t k = 0; k < op_total.size(); ++k) order.emplace_back(op_total[k] / runs, static_cast<int>(k));
    std::sort(order.rbegin(), order.rend());
    std::fprintf(stderr, "slowest ops (mean ms):\n");
    for (size_t k = 0; k < std::min<size_t>(25, order.size()); ++k) {
      const auto* op = plan->fb().ops()->Get(static_cast<flatbuffers::uoffset_t>(order[k].second));
      std::fprintf(stderr, "  %7.3f  #%-4d %-14s %s\n", order[k].first, order[k].second, op_kind_name(op->kind()),
                   op->name() ? op->name()->c_str() : "");
    }
  }
  return 0;
}

}  // namespace

int cmd_bench(const Args& args) {
  std::string what = args.positional(0, "benchmark name (dense)");
  if (what == "dense") return bench_dense(args);
  throw UsageError("fluxshard bench: unknown benchmark '" + what + "' (available: dense)");
}

}  // namespace fx::cli
