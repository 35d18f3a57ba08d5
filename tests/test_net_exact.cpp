// The exact proxy (DESIGN 5-7): `edge --policy offload --mode exact` gives, frame for frame, the same raw
// outputs (hash of every output float) and detections as a local exact run on the same clip, because the
// server's reference evolves exactly as a local session's would; with every block codec (for JPEG,
// against a local run fed the decoded pixels); on a real clip (assets/bedroom.mp4, yolo11n-320).
#include <catch2/catch.hpp>

#include <sstream>

#include "compiled_model.h"
#include "net/codec.h"
#include "net/edge_client.h"
#include "net/hash.h"
#include "runtime/detector.h"
#include "runtime/planner.h"
#include "runtime/sparse/sparse_executor.h"
#include "runtime/util/json.h"
#include "test_net_util.h"

using namespace fx;
using namespace fx::net;

namespace {

constexpr int kFrames = 8;

std::shared_ptr<const Plan> yolo320() {
  return test::compiled_model(test::source_path("assets/yolo11n-320.onnx")).plan;
}

const std::vector<Frame>& bedroom() {
  static std::vector<Frame> f = test::read_clip(test::source_path("assets/bedroom.mp4"), kFrames);
  return f;
}

EdgeOptions edge_options(const std::string& server, Codec codec, SessionMode mode) {
  EdgeOptions o;
  o.server = server;
  o.policy = Policy::Offload;
  o.session.mode = mode;
  o.codec = codec;
  o.threads = 1;
  o.edge_profile = {{0, 1.0}, {400, 40.0}};
  o.result_timeout_ms = 60000;  // a slow machine must not turn a cloud frame into a local one
  o.log = [](const std::string&) {};
  return o;
}

struct EdgeFrame {
  EdgeFrameReport rep;
  std::vector<Detection> dets;
};

std::vector<EdgeFrame> edge_run(const std::string& server, Codec codec, SessionMode mode,
                                EdgeTotals* totals = nullptr) {
  EdgeClient edge(yolo320(), edge_options(server, codec, mode));
  std::vector<EdgeFrame> out;
  for (const Frame& f : bedroom()) {
    EdgeFrame e;
    e.dets = edge.process(f, e.rep).detections;
    out.push_back(std::move(e));
  }
  if (totals) *totals = edge.totals();
  CHECK(edge.close() == 0);
  return out;
}

// A local exact run whose fresh blocks carry the pixels a codec delivers (what the server sees).
std::vector<test::LocalFrame> local_run_decoded(Codec codec) {
  auto plan = yolo320();
  SessionOptions so;  // the edge's defaults: the balanced preset's planner in exact mode
  so.mode = SessionMode::Exact;
  const int W = plan->input_w(), H = plan->input_h(), B = so.aligner.block;
  auto pool = std::make_shared<ThreadPool>(1);
  SparseExecutor exec(plan, pool, B);
  BlockPlanner planner(W, H, planner_options(so, plan->task()));
  BlockGrid g{W, H, B};
  OutputLayout layout = output_layout(*plan);
  EncodeOptions eo;
  eo.codec = codec;
  std::vector<uint8_t> cur(static_cast<size_t>(W) * H * 3);
  std::vector<Label> labels, motion;
  std::vector<test::LocalFrame> out;
  for (const Frame& f : bedroom()) {
    LetterboxInfo lb;
    letterbox_rgb(f.rgb.data(), f.width, f.height, W, H, cur.data(), &lb);
    std::vector<uint8_t> fresh(static_cast<size_t>(g.count()), 1);
    if (exec.initialised()) {
      PlanReport rep;
      planner.plan(cur.data(), exec.reference_rgb(), codec_hints(f.mvs, lb), SaliencePrior{}, labels, motion, rep,
                   pool.get());
      for (size_t k = 0; k < fresh.size(); ++k) fresh[k] = labels[k] == kInvalid;
    }
    EncodedBlocks enc;
    encode_blocks(cur.data(), g, fresh, eo, enc);
    std::vector<uint8_t> img = cur;
    decode_blocks(enc.payload.data(), enc.payload.size(), codec, enc.count, enc.atlas_cols, g, fresh, img.data());
    if (!exec.initialised()) {
      exec.reset(img.data());
    } else {
      SparseParams p;
      p.block_motion = &motion;
      exec.run(labels, img.data(), p);
    }
    FrameResult r = postprocess(layout, exec.output_data(0), nullptr, lb, PostOptions{});
    out.push_back({hash_outputs(*plan, exec), r.detections, {}});
  }
  return out;
}

void compare(const std::vector<EdgeFrame>& edge, const std::vector<test::LocalFrame>& local) {
  REQUIRE(edge.size() == local.size());
  for (size_t i = 0; i < edge.size(); ++i) {
    INFO("frame " << i);
    CHECK(edge[i].rep.on_cloud);
    CHECK_FALSE(edge[i].rep.reference_mismatch);
    CHECK(edge[i].rep.output_hash == local[i].hash);
    CHECK(test::same_detections(edge[i].dets, local[i].dets));
  }
}

}  // namespace

TEST_CASE("exact proxy: offloaded exact frames equal a local exact run, every codec", "[net][exact]") {
  test::ServerThread server(yolo320(), net::ServerOptions{});
  auto local = test::local_run(yolo320(), bedroom(), SessionMode::Exact);
  REQUIRE(local.size() == kFrames);
  for (Codec c : {Codec::Raw, Codec::Zstd, Codec::Lz4}) {
    INFO("codec " << codec_name(c));
    EdgeTotals t;
    auto edge = edge_run(server.address(), c, SessionMode::Exact, &t);
    compare(edge, local);
    CHECK(t.on_cloud == kFrames);
    CHECK(t.mismatches == 0);
    CHECK(t.resyncs == 1);
    // Payload bytes are counted exactly: raw = fresh blocks * B * B * 3 (the edge's default block size).
    const size_t block_bytes = static_cast<size_t>(EdgeOptions{}.session.aligner.block) * EdgeOptions{}.session.aligner.block * 3;
    if (c == Codec::Raw) CHECK(edge[0].rep.payload_bytes == 320u * 320 * 3);
    if (c == Codec::Raw) CHECK(edge[1].rep.payload_bytes == static_cast<size_t>(edge[1].rep.ccb) * block_bytes);
  }
  {
    INFO("codec jpeg");
    auto edge = edge_run(server.address(), Codec::Jpeg, SessionMode::Exact);
    auto local_jpeg = local_run_decoded(Codec::Jpeg);
    compare(edge, local_jpeg);
    int differ = 0;
    for (int i = 0; i < kFrames; ++i)
      differ += local_jpeg[static_cast<size_t>(i)].hash != local[static_cast<size_t>(i)].hash;
    CHECK(differ > 0);  // JPEG did change the pixels: the comparison above is not the raw one again
  }
  CHECK(server.stop() == 0);
}

TEST_CASE("exact proxy: the production (approximate) mode offloaded equals a local fluxshard run", "[net][exact]") {
  test::ServerThread server(yolo320(), net::ServerOptions{});
  auto local = test::local_run(yolo320(), bedroom(), SessionMode::FluxShard);
  auto edge = edge_run(server.address(), Codec::Zstd, SessionMode::FluxShard);
  compare(edge, local);
  CHECK(server.stop() == 0);
}

TEST_CASE("exact proxy: mixed edge / cloud frames with background updates keep the proxy identical", "[net][exact]") {
  test::TempDir tmp;
  auto plan = test::tiny_plan();
  test::write_clip(tmp.file("clip.mp4"), 120, 9);
  auto frames = test::read_clip(tmp.file("clip.mp4"));
  net::ServerOptions so;
  so.threads = 1;
  test::ServerThread server(plan, so);
  for (Codec c : {Codec::Jpeg, Codec::Raw}) {
    INFO("codec " << codec_name(c));
    EdgeOptions o;
    o.server = server.address();
    o.policy = Policy::FluxShard;
    o.session.mode = SessionMode::FluxShard;
    o.codec = c;
    o.trace = "low";
    o.rtt_ms = 4;
    o.threads = 1;
    o.edge_profile = {{0, 0.1}, {64, 1.0}};
    o.result_timeout_ms = 60000;
    o.force_side = [](int64_t f) { return static_cast<int>((f / 10) % 2); };  // 10 on the edge, 10 on the cloud, ...
    o.log = [](const std::string&) {};
    EdgeClient edge(plan, o);
    int cloud = 0, mismatched = 0;
    for (const Frame& f : frames) {
      EdgeFrameReport rep;
      edge.process(f, rep);
      cloud += rep.on_cloud;
      mismatched += rep.reference_mismatch;
      CHECK(rep.on_cloud == (((rep.frame / 10) % 2) == 1));
      // The edge plans its own side while its reference (last computed on frame 10k - 1) is at most
      // edge_plan_max_age = 4 frames old, and whenever it runs the frame itself.
      CHECK((rep.ecb >= 0) == (!rep.on_cloud || rep.frame % 10 <= 3));
    }
    EdgeTotals t = edge.totals();
    CHECK(cloud == 60);
    CHECK(mismatched == 0);
    CHECK(t.mismatches == 0);
    CHECK(t.background_blocks > 0);  // edge frames sent non-critical blocks with spare bandwidth
    CHECK(t.refresh_ops > 0);        // cloud frames refreshed the edge's cache while waiting
    CHECK(t.resyncs == 1);
    CHECK(edge.close() == 0);
  }
  CHECK(server.server().stats().backgrounds > 0);
  CHECK(server.stop() == 0);
}

TEST_CASE("exact proxy: segmentation masks come back exact", "[net][exact][segment]") {
  auto plan = test::compiled_model(test::source_path("assets/yolo11n-seg-640.onnx")).plan;
  auto clip = test::read_clip(test::source_path("assets/cockatoo.mp4"), 4);
  auto local = test::local_run(plan, clip, SessionMode::Exact, 2);
  net::ServerOptions so;
  so.threads = 2;
  test::ServerThread server(plan, so);
  EdgeOptions o = edge_options(server.address(), Codec::Lz4, SessionMode::Exact);
  EdgeClient edge(plan, o);
  int masks = 0;
  for (size_t i = 0; i < clip.size(); ++i) {
    INFO("frame " << i);
    EdgeFrameReport rep;
    const FrameResult& r = edge.process(clip[i], rep);
    CHECK(rep.on_cloud);
    CHECK(rep.output_hash == local[i].hash);
    CHECK(test::same_detections(r.detections, local[i].dets));
    REQUIRE(r.masks.size() == local[i].masks.size());
    for (size_t k = 0; k < r.masks.size(); ++k) {
      CHECK(r.masks[k].width == local[i].masks[k].width);
      CHECK(r.masks[k].data == local[i].masks[k].data);
      ++masks;
    }
  }
  CHECK(masks > 0);
  CHECK(edge.close() == 0);
  CHECK(server.stop() == 0);
}

TEST_CASE("exact proxy: fluxshard edge / serve / run command lines agree", "[net][exact][cli]") {
  test::TempDir tmp;
  const auto& bytes = test::compiled_model(test::source_path("assets/yolo11n-320.onnx")).bytes;
  test::write_file(tmp.file("y.fsp"), std::string(bytes.begin(), bytes.end()));
  test::Child serve(
      {"serve", tmp.file("y.fsp"), "--listen", "127.0.0.1:0", "--port-file", tmp.file("port"), "--threads", "1"},
      tmp.file("serve.out"), tmp.file("serve.err"));
  int port = test::wait_port_file(tmp.file("port"), 30);
  REQUIRE(port > 0);
  std::string clip = test::source_path("assets/bedroom.mp4");
  auto e = test::run_cli({"edge", tmp.file("y.fsp"), "--input", clip, "--server", "127.0.0.1:" + std::to_string(port),
                          "--policy", "offload", "--mode", "exact", "--codec", "lossless", "--max-frames",
                          std::to_string(kFrames), "--json", tmp.file("edge.jsonl"), "--threads", "1",
                          "--result-timeout-ms", "60000"});
  INFO(e.err);
  REQUIRE(e.status == 0);
  auto r = test::run_cli({"run", tmp.file("y.fsp"), "--input", clip, "--mode", "exact", "--max-frames",
                          std::to_string(kFrames), "--json", tmp.file("run.jsonl"), "--threads", "1", "--quiet"});
  REQUIRE(r.status == 0);
  auto lines = [](const std::string& s) {
    std::vector<JsonValue> v;
    size_t a = 0;
    for (size_t b; (b = s.find('\n', a)) != std::string::npos; a = b + 1)
      v.push_back(JsonValue::parse(s.substr(a, b - a)));
    return v;
  };
  auto el = lines(test::read_file(tmp.file("edge.jsonl")));
  auto rl = lines(test::read_file(tmp.file("run.jsonl")));
  REQUIRE(el.size() == kFrames + 1);
  REQUIRE(rl.size() == kFrames + 1);
  for (int i = 0; i < kFrames; ++i) {
    INFO("frame " << i);
    CHECK(el[static_cast<size_t>(i)].at("on").as_string() == "cloud");
    CHECK(el[static_cast<size_t>(i)].at("detections") == rl[static_cast<size_t>(i)].at("detections"));
    CHECK(el[static_cast<size_t>(i)].at("bytes_up").as_int() > 0);
  }
  const JsonValue& s = el.back();
  CHECK(s.at("summary").as_bool());
  CHECK(s.at("frames").as_int() == kFrames);
  CHECK(s.at("frames_on_cloud").as_int() == kFrames);
  CHECK(s.at("frames_on_edge").as_int() == 0);
  CHECK(s.at("mb_per_s").as_double() > 0);
  CHECK(s.at("bytes_up").as_int() > 0);
  CHECK(s.find("mean_ms"));
  serve.kill_now(SIGTERM);
}

TEST_CASE("edge with no server: every frame computed locally, as run computes it", "[net][exact][cli]") {
  test::TempDir tmp;
  const auto& bytes = test::compiled_model(test::source_path("assets/yolo11n-320.onnx")).bytes;
  test::write_file(tmp.file("y.fsp"), std::string(bytes.begin(), bytes.end()));
  const std::string clip = test::source_path("assets/bedroom.mp4");
  // Port 1 on loopback: nothing listens there, so every connect is refused at once.
  auto e = test::run_cli({"edge", tmp.file("y.fsp"), "--input", clip, "--server", "127.0.0.1:1", "--policy", "offload",
                          "--mode", "exact", "--max-frames", "4", "--json", tmp.file("edge.jsonl"), "--threads", "1",
                          "--quiet"});
  INFO(e.err);
  REQUIRE(e.status == 0);
  CHECK(e.err.find("edge: server 127.0.0.1:1 not reachable yet; computing locally until it is") != std::string::npos);
  // The reason, once, however many times the edge retries.
  const std::string refused = "edge: cannot connect to 127.0.0.1:1: connect failed: connection refused (retrying)";
  CHECK(e.err.find(refused) != std::string::npos);
  CHECK(e.err.find(refused) == e.err.rfind(refused));
  auto r = test::run_cli({"run", tmp.file("y.fsp"), "--input", clip, "--mode", "exact", "--max-frames", "4", "--json",
                          tmp.file("run.jsonl"), "--threads", "1", "--quiet"});
  REQUIRE(r.status == 0);
  std::istringstream el(test::read_file(tmp.file("edge.jsonl"))), rl(test::read_file(tmp.file("run.jsonl")));
  std::string a, b;
  for (int i = 0; i < 4; ++i) {
    INFO("frame " << i);
    REQUIRE(std::getline(el, a));
    REQUIRE(std::getline(rl, b));
    const JsonValue ej = JsonValue::parse(a), rj = JsonValue::parse(b);
    CHECK(ej.at("on").as_string() == "edge");
    CHECK(ej.at("detections") == rj.at("detections"));
  }
  REQUIRE(std::getline(el, a));
  const JsonValue s = JsonValue::parse(a);
  CHECK(s.at("frames_on_edge").as_int() == 4);
  CHECK(s.at("frames_on_cloud").as_int() == 0);
  CHECK(s.at("bytes_up").as_int() == 0);
  CHECK(s.at("loop_close").as_int() == 0);
}
