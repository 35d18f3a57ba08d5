// The block planner's change test, staleness bound and scene-cut / fade refresh (runtime/motion/
// change_test.h, runtime/planner.h) on synthetic frames: a dark, low-contrast edit is a candidate while
// the same frames without it and the sensor's noise are not, at any exposure; over a long sequence of
// drifts that never pass the change test, the reference stays within the drift bound of the frame, with
// the refreshes spread over frames; a cut and a fade refresh every block.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "runtime/motion/change_test.h"
#include "runtime/planner.h"
#include "runtime/sparse/reference.h"
#include "synthetic_texture.h"

using namespace fx;

namespace {

constexpr int W = 320, H = 320, B = 16, kCols = W / B, kBlocks = kCols * (H / B);

// The texture of test::texture around 128, / 128, for seed 0 and 1 (computed once: the tests build a few
// hundred frames).
const std::vector<float>& texture_plane(int seed) {
  static std::vector<float> planes[2];
  std::vector<float>& t = planes[seed];
  if (t.empty()) {
    t.resize(static_cast<size_t>(W) * H * 3);
    for (int y = 0; y < H; ++y)
      for (int x = 0; x < W; ++x)
        for (int c = 0; c < 3; ++c)
          t[(static_cast<size_t>(y) * W + x) * 3 + c] = (test::texture(x + 1000 * seed, y, c) - 128) / 128.f;
  }
  return t;
}

// A scene: level + amp x (texture - 128) / 128, plus the sensor's noise (uniform, +-noise, seeded by frame).
std::vector<uint8_t> scene(double level, double amp, double noise, int frame, int seed = 0) {
  const std::vector<float>& t = texture_plane(seed);
  std::vector<uint8_t> img(t.size());
  for (size_t i = 0; i < img.size(); ++i) {
    const double n = noise * ((test::hash3(static_cast<int>(i), 0, 97 + frame) & 0xffff) / 32767.5 - 1.0);
    img[i] = static_cast<uint8_t>(std::clamp(std::lround(level + amp * t[i] + n), 0L, 255L));
  }
  return img;
}

// Adds `delta` grey levels to the 8 x 8 pixels at (x0, y0).
void edit(std::vector<uint8_t>& img, int x0, int y0, int delta) {
  for (int y = y0; y < y0 + 8; ++y)
    for (int x = x0; x < x0 + 8; ++x)
      for (int c = 0; c < 3; ++c) {
        uint8_t& v = img[(static_cast<size_t>(y) * W + x) * 3 + c];
        v = static_cast<uint8_t>(std::clamp(v + delta, 0, 255));
      }
}

PlannerOptions exact_planner() {
  PlannerOptions po;
  po.exact = true;  // every candidate is critical: the labels show the test's decisions
  return po;
}

struct Planned {
  std::vector<Label> labels, motion;
  PlanReport rep;
};

Planned plan_once(BlockPlanner& p, const std::vector<uint8_t>& cur, const std::vector<uint8_t>& ref) {
  Planned o;
  p.plan(cur.data(), ref.data(), {}, SaliencePrior{}, o.labels, o.motion, o.rep, nullptr);
  return o;
}

}  // namespace

TEST_CASE("change test: block statistics", "[change]") {
  std::vector<uint8_t> a(static_cast<size_t>(W) * H * 3, 40), b = a;
  edit(b, 8, 0, 12);  // the top-right quadrant of block (0, 0): 12 levels brighter
  const BlockResidual r = block_residual(b.data(), a.data(), W, B, 0, 0, 0, 0);
  CHECK(r.peak_abs == Approx(12.0));
  CHECK(r.mean_abs == Approx(3.0));
  CHECK(r.offset == Approx(3.0));
  CHECK(r.contrast == Approx(4.5));  // a quarter at +9 from the mean 43, three quarters at -3
  const BlockResidual s = block_residual(a.data(), a.data(), W, B, 1, 1, 0, 0);
  CHECK(s.peak_abs == 0);
  CHECK(s.contrast == 0);
  // Against the reference moved by a vector: block (1, 0) matches the edit at (-8, 0).
  const BlockResidual m = block_residual(b.data(), b.data(), W, B, 1, 0, -8, 0);
  CHECK(m.mean_abs == Approx(3.0));
  CHECK(m.peak_abs == Approx(12.0));
  // The normalised residual: (12 - 1) / (4.5 + 2); the test passes above tau_rel, never at the noise level.
  CHECK(normalised_residual(r, 1.f, 2.f) == Approx(11.0 / 6.5));
  CHECK(normalised_residual(r, 13.f, 2.f) == 0.f);
  ChangeTestOptions o;
  o.tau_rel = 1.6f;
  CHECK(changed(o, r, 1.f, 2.f));
  o.tau_rel = 1.75f;
  CHECK_FALSE(changed(o, r, 1.f, 2.f));
  o.tau_rel = 0;  // any residual above the noise
  CHECK(changed(o, r, 11.9f, 2.f));
  CHECK_FALSE(changed(o, r, 12.f, 2.f));
  CHECK_FALSE(changed(o, s, 0.f, 2.f));
  o.tau_rel = -1;  // off
  CHECK_FALSE(changed(o, r, 0.f, 2.f));
  CHECK(change_floor(o, 0.5f) == o.floor_min);
  CHECK(change_floor(o, 10.f) == Approx(o.floor_noise * 10.f));
}

TEST_CASE("change test: block statistics equal a plain computation for any block size", "[change]") {
  // Random pictures; every block size the planner allows divides 320 or is checked on a 320-wide image
  // anyway (the statistics do not need the grid to cover it).
  std::vector<uint8_t> a(static_cast<size_t>(W) * H * 3), b(a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    a[i] = static_cast<uint8_t>(test::hash3(static_cast<int>(i), 1, 5) & 0xff);
    b[i] = static_cast<uint8_t>(test::hash3(static_cast<int>(i), 2, 5) & 0x3f) + 90;
  }
  for (int bs : {1, 4, 5, 16, 32, 64}) {
    for (int k = 0; k < 6; ++k) {
      const int bx = k % 3, by = k / 3, dx = k - 2, dy = 1 - k % 2;
      const BlockResidual r = block_residual(a.data(), b.data(), W, bs, bx, by, bx == 0 ? 0 : dx, by == 0 ? 0 : dy);
      const int x0 = bx * bs, y0 = by * bs, ox = bx == 0 ? 0 : dx, oy = by == 0 ? 0 : dy, h = bs / 2;
      double total = 0, quad[4] = {0, 0, 0, 0}, cnt[4] = {0, 0, 0, 0}, mean[3] = {0, 0, 0}, off = 0, dev = 0;
      for (int y = 0; y < bs; ++y)
        for (int x = 0; x < bs; ++x)
          for (int c = 0; c < 3; ++c) {
            const int va = a[(static_cast<size_t>(y0 + y) * W + x0 + x) * 3 + c];
            const int vb = b[(static_cast<size_t>(y0 + y + oy) * W + x0 + x + ox) * 3 + c];
            const int q = (y < h ? 0 : 2) + (x < h ? 0 : 1);
            quad[q] += std::abs(va - vb), cnt[q] += 1, total += std::abs(va - vb), off += va - vb;
            mean[c] += va;
          }
      for (double& m : mean) m /= bs * bs;
      for (int y = 0; y < bs; ++y)
        for (int x = 0; x < bs; ++x)
          for (int c = 0; c < 3; ++c) dev += std::fabs(a[(static_cast<size_t>(y0 + y) * W + x0 + x) * 3 + c] - mean[c]);
      double peak = 0;
      for (int q = 0; q < 4; ++q)
        if (cnt[q] > 0) peak = std::max(peak, quad[q] / cnt[q]);
      const double values = 3.0 * bs * bs;
      INFO("block " << bs << " at (" << bx << ", " << by << ")");
      CHECK(r.mean_abs == Approx(total / values).epsilon(1e-6));
      CHECK(r.peak_abs == Approx(peak).epsilon(1e-6));
      CHECK(r.contrast == Approx(dev / values).epsilon(1e-6));
      CHECK(r.offset == Approx(off / values).epsilon(1e-6).margin(1e-6));
    }
  }
}

TEST_CASE("change test: a dark low-contrast edit is a candidate; its absence and the sensor's noise are not",
          "[change]") {
  // Dark, flat content (mean ~25, contrast ~2 grey levels), noise +-2 on every frame; a darker patch of
  // 8 x 8 pixels (-6 levels, one quadrant) appears in one block: 2.5 levels on the block's mean with the
  // noise, under the aligner's 6.4.
  // The same scene 4x brighter (exposure) with the edit 4x stronger must give the same decisions.
  for (double gain : {1.0, 4.0}) {
    INFO("gain " << gain);
    const std::vector<uint8_t> ref = scene(25 * gain, 4 * gain, 2, 0);
    std::vector<uint8_t> cur = scene(25 * gain, 4 * gain, 2, 1);
    BlockPlanner planner(W, H, exact_planner());
    Planned quiet = plan_once(planner, cur, ref);  // noise only
    CHECK(quiet.rep.critical_blocks == 0);
    CHECK(quiet.rep.noise > 0.5f);
    edit(cur, 5 * B + 8, 7 * B + 8, static_cast<int>(-6 * gain));
    Planned edited = plan_once(planner, cur, ref);
    const size_t k = 7 * kCols + 5;
    CHECK(edited.rep.critical_blocks == 1);
    CHECK(edited.labels[k] == kInvalid);
    if (gain == 1.0) {
      CHECK(planner.field().blocks[k].cost <= planner.options().aligner.tau);  // the aligner alone misses it
      CHECK(edited.rep.changed_blocks == 1);
    }
    // The same frames with the test off: the aligner's absolute threshold misses the dark edit.
    PlannerOptions off = exact_planner();
    off.change.tau_rel = -1;
    BlockPlanner absolute(W, H, off);
    if (gain == 1.0) CHECK(plan_once(absolute, cur, ref).rep.critical_blocks == 0);
  }
}

TEST_CASE("staleness: sub-threshold drifts never take the reference further than the bound", "[change]") {
  // Textured content with +-1 noise per frame; in a quarter of the picture the texture's contrast flickers
  // by +-5% every frame (a light source, the codec's drift): the residual is a tenth of the block's own
  // contrast, under the change test's threshold (0.2), so only the drift bound refreshes it. The reference
  // is evolved as the sessions evolve it.
  const int frames = 200;
  int changed = 0;
  auto run = [&](float bound, float& worst_acc, int& refreshed, int& worst_frame_refreshes) {
    PlannerOptions po = exact_planner();
    po.staleness.drift_bound = bound;
    BlockPlanner planner(W, H, po);
    std::vector<uint8_t> ref = scene(120, 100, 1, 0), next(ref.size());
    std::vector<float> acc(kBlocks, 0.f);
    worst_acc = 0;
    refreshed = 0;
    worst_frame_refreshes = 0;
    for (int t = 1; t <= frames; ++t) {
      std::vector<uint8_t> cur = scene(120, 100, 1, t);
      const std::vector<uint8_t> flicker = scene(120, t % 2 ? 105 : 95, 1, t);
      for (int y = 0; y < H / 2; ++y)
        std::copy_n(flicker.begin() + static_cast<long>(y) * W * 3, W / 2 * 3,
                    cur.begin() + static_cast<long>(y) * W * 3);
      Planned p = plan_once(planner, cur, ref);
      refreshed += p.rep.drift_refreshed;
      changed += p.rep.critical_blocks - p.rep.drift_refreshed;
      worst_frame_refreshes = std::max(worst_frame_refreshes, p.rep.drift_refreshed);
      apply_block_update(ref.data(), p.labels, cur.data(), W, H, B, next.data());
      ref.swap(next);
      // The test's own account: every block's residual against the frame, above the noise level,
      // normalised as the change test does, summed since the block was last fresh.
      const float floor = change_floor(po.change, p.rep.noise);
      for (int k = 0; k < kBlocks; ++k) {
        const BlockResidual r = block_residual(cur.data(), ref.data(), W, B, k % kCols, k / kCols, 0, 0);
        const float e = normalised_residual(r, p.rep.noise, floor);
        CHECK(e <= po.change.tau_rel);
        if (p.labels[k] == kInvalid)
          acc[k] = 0;
        else
          acc[k] += e;
        worst_acc = std::max(worst_acc, acc[k]);
      }
    }
  };
  float worst = 0;
  int refreshed = 0, burst = 0;
  run(1.0f, worst, refreshed, burst);
  INFO("bound 1: worst accumulated drift " << worst << ", " << refreshed << " refreshes, at most " << burst
                                           << " in one frame");
  CHECK(worst <= 2 * 1.0f + PlannerOptions{}.change.tau_rel);  // twice the bound plus one frame's residual
  CHECK(refreshed > kBlocks / 4);     // the flickering quarter was refreshed, more than once over
  CHECK(burst <= kBlocks / 16);       // spread: never more than a quarter of the flickering blocks at once
  CHECK(changed < refreshed / 10);    // the drifts stay under the change test
  run(0.f, worst, refreshed, burst);  // without the bound the reference stays stale
  INFO("without the bound: worst accumulated drift " << worst);
  CHECK(refreshed == 0);
  CHECK(worst > 4.f);
}

TEST_CASE("staleness: blocks that drift alike are refreshed on different frames", "[change]") {
  // A faint texture (contrast ~2 levels) whose level flickers by +-1 in a quarter of the picture, with a
  // high noise floor (20 levels): every flickering block drifts at the same rate. Without the refresh
  // phases they would all come due on the same frame (100 blocks); with them, a few per frame.
  PlannerOptions po = exact_planner();
  po.change.floor_min = 20;
  po.staleness.drift_bound = 1;
  BlockPlanner planner(W, H, po);
  std::vector<uint8_t> ref = scene(120, 8, 1, 0), next(ref.size());
  int burst = 0, refreshed = 0;
  for (int t = 1; t <= 120; ++t) {
    std::vector<uint8_t> cur = scene(120, 8, 1, t);
    const std::vector<uint8_t> flicker = scene(t % 2 ? 121 : 119, 8, 1, t);
    for (int y = 0; y < H / 2; ++y)
      std::copy_n(flicker.begin() + static_cast<long>(y) * W * 3, W / 2 * 3,
                  cur.begin() + static_cast<long>(y) * W * 3);
    Planned p = plan_once(planner, cur, ref);
    burst = std::max(burst, p.rep.drift_refreshed);
    refreshed += p.rep.drift_refreshed;
    REQUIRE(p.rep.critical_blocks == p.rep.drift_refreshed);
    apply_block_update(ref.data(), p.labels, cur.data(), W, H, B, next.data());
    ref.swap(next);
  }
  INFO(refreshed << " refreshes, at most " << burst << " in one frame");
  CHECK(refreshed >= kBlocks / 4);  // every flickering block at least once
  CHECK(burst <= kBlocks / 40);     // ten frames' worth at most
}

TEST_CASE("scene cut and fade refresh every block", "[change]") {
  PlannerOptions po;  // fluxshard planning: salience gating, no prior
  {
    BlockPlanner planner(W, H, po);
    const std::vector<uint8_t> a0 = scene(120, 60, 1, 0, 0), a1 = scene(120, 60, 1, 1, 0), b = scene(120, 60, 1, 2, 1);
    Planned same = plan_once(planner, a1, a0);
    CHECK_FALSE(same.rep.refresh_all);
    CHECK(same.rep.critical_blocks == 0);
    Planned cut = plan_once(planner, b, a1);
    CHECK(cut.rep.refresh_all);
    CHECK(cut.rep.critical_blocks == kBlocks);
    CHECK(std::count(cut.labels.begin(), cut.labels.end(), kInvalid) == kBlocks);
  }
  {
    // A fade: the same scene 2, then 4 levels darker (a gain of 0.97 / 0.94 on a mid-grey scene): the
    // first is under fade_levels (3), the second over. Every block keeps its match (no candidates).
    BlockPlanner planner(W, H, po);
    const std::vector<uint8_t> a = scene(100, 20, 0, 0);
    std::vector<uint8_t> d2 = a, d4 = a;
    for (uint8_t& v : d2) v = static_cast<uint8_t>(v - 2);
    for (uint8_t& v : d4) v = static_cast<uint8_t>(v - 4);
    Planned small = plan_once(planner, d2, a);
    CHECK_FALSE(small.rep.refresh_all);
    Planned fade = plan_once(planner, d4, a);
    CHECK(fade.rep.refresh_all);
    CHECK(fade.rep.critical_blocks == kBlocks);
    PlannerOptions off = po;
    off.staleness.fade_levels = 0;
    off.change.tau_rel = -1;
    BlockPlanner blind(W, H, off);
    CHECK(plan_once(blind, d4, a).rep.critical_blocks == 0);  // 4 levels are under the aligner's tau
  }
}
