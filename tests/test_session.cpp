// Stream sessions on real clips: approximate mode with zero thresholds equals exact mode; the error of
// approximate mode grows with the thresholds but stays bounded; exact mode with tau = 0 (every changed
// block recomputed, so R_t is the frame) reproduces dense inference while reusing shifted content; the
// total time includes refresh slices; and the fluxshard-mode regression on bedroom.mp4 keeps detection
// F1 vs dense >= 0.97 (the balanced preset, the default). Also the miss classifier's salience gate, the
// presets and the refresh of every block at a scene cut.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>

#include "compiled_model.h"
#include "runtime/io/letterbox.h"
#include "runtime/io/video_reader.h"
#include "runtime/planner.h"
#include "runtime/post/metrics.h"
#include "runtime/presets.h"
#include "runtime/session.h"
#include "synthetic_texture.h"
#include "test_util.h"

using namespace fx;

namespace {

std::shared_ptr<const Plan> plan_of(const std::string& model) {
  return test::compiled_model(test::source_path("assets/" + model)).plan;
}

std::vector<Frame> frames_of(const std::string& clip, int n) {
  VideoReader r(test::source_path("assets/" + clip));
  std::vector<Frame> out;
  Frame f;
  while (static_cast<int>(out.size()) < n && r.read(f)) out.push_back(f);
  return out;
}

}  // namespace

TEST_CASE("approximate mode with all thresholds 0 and rounding off equals exact mode", "[session][sparse]") {
  auto plan = plan_of("yolo11n-320.onnx");
  auto frames = frames_of("cockatoo.mp4", 8);  // strong hand-held motion: shifts of every kind
  auto pool = std::make_shared<ThreadPool>(2);
  auto runner = std::make_shared<OpRunner>(plan);
  SparseExecutor exact(plan, pool, 16, runner), approx(plan, pool, 16, runner);
  PlannerOptions po;
  po.exact = true;
  BlockPlanner planner(320, 320, po);
  std::vector<uint8_t> cur(320 * 320 * 3);
  std::vector<Label> labels, motion;
  std::vector<float> zeros(static_cast<size_t>(plan->op_count()), 0.f);
  for (size_t f = 0; f < frames.size(); ++f) {
    letterbox_rgb(frames[f].rgb.data(), frames[f].width, frames[f].height, 320, 320, cur.data());
    if (f == 0) {
      exact.reset(cur.data());
      approx.reset(cur.data());
      continue;
    }
    PlanReport rep;
    planner.plan(cur.data(), exact.reference_rgb(), {}, SaliencePrior{}, labels, motion, rep, pool.get());
    SparseParams a;
    a.eps = &zeros;
    a.round_offsets = false;
    a.footprint_only = false;
    a.block_motion = &motion;
    const SparseStats& se = exact.run(labels, cur.data(), SparseParams{});
    int64_t recomputed = se.recomputed_positions;
    const SparseStats& sa = approx.run(labels, cur.data(), a);
    CHECK(sa.recomputed_positions == recomputed);
    for (int t = 0; t < static_cast<int>(plan->tensors().size()); ++t) {
      if (!exact.has_cache(t)) continue;
      MapView x = exact.map_of(t), y = approx.map_of(t);
      bool same = true;
      for (int yy = 0; yy < x.h && same; ++yy)
        for (int xx = 0; xx < x.w && same; ++xx) same = std::memcmp(x.at(yy, xx), y.at(yy, xx), 4u * x.c) == 0;
      INFO("frame " << f << " tensor " << plan->tensor(t).name);
      REQUIRE(same);
    }
    REQUIRE(std::memcmp(exact.output_data(0), approx.output_data(0), plan->tensor(plan->outputs()[0]).bytes()) == 0);
  }
}

TEST_CASE("approximate mode: the error grows with the thresholds and stays bounded", "[session][sparse]") {
  // The same block labels (from an exact planner) drive an exact executor and approximate ones; the
  // class-score error of the approximate outputs against the exact ones (dense inference on R_t) is
  // measured per threshold scale.
  auto plan = plan_of("yolo11n-320.onnx");
  auto frames = frames_of("cockatoo.mp4", 12);
  auto pool = std::make_shared<ThreadPool>(2);
  auto runner = std::make_shared<OpRunner>(plan);
  const std::vector<float> alphas = {0.f, 0.02f, 0.2f, 1.f};
  SparseExecutor exact(plan, pool, 16, runner);
  std::vector<std::unique_ptr<SparseExecutor>> approx;
  for (size_t a = 0; a < alphas.size(); ++a) approx.push_back(std::make_unique<SparseExecutor>(plan, pool, 16, runner));
  PlannerOptions po;
  po.exact = true;
  po.change.tau_rel = -1;  // the labels of the aligner's tau alone: this test is about the executor
  po.staleness = StalenessOptions{0, 0, 0};
  BlockPlanner planner(320, 320, po);
  std::vector<uint8_t> cur(320 * 320 * 3);
  std::vector<Label> labels, motion;
  std::vector<std::vector<float>> eps(alphas.size());
  const TensorInfo& o0 = plan->tensor(plan->outputs()[0]);
  const int anchors = static_cast<int>(o0.shape[2]);
  std::vector<double> worst(alphas.size(), 0.0), mean(alphas.size(), 0.0), hit(alphas.size(), 0.0);
  std::vector<int64_t> big(alphas.size(), 0);  // class scores off by more than 0.05
  for (size_t f = 0; f < frames.size(); ++f) {
    letterbox_rgb(frames[f].rgb.data(), frames[f].width, frames[f].height, 320, 320, cur.data());
    if (f == 0) {
      exact.reset(cur.data());
      for (size_t a = 0; a < alphas.size(); ++a) {
        approx[a]->reset(cur.data());
        eps[a].resize(static_cast<size_t>(plan->op_count()));
        for (size_t i = 0; i < eps[a].size(); ++i) eps[a][i] = alphas[a] * approx[a]->op_scale()[i];
      }
      continue;
    }
    PlanReport rep;
    planner.plan(cur.data(), exact.reference_rgb(), {}, SaliencePrior{}, labels, motion, rep, pool.get());
    exact.run(labels, cur.data(), SparseParams{});
    for (size_t a = 0; a < alphas.size(); ++a) {
      SparseParams p;
      p.eps = &eps[a];
      p.round_offsets = true;
      p.footprint_only = true;
      p.block_motion = &motion;
      hit[a] += approx[a]->run(labels, cur.data(), p).flop_hit_ratio();
      // Class scores: rows 4.. of output0, in [0, 1].
      double sum = 0;
      for (int64_t k = 4 * anchors; k < o0.numel; ++k) {
        double e = std::fabs(double(approx[a]->output_data(0)[k]) - exact.output_data(0)[k]);
        worst[a] = std::max(worst[a], e);
        big[a] += e > 0.05;
        sum += e;
      }
      mean[a] += sum / static_cast<double>(o0.numel - 4 * anchors) / static_cast<double>(frames.size() - 1);
    }
  }
  for (size_t a = 0; a < alphas.size(); ++a) {
    WARN("alpha " << alphas[a] << ": mean class-score error " << mean[a] << ", max " << worst[a] << ", " << big[a]
                  << " scores off by > 0.05, FLOP hit " << hit[a] / 11);
    // Bounded. Measured here (2026-12-06): mean 2.9e-5 (alpha 0) to 3.9e-5 (alpha 1); 202 to 269 of the
    // 11 x 80 x 2100 scores off by more than 0.05; single scores up to 0.51-0.60 (a few anchors, not
    // asserted). The bounds leave 25% for other machines' arithmetic (the attention MatMul differs
    // between ISAs).
    CHECK(mean[a] < 5e-5);
    CHECK(big[a] < 340);
  }
  // Looser thresholds reuse more and err more.
  CHECK(hit[0] < hit[1]);
  CHECK(hit[1] < hit[2]);
  CHECK(hit[2] < hit[3]);
  CHECK(mean[0] < mean[2]);
  CHECK(mean[1] < mean[3]);
}

TEST_CASE("the exact preset with tau 0 reproduces dense inference, reusing shifted content", "[session][sparse][preset]") {
  // A texture panned by whole pixels, at the plan's input size (the letterbox copies it): every block
  // whose content only moved has a zero-SAD match, so even at tau 0 the caches are shifted rather than
  // recomputed — by stride multiples (8, 16 px) and not (3, 5 px) — and every other block is fresh.
  auto plan = plan_of("yolo11n-320.onnx");
  auto pool = std::make_shared<ThreadPool>(2);
  SessionOptions e = preset_options(Preset::Exact), d;
  REQUIRE(e.mode == SessionMode::Exact);
  e.aligner.tau = 0;
  d.mode = SessionMode::Dense;
  StreamSession exact(plan, pool, e), dense(plan, pool, d);
  const size_t n = static_cast<size_t>(plan->tensor(plan->outputs()[0]).numel);
  struct Step {
    int dx, dy;  // content offset change
  };
  const Step steps[] = {{0, 0}, {8, 0}, {3, -5}, {0, 16}, {-16, -16}, {5, 2}, {8, 8}};
  int ox = 64, oy = 64, shifted_reuse = 0;
  for (size_t i = 0; i < sizeof steps / sizeof steps[0]; ++i) {
    ox += steps[i].dx, oy += steps[i].dy;
    Frame f;
    f.width = f.height = 320;
    f.rgb.resize(320 * 320 * 3);
    for (int y = 0; y < 320; ++y)
      for (int x = 0; x < 320; ++x)
        for (int c = 0; c < 3; ++c)
          f.rgb[(static_cast<size_t>(y) * 320 + x) * 3 + c] = test::texture(x + ox, y + oy, c);
    FrameReport rep;
    exact.process(f, &rep);
    dense.process(f);
    INFO("frame " << i << ", shift (" << steps[i].dx << ", " << steps[i].dy << "): FLOP hit "
                  << rep.sparse.flop_hit_ratio() << ", median motion " << rep.motion.median_mv << ", "
                  << rep.critical_blocks << " critical blocks");
    REQUIRE(exact.letterboxed() == f.rgb);
    // Every block that differs is fresh, so R_t is the frame and the caches are dense(frame).
    REQUIRE(std::memcmp(exact.output_data(0), dense.output_data(0), n * 4) == 0);
    if (i == 0) continue;
    // The content moved: most blocks are reused at the shift, only the uncovered edge is fresh.
    CHECK(rep.motion.median_mv == Approx(std::hypot(steps[i].dx, steps[i].dy)));
    CHECK(rep.critical_blocks < 400 / 4);
    CHECK(rep.sparse.hit_ratio() > 0.1);
    shifted_reuse += rep.sparse.flop_hit_ratio() > 0.1;
  }
  CHECK(shifted_reuse >= 3);  // the stride-multiple shifts reuse deeper maps too
}

TEST_CASE("a session's total time includes its synchronous refresh slices", "[session]") {
  auto plan = plan_of("yolo11n-320.onnx");
  auto frames = frames_of("bedroom.mp4", 3);
  SessionOptions o;
  o.refresh_ms = 2;
  StreamSession s(plan, std::make_shared<ThreadPool>(2), o);
  for (const Frame& f : frames) {
    FrameReport rep;
    s.process(f, &rep);
    const StageTimes& t = rep.time;
    CHECK(t.refresh_ms > 0);
    CHECK(t.total_ms() ==
          Approx(t.preprocess_ms + t.motion_ms + t.classify_ms + t.execute_ms + t.post_ms + t.refresh_ms));
  }
}

TEST_CASE("presets: the defaults are balanced; exact and fast differ from it as documented", "[session][preset]") {
  const SessionOptions d, b = preset_options(Preset::Balanced), e = preset_options(Preset::Exact),
                          f = preset_options(Preset::Fast);
  CHECK(b.mode == SessionMode::FluxShard);
  CHECK(b.aligner.tau == d.aligner.tau);
  CHECK(b.change.tau_rel == d.change.tau_rel);
  CHECK(b.change.cap == d.change.cap);
  CHECK(b.staleness.drift_bound == d.staleness.drift_bound);
  CHECK(b.island_eps == d.island_eps);
  CHECK(b.island_reused_scale == d.island_reused_scale);
  CHECK(b.tau_salient == d.tau_salient);
  CHECK(e.mode == SessionMode::Exact);
  CHECK(f.mode == SessionMode::FluxShard);
  CHECK(f.island_reused_scale >= b.island_reused_scale);
  CHECK(f.change.tau_rel >= b.change.tau_rel);
  CHECK(default_preset(SessionMode::Exact) == Preset::Exact);
  CHECK(default_preset(SessionMode::FluxShard) == Preset::Balanced);
  CHECK(parse_preset("fast") == Preset::Fast);
  CHECK_THROWS_WITH(parse_preset("quick"), "unknown preset 'quick' (exact, balanced or fast)");
  // Settings a preset does not name are kept.
  SessionOptions base;
  base.post.decode.conf = 0.4f;
  base.refresh_ms = 3;
  const SessionOptions kept = preset_options(Preset::Fast, base);
  CHECK(kept.post.decode.conf == 0.4f);
  CHECK(kept.refresh_ms == 3);
}

TEST_CASE("scene cut: a sequence that switches clips refreshes every block at the cut", "[session][change]") {
  // bedroom, then cockatoo: at the cut the exact session recomputes every block, so its outputs are dense
  // inference's bit for bit on that frame (with the cut test off it keeps blocks of bedroom's reference).
  auto plan = plan_of("yolo11n-320.onnx");
  auto a = frames_of("bedroom.mp4", 3), b = frames_of("cockatoo.mp4", 2);
  std::vector<Frame> frames = a;
  frames.insert(frames.end(), b.begin(), b.end());
  auto pool = std::make_shared<ThreadPool>(2);
  const size_t n = static_cast<size_t>(plan->tensor(plan->outputs()[0]).numel);
  for (bool cut_test : {true, false}) {
    SessionOptions e = preset_options(Preset::Exact), d;
    d.mode = SessionMode::Dense;
    if (!cut_test) e.staleness.cut_share = 0, e.staleness.fade_levels = 0;
    StreamSession exact(plan, pool, e), dense(plan, pool, d);
    for (size_t i = 0; i < frames.size(); ++i) {
      FrameReport rep;
      exact.process(frames[i], &rep);
      dense.process(frames[i]);
      const int blocks = (plan->input_w() / 16) * (plan->input_h() / 16);
      if (i == a.size()) {
        INFO("cut test " << cut_test << ": " << rep.critical_blocks << " of " << blocks << " blocks recomputed");
        CHECK(rep.refresh_all == cut_test);
        CHECK((rep.critical_blocks == blocks) == cut_test);
        // (Without the cut test the blocks kept may still equal the frame, e.g. both clips' letterbox bars,
        // so only the refreshed frame's outputs are checked.)
        if (cut_test) CHECK(std::memcmp(exact.output_data(0), dense.output_data(0), n * 4) == 0);
      } else if (i > 0) {
        CHECK_FALSE(rep.refresh_all);
      }
    }
  }
}

TEST_CASE("regression: bedroom.mp4, 30 frames in fluxshard mode keep detection F1 vs dense >= 0.97",
          "[session][regression]") {
  auto plan = plan_of("yolo11n-640.onnx");
  auto frames = frames_of("bedroom.mp4", 30);
  REQUIRE(frames.size() == 30);
  auto pool = std::make_shared<ThreadPool>(2);
  auto runner = std::make_shared<OpRunner>(plan);
  SessionOptions o, d;
  d.mode = SessionMode::Dense;
  StreamSession flux(plan, pool, o, runner), dense(plan, pool, d, runner);
  MatchAccumulator acc;
  double flop_hit = 0;
  for (size_t f = 0; f < frames.size(); ++f) {
    FrameReport rep;
    const FrameResult& r = flux.process(frames[f], &rep);
    const FrameResult& ref = dense.process(frames[f]);
    acc.add(match_detections(r.detections, ref.detections, 0.5f));
    if (f > 0) flop_hit += rep.sparse.flop_hit_ratio();
  }
  INFO("F1 " << acc.f1() << ", FLOP hit " << flop_hit / 29);
  CHECK(acc.f1() >= 0.97);
  CHECK(flop_hit / 29 > 0.3);  // and it does reuse the cache
}

TEST_CASE("miss classifier: salience gating skips non-salient candidates only while few blocks change",
          "[session][planner]") {
  const int W = 320, H = 320, B = 16, cols = W / B;
  std::vector<uint8_t> ref(static_cast<size_t>(W) * H * 3);
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x)
      for (int c = 0; c < 3; ++c) ref[(static_cast<size_t>(y) * W + x) * 3 + c] = test::texture(x, y, c);
  // `changed` blocks of the reference replaced by other content: recompute candidates, none salient
  // (no previous detections), none exposed.
  auto frame_with = [&](int changed) {
    std::vector<uint8_t> cur = ref;
    for (int k = 0; k < changed; ++k) {
      int bx = 1 + (2 * k) % (cols - 2), by = 1 + (2 * k) / (cols - 2);  // off the border: not exposed
      for (int y = by * B; y < (by + 1) * B; ++y)
        for (int x = bx * B; x < (bx + 1) * B; ++x)
          for (int c = 0; c < 3; ++c)
            cur[(static_cast<size_t>(y) * W + x) * 3 + c] = test::texture(x + 1000, y + 700, c);
    }
    return cur;
  };
  struct Case {
    int changed;
    float gate_max_share;
    bool skipped;
  };
  // 400 blocks: 20 changed is a 5% share, 80 is 20%.
  for (Case c : {Case{20, 0.1f, true}, Case{80, 0.1f, false}, Case{80, 1.f, true}}) {
    PlannerOptions po;
    po.gate_max_share = c.gate_max_share;
    po.stale_frames = 1000;
    BlockPlanner planner(W, H, po);
    std::vector<uint8_t> cur = frame_with(c.changed);
    std::vector<Label> labels, motion;
    PlanReport rep;
    std::vector<Detection> none;
    SaliencePrior prior;
    prior.detections = &none;
    planner.plan(cur.data(), ref.data(), {}, prior, labels, motion, rep, nullptr);
    INFO(c.changed << " changed blocks, gate up to " << c.gate_max_share);
    CHECK(rep.candidate_blocks == c.changed);
    CHECK(rep.salient_skipped == (c.skipped ? c.changed : 0));
    CHECK(rep.critical_blocks == (c.skipped ? 0 : c.changed));
  }
}
