// The evaluation's systems (net/systems.h, runtime/baselines.h) on short synthetic clips with a known
// answer, each through the real edge client and an in-process server: on a static scene every system that
// reuses by change reuses everything after the first frame and gives dense inference's outputs bit for bit
// (raw codec); at a scene cut everything is recomputed; the whole-frame and hold policies compute exactly
// the frames they say. Plus the pieces: the global shift, the whole-frame change, the ROI blocks, a link
// shared by several edges, and the dense-recompute ablation's exactness.
#include <catch2/catch.hpp>

#include "net/edge_client.h"
#include "net/systems.h"
#include "runtime/baselines.h"
#include "runtime/sparse/reference.h"
#include "synthetic_texture.h"
#include "test_net_util.h"

using namespace fx;
using namespace fx::net;

namespace {

constexpr int kSize = 128;  // the tiny plan's input: frames need no letterboxing

// A kSize x kSize frame of the synthetic texture seen from (ox, oy).
Frame texture_frame(int ox, int oy, int64_t index) {
  Frame f;
  f.width = f.height = kSize;
  f.index = index;
  f.rgb.resize(static_cast<size_t>(kSize) * kSize * 3);
  for (int y = 0; y < kSize; ++y)
    for (int x = 0; x < kSize; ++x)
      for (int c = 0; c < 3; ++c)
        f.rgb[(static_cast<size_t>(y) * kSize + x) * 3 + c] = test::texture(x + ox, y + oy, c);
  return f;
}

struct Run {
  std::vector<EdgeFrameReport> reps;
  std::vector<std::vector<Detection>> dets;
  EdgeTotals totals;
};

// `system` on `frames` against `server`, raw codec (so results can equal dense inference bit for bit).
Run run_system(const std::string& system, const std::vector<Frame>& frames, const std::string& server,
               std::shared_ptr<const Plan> plan, int hold_k = 3) {
  const SystemSpec* spec = find_system(system);
  REQUIRE(spec);
  EdgeOptions base;
  base.server = server;
  base.threads = 1;
  base.edge_profile = {{0, 0.1}, {64, 1.0}};
  base.result_timeout_ms = 120000;
  base.log = [](const std::string&) {};
  SystemSetup s = system_setup(*spec, base, plan, plan, hold_k);
  s.edge.codec = Codec::Raw;
  s.edge.roi_margin = 0;  // the tiny detector's one box covers about half the frame; grown, all of it
  s.edge.session.aligner.block = 16;  // 64 blocks of 768 bytes (raw), as roi_count counts them
  Run r;
  EdgeClient edge(s.plan, s.edge);
  for (const Frame& f : frames) {
    EdgeFrameReport rep;
    r.dets.push_back(edge.process(f, rep).detections);
    r.reps.push_back(rep);
  }
  r.totals = edge.totals();
  CHECK(edge.close() == 0);
  return r;
}

// Blocks the small detector's boxes cover on `f` (the ROI baseline's answer), and their count.
int roi_count(std::shared_ptr<const Plan> plan, const Frame& f) {
  auto pool = std::make_shared<ThreadPool>(1);
  SessionOptions o;
  o.mode = SessionMode::Dense;
  StreamSession s(plan, pool, o);
  std::vector<Detection> boxes = s.process(f).detections;  // frame = input: no letterbox
  std::vector<uint8_t> fresh;
  roi_blocks(boxes, kSize, kSize, 16, 0, fresh);
  int n = 0;
  for (uint8_t v : fresh) n += v;
  return n;
}

}  // namespace

TEST_CASE("static scene: every reuse baseline reuses everything and equals dense", "[net][eval]") {
  auto plan = test::tiny_plan(kSize);
  std::vector<Frame> frames;
  for (int i = 0; i < 6; ++i) frames.push_back(texture_frame(0, 0, i));
  const auto dense = test::local_run(plan, frames, SessionMode::Dense);
  test::ServerThread server(plan, ServerOptions{});
  const int blocks = (kSize / 16) * (kSize / 16);

  for (const char* name : {"deltacnn", "motiondeltacnn", "fluxshard", "fs-no-salience", "fs-zero-motion"}) {
    INFO(name);
    Run r = run_system(name, frames, server.address(), plan);
    for (size_t i = 1; i < frames.size(); ++i) {
      INFO("frame " << i);
      const EdgeFrameReport& rep = r.reps[i];
      CHECK_FALSE(rep.held);
      CHECK(rep.block_reuse == 1.0);
      CHECK(rep.hit_ratio == 1.0);
      CHECK(rep.payload_bytes == 0);
      CHECK(rep.output_hash == dense[i].hash);
    }
  }
  {
    INFO("coach: every later frame keeps the first result; nothing is sent");
    Run r = run_system("coach", frames, server.address(), plan);
    CHECK(r.reps[0].output_hash == dense[0].hash);
    for (size_t i = 1; i < frames.size(); ++i) {
      CHECK(r.reps[i].held);
      CHECK(r.reps[i].bytes_up == 0);
      CHECK(test::same_detections(r.dets[i], dense[i].dets));
    }
    CHECK(r.totals.held == 5);
  }
  {
    INFO("hold, k = 3: frames 0 and 3 are computed whole, the others keep the last result");
    Run r = run_system("hold", frames, server.address(), plan, 3);
    for (size_t i = 0; i < frames.size(); ++i) {
      INFO("frame " << i);
      CHECK(r.reps[i].held == (i % 3 != 0));
      CHECK((r.reps[i].payload_bytes == static_cast<size_t>(blocks) * 768) == (i % 3 == 0));
      if (i % 3 == 0) CHECK(r.reps[i].output_hash == dense[i].hash);
      CHECK(test::same_detections(r.dets[i], dense[i].dets));
    }
  }
  {
    INFO("offload: every frame whole, dense on the server");
    Run r = run_system("offload", frames, server.address(), plan);
    for (size_t i = 0; i < frames.size(); ++i) {
      CHECK(r.reps[i].on_cloud);
      CHECK(r.reps[i].block_reuse == 0.0);
      CHECK(r.reps[i].payload_bytes == static_cast<size_t>(blocks) * 768);
      CHECK(r.reps[i].output_hash == dense[i].hash);
    }
    CHECK(r.totals.mismatches == 0);
  }
  {
    INFO("roi: the blocks under the small detector's boxes are sent every frame, the rest is reused");
    const int roi = roi_count(plan, frames[0]);
    INFO(roi << " ROI blocks of " << blocks);
    REQUIRE(roi > 0);
    REQUIRE(roi < blocks);
    Run r = run_system("roi", frames, server.address(), plan);
    for (size_t i = 1; i < frames.size(); ++i) {
      CHECK(r.reps[i].payload_bytes == static_cast<size_t>(roi) * 768);
      CHECK(r.reps[i].block_reuse == Approx(1.0 - double(roi) / blocks));
      CHECK(r.reps[i].output_hash == dense[i].hash);
    }
  }
  {
    INFO("local: dense on the edge");
    Run r = run_system("local", frames, server.address(), plan);
    for (size_t i = 0; i < frames.size(); ++i) {
      CHECK_FALSE(r.reps[i].on_cloud);
      CHECK(r.reps[i].bytes_up == 0);
      CHECK(r.reps[i].block_reuse == 0.0);
      CHECK(r.reps[i].output_hash == dense[i].hash);
    }
  }
}

TEST_CASE("scene cut: every reuse baseline recomputes everything", "[net][eval]") {
  auto plan = test::tiny_plan(kSize);
  std::vector<Frame> frames;
  for (int i = 0; i < 6; ++i) frames.push_back(i < 3 ? texture_frame(i, 0, i) : texture_frame(4000 + i, 3000, i));
  const auto dense = test::local_run(plan, frames, SessionMode::Dense);
  test::ServerThread server(plan, ServerOptions{});

  for (const char* name : {"deltacnn", "motiondeltacnn", "fluxshard", "fs-no-salience", "fs-zero-motion"}) {
    INFO(name);
    Run r = run_system(name, frames, server.address(), plan);
    const EdgeFrameReport& cut = r.reps[3];
    CHECK(cut.block_reuse == 0.0);
    CHECK(cut.hit_ratio == 0.0);
    CHECK(cut.output_hash == dense[3].hash);
  }
  {
    INFO("coach: the cut is computed whole");
    Run r = run_system("coach", frames, server.address(), plan);
    CHECK_FALSE(r.reps[3].held);
    CHECK(r.reps[3].payload_bytes == static_cast<size_t>(64) * 768);
    CHECK(r.reps[3].output_hash == dense[3].hash);
  }
  {
    INFO("hold, k = 2: the frame after the cut is held (stale), the next one computed");
    Run r = run_system("hold", frames, server.address(), plan, 2);
    CHECK(r.reps[3].held);
    CHECK(test::same_detections(r.dets[3], dense[2].dets));
    CHECK_FALSE(r.reps[4].held);
    CHECK(r.reps[4].output_hash == dense[4].hash);
  }
}

TEST_CASE("global motion: the content's shift wins over static padding", "[eval]") {
  // The top half pans by (-3, -2) (content moving right and down); the bottom half is flat grey, static.
  constexpr int W = 128, H = 128, B = 16;
  Frame ref = texture_frame(100, 100, 0), cur = texture_frame(97, 98, 1);
  for (int y = H / 2; y < H; ++y)
    for (int x = 0; x < W * 3; ++x)
      ref.rgb[static_cast<size_t>(y) * W * 3 + x] = cur.rgb[static_cast<size_t>(y) * W * 3 + x] = 114;
  AlignerOptions ao;
  ao.stride_aware = false;
  MotionAligner al(W, H, ao);
  MotionField f;
  al.estimate(cur.rgb.data(), ref.rgb.data(), nullptr, {}, f);
  // More than half of the blocks are static padding: the median alone would be zero.
  const MotionVector g = global_motion(cur.rgb.data(), ref.rgb.data(), W, H, ao, f);
  CHECK(g.dx == -3);
  CHECK(g.dy == -2);
  for (int by = 0; by < H / B; ++by)
    for (int bx = 0; bx < W / B; ++bx) {
      const BlockMotion& m = f.at(bx, by);
      INFO("block " << bx << "," << by);
      // Blocks whose source at (-3, -2) leaves the image are exposed; the others match exactly (texture)
      // or are flat.
      const bool outside = bx == 0 || by == 0;
      CHECK(m.exposed == outside);
      if (!outside) {
        CHECK(m.mv.dx == -3);
        CHECK(m.mv.dy == -2);
        if (by < H / B / 2 - 1) CHECK(m.cost == 0.f);
      }
    }
}

TEST_CASE("frame change and ROI blocks", "[eval]") {
  std::vector<uint8_t> a(300, 10), b(300, 10);
  CHECK(frame_change(a.data(), b.data(), a.size()) == 0.0);
  b[0] = 10 + 255 - 10;  // one byte differs by 245
  CHECK(frame_change(a.data(), b.data(), a.size()) == Approx(245.0 / (300 * 255.0)));

  std::vector<uint8_t> fresh;
  Detection d;
  d.box[0] = 16, d.box[1] = 16, d.box[2] = 32, d.box[3] = 33;  // x covers block 1 only, y blocks 1 and 2
  roi_blocks({d}, 64, 64, 16, 0, fresh);
  std::vector<uint8_t> want(16, 0);
  want[1 * 4 + 1] = want[2 * 4 + 1] = 1;
  CHECK(fresh == want);
  roi_blocks({d}, 64, 64, 16, 1, fresh);  // grown by 1 px: blocks 0..2 in x, 0..2 in y
  int n = 0;
  for (uint8_t v : fresh) n += v;
  CHECK(n == 9);
  Detection off;
  off.box[0] = 70, off.box[1] = 70, off.box[2] = 90, off.box[3] = 90;  // outside the image
  roi_blocks({off}, 64, 64, 16, 0, fresh);
  CHECK(std::count(fresh.begin(), fresh.end(), 1) == 0);
}

TEST_CASE("a shared token bucket serves several edges at one rate", "[eval]") {
  // 8 Mbit/s = 1e6 bytes/s, burst 16 KiB.
  SharedTokenBucket bucket(RateTrace::constant(8), 16 * 1024);
  const auto t = std::chrono::steady_clock::now();
  CHECK(bucket.reserve(t, 16 * 1024) == 0.0);                     // the burst
  CHECK(bucket.reserve(t, 100000) == Approx(0.1).epsilon(1e-9));  // then the rate
  // A second edge at the same moment queues behind the first's bytes.
  CHECK(bucket.reserve(t, 100000) == Approx(0.2).epsilon(1e-9));
}

TEST_CASE("dense recompute: the caches equal dense inference of the reference image", "[eval]") {
  auto plan = test::tiny_plan(kSize);
  auto pool = std::make_shared<ThreadPool>(1);
  SessionOptions o;
  o.mode = SessionMode::FluxShard;
  o.dense_recompute = true;
  StreamSession s(plan, pool, o);
  SessionOptions d;
  d.mode = SessionMode::Dense;
  StreamSession dense(plan, pool, d);
  int recomputed = 0;
  for (int i = 0; i < 6; ++i) {
    // A pan with a moving bright square: moved blocks and fresh ones.
    Frame f = texture_frame(2 * i, i, i);
    for (int y = 20 + 6 * i; y < 40 + 6 * i; ++y)
      for (int x = 30; x < 50; ++x) f.rgb[(static_cast<size_t>(y) * kSize + x) * 3] = 250;
    FrameReport rep;
    s.process(f, &rep);
    recomputed += i > 0 && rep.critical_blocks > 0 && rep.sparse.hit_ratio() == 0.0;
    // Dense inference of R_t (what the caches represent).
    Frame r = f;
    const uint8_t* ref = s.sparse()->reference_rgb();
    r.rgb.assign(ref, ref + r.rgb.size());
    dense.process(r);
    const size_t n = plan->outputs().size();
    std::vector<const float*> a, b;
    for (size_t k = 0; k < n; ++k) a.push_back(s.output_data(k)), b.push_back(dense.output_data(k));
    INFO("frame " << i);
    CHECK(hash_outputs(*plan, a.data()) == hash_outputs(*plan, b.data()));
  }
  CHECK(recomputed == 5);
}
