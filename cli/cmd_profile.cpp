// fluxshard profile: profiling-driven truncation (DESIGN 6.4). Per-layer thresholds are eps_l = alpha *
// scale_l, where scale_l is the mean absolute activation of op l's output on the clips (dense), and never
// below the default session's attention-island threshold; for each motion bucket (median |MV| of the
// frame) the loosest alpha whose accuracy stays at or above the target is written into the plan's
// truncation table. Accuracy is measured against the same session without truncation (alpha 0): the
// truncation's own loss. (Against dense, the reference image's staleness under tau and the salience
// gating already cost more than any target near 1 allows, so no alpha would ever be chosen.)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>

#include "cli/commands.h"
#include "cli/output_file.h"
#include "cli/common.h"
#include "compiler/plan_truncation.h"
#include "runtime/error.h"
#include "runtime/io/video_reader.h"
#include "runtime/post/metrics.h"
#include "runtime/presets.h"
#include "runtime/session.h"
#include "runtime/sparse/truncation.h"

namespace fx::cli {

namespace {

struct Clip {
  std::string path;
  std::vector<Frame> frames;
};

// Mean |x| of every op's first output over the given frames (dense execution, op by op because the
// arena reuses memory).
std::vector<float> activation_scales(const Plan& plan, DenseExecutor& exec, const std::vector<Clip>& clips) {
  std::vector<double> sum(static_cast<size_t>(plan.op_count()), 0.0);
  std::vector<uint8_t> rgb;
  int samples = 0;
  for (const Clip& c : clips)
    for (size_t f = 0; f < c.frames.size(); f += std::max<size_t>(1, c.frames.size() / 4)) {
      preprocess_frame(c.frames[f], plan.input_w(), plan.input_h(), rgb, exec.input_data());
      for (int i = 0; i < plan.op_count(); ++i) {
        exec.run_ops(i, i + 1);
        int t = plan.op(i).out[0];
        const TensorInfo& ti = plan.tensor(t);
        const float* d = exec.tensor_data(t);
        double s = 0;
        if (ti.layout == PlanLayout::NHWC) {
          MapView m = exec.map_of(t);
          for (int y = 0; y < m.h; ++y)
            for (int x = 0; x < m.w; ++x)
              for (int ch = 0; ch < m.c; ++ch) s += std::fabs(m.at(y, x)[ch]);
        } else {
          for (int64_t k = 0; k < ti.numel; ++k) s += std::fabs(d[k]);
        }
        sum[static_cast<size_t>(i)] += ti.numel ? s / static_cast<double>(ti.numel) : 0.0;
      }
      ++samples;
    }
  std::vector<float> scale(sum.size());
  for (size_t i = 0; i < sum.size(); ++i) scale[i] = static_cast<float>(sum[i] / std::max(1, samples));
  return scale;
}

}  // namespace

int cmd_profile(const Args& args) {
  const std::string& plan_path = args.positional(0, "PLAN.fsp");
  if (args.positional_count() < 2 && !args.has("--input")) throw UsageError("fluxshard profile: missing --input CLIP");
  if (!args.has("-o")) throw UsageError("fluxshard profile: missing -o PLAN2.fsp");
  int threads = thread_option(args);
  double target = args.get_double("--target", 0.99, 0.0, 1.0);
  int max_frames = args.get_int("--frames", 60, 2, 100000);
  // The session whose truncation is profiled: the preset's knobs (fluxshard mode; exact mode has none).
  const SessionOptions base =
      preset_options(parse_preset(args.get_choice("--preset", "balanced", {"balanced", "fast"})));
  std::vector<std::string> inputs;
  if (args.has("--input")) inputs.push_back(args.get("--input"));
  for (size_t i = 1; i < args.positional_count(); ++i) inputs.push_back(args.positional(i, "CLIP"));
  auto plan = Plan::load_file(plan_path);
  const bool seg = plan->task() == "segment";

  std::vector<Clip> clips;
  for (const std::string& in : inputs) {
    Clip c;
    c.path = in;
    VideoReader reader(in);
    Frame f;
    while (static_cast<int>(c.frames.size()) < max_frames && reader.read(f)) c.frames.push_back(f);
    clips.push_back(std::move(c));
  }
  auto pool = std::make_shared<ThreadPool>(threads);
  auto runner = std::make_shared<OpRunner>(plan);
  DenseExecutor probe(plan, pool, runner);
  std::vector<float> scale = activation_scales(*plan, probe, clips);

  // Dense reference detections, once (reported beside the choice).
  std::vector<std::vector<FrameResult>> dense(clips.size());
  {
    SessionOptions d;
    d.mode = SessionMode::Dense;
    for (size_t c = 0; c < clips.size(); ++c) {
      StreamSession s(plan, pool, d, runner);
      for (const Frame& f : clips[c].frames) dense[c].push_back(s.process(f));
    }
  }
  // The floor: the session's island threshold (its island_eps x the op's scale).
  std::vector<float> floor_eps = default_eps(*plan, scale, base.island_eps);
  floor_eps.resize(scale.size(), 0.f);  // empty when the default has no island threshold
  auto eps_for = [&](double alpha) {
    std::vector<float> eps(scale.size());
    for (size_t i = 0; i < eps.size(); ++i) eps[i] = std::max(static_cast<float>(alpha * scale[i]), floor_eps[i]);
    return eps;
  };

  // Motion buckets by the frame's median |MV| (pixels at the plan's input size).
  const std::vector<float> edges = {1.f, 3.f, 6.f, 1e9f};
  const std::vector<double> alphas = {0.0, 0.005, 0.01, 0.02, 0.04, 0.08, 0.15, 0.3};
  size_t nb = edges.size();
  // Accuracy accumulators (against the untruncated session, alpha 0, and against dense) and FLOP hit per
  // (alpha, bucket).
  std::vector<std::vector<MatchAccumulator>> acc(alphas.size(), std::vector<MatchAccumulator>(nb));
  std::vector<std::vector<MatchAccumulator>> acc_dense(alphas.size(), std::vector<MatchAccumulator>(nb));
  std::vector<std::vector<FrameResult>> untruncated(clips.size());
  std::vector<std::vector<double>> hit(alphas.size(), std::vector<double>(nb, 0.0));
  std::vector<std::vector<int>> count(alphas.size(), std::vector<int>(nb, 0));
  for (size_t a = 0; a < alphas.size(); ++a) {
    std::vector<float> eps = eps_for(alphas[a]);
    SessionOptions o = base;
    o.eps_override = &eps;
    for (size_t c = 0; c < clips.size(); ++c) {
      StreamSession s(plan, pool, o, runner);
      for (size_t f = 0; f < clips[c].frames.size(); ++f) {
        FrameReport rep;
        const FrameResult& r = s.process(clips[c].frames[f], &rep);
        if (f == 0) continue;  // the first frame is dense in every mode
        size_t b = 0;
        while (b + 1 < nb && rep.motion.median_mv > edges[b]) ++b;
        if (a == 0) untruncated[c].resize(clips[c].frames.size()), untruncated[c][f] = r;
        const FrameResult& ref = untruncated[c][f];
        MatchResult m = match_detections(r.detections, ref.detections, 0.5f);
        MatchResult md = match_detections(r.detections, dense[c][f].detections, 0.5f);
        if (seg) acc[a][b].add(m, r.masks, ref.masks), acc_dense[a][b].add(md, r.masks, dense[c][f].masks);
        else acc[a][b].add(m), acc_dense[a][b].add(md);
        hit[a][b] += rep.sparse.flop_hit_ratio();
        count[a][b]++;
      }
    }
    std::fprintf(stderr, "alpha %.3f done\n", alphas[a]);
  }

  // Detect: F1 of the detections; segment: mean mask IoU of matched detections.
  auto accuracy = [&](const MatchAccumulator& m) { return seg ? m.mean_mask_iou() : m.f1(); };
  std::printf("accuracy vs the untruncated session (vs dense), FLOP hit, frames\n%-10s", "alpha");
  for (size_t b = 0; b < nb; ++b) std::printf("  median |MV| <= %-17g", edges[b] > 1e8 ? INFINITY : edges[b]);
  std::printf("\n");
  for (size_t a = 0; a < alphas.size(); ++a) {
    std::printf("%-10.3f", alphas[a]);
    for (size_t b = 0; b < nb; ++b)
      std::printf("  %.4f (%.4f) %5.1f%% %4d ", count[a][b] ? accuracy(acc[a][b]) : 0.0,
                  count[a][b] ? accuracy(acc_dense[a][b]) : 0.0, count[a][b] ? 100 * hit[a][b] / count[a][b] : 0.0,
                  count[a][b]);
    std::printf("\n");
  }
  std::vector<TruncationBucket> table;
  double prev_alpha = 0;
  for (size_t b = 0; b < nb; ++b) {
    double best = -1;
    for (size_t a = 0; a < alphas.size(); ++a)
      if (count[a][b] > 0 && accuracy(acc[a][b]) >= target) best = alphas[a];
    if (count[0][b] == 0) best = prev_alpha;  // no frames with that motion: the lower bucket's choice
    if (best < 0) best = 0;
    prev_alpha = best;
    TruncationBucket t;
    t.max_median_mv = edges[b];
    t.max_candidate_share = 1.f;
    t.eps = eps_for(best);
    table.push_back(t);
    std::printf("bucket median |MV| <= %g: alpha %.3f\n", edges[b], best);
  }
  std::vector<uint8_t> bytes = plan_with_truncation(*plan, table);
  Plan::from_bytes(bytes.data(), bytes.size(), args.get("-o"));  // must load
  write_output_file(args.get("-o"), bytes.data(), bytes.size());
  std::printf("%s: truncation table with %zu motion buckets (target %.3f)\n", args.get("-o").c_str(), table.size(),
              target);
  return 0;
}

}  // namespace fx::cli
