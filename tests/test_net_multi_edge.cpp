// Many edges on one server (DESIGN 7): four edges stream 300 frames each at once, each with its own clip
// and codec; every session keeps its own reference and cache, so every edge's results equal a local
// exact run of its own clip; all edges complete; the server's and the edges' event loops close with
// every handle freed (uv_loop_close() == 0). The CI's sanitizer build runs this under AddressSanitizer.
#include <catch2/catch.hpp>

#include "net/edge_client.h"
#include "test_net_util.h"

using namespace fx;
using namespace fx::net;

TEST_CASE("four edges on one server, 300 frames each: all complete, all correct, nothing leaked", "[net][multi]") {
  constexpr int kEdges = 4, kFrames = 300;
  test::TempDir tmp;
  auto plan = test::tiny_plan();
  std::vector<std::vector<Frame>> clips;
  std::vector<std::vector<test::LocalFrame>> locals;
  for (int e = 0; e < kEdges; ++e) {
    std::string path = tmp.file("clip" + std::to_string(e) + ".mp4");
    test::write_clip(path, kFrames, 100 + static_cast<unsigned>(e));
    clips.push_back(test::read_clip(path));
    REQUIRE(clips.back().size() == kFrames);
    locals.push_back(test::local_run(plan, clips.back(), SessionMode::Exact));
  }

  net::ServerOptions so;
  so.threads = 1;
  test::ServerThread server(plan, so);
  const Codec codecs[kEdges] = {Codec::Raw, Codec::Zstd, Codec::Lz4, Codec::Raw};
  struct Out {
    std::vector<EdgeFrameReport> reps;
    EdgeTotals totals;
    int loop_close = -1;
    std::string error;
  };
  std::vector<Out> outs(kEdges);
  std::vector<std::thread> threads;
  for (int e = 0; e < kEdges; ++e)
    threads.emplace_back([&, e] {
      Out& out = outs[static_cast<size_t>(e)];
      try {
        EdgeOptions o;
        o.server = server.address();
        o.policy = Policy::Offload;
        o.session.mode = SessionMode::Exact;
        o.codec = codecs[e];
        o.threads = 1;
        o.edge_profile = {{0, 0.1}, {64, 1.0}};
        o.result_timeout_ms = 120000;  // slow (sanitizer) machines: never fall back
        o.name = "edge" + std::to_string(e);
        o.log = [](const std::string&) {};
        EdgeClient edge(plan, o);
        for (const Frame& f : clips[static_cast<size_t>(e)]) {
          EdgeFrameReport r;
          edge.process(f, r);
          out.reps.push_back(r);
        }
        out.totals = edge.totals();
        out.loop_close = edge.close();
      } catch (const std::exception& ex) {
        out.error = ex.what();
      }
    });
  for (auto& t : threads) t.join();

  for (int e = 0; e < kEdges; ++e) {
    INFO("edge " << e);
    const Out& out = outs[static_cast<size_t>(e)];
    REQUIRE(out.error.empty());
    REQUIRE(out.reps.size() == kFrames);
    int wrong = 0, local = 0;
    for (int i = 0; i < kFrames; ++i) {
      wrong +=
          out.reps[static_cast<size_t>(i)].output_hash != locals[static_cast<size_t>(e)][static_cast<size_t>(i)].hash;
      local += !out.reps[static_cast<size_t>(i)].on_cloud;
    }
    CHECK(wrong == 0);
    CHECK(local == 0);
    CHECK(out.totals.mismatches == 0);
    CHECK(out.totals.handshakes == 1);
    CHECK(out.loop_close == 0);
  }
  net::ServerStats st = server.server().stats();
  CHECK(st.sessions == kEdges);
  CHECK(st.frames == kEdges * kFrames);
  CHECK(st.rejected == 0);
  CHECK(server.stop() == 0);
  CHECK(server.server().stats().active == 0);
}
