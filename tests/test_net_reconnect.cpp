// A lost server (DESIGN 7): `fluxshard serve` is killed (SIGKILL) mid-stream while an edge streams at a
// fixed frame rate; the edge keeps producing every frame's result locally, none later than one frame
// budget after the frame arrived, reconnects with backoff once a server listens again, resynchronises
// (a full reference) and goes back to offloading.
#include <catch2/catch.hpp>

#include <signal.h>

#include "net/edge_client.h"
#include "test_net_util.h"

using namespace fx;
using namespace fx::net;

namespace {
using Clock = std::chrono::steady_clock;
}

TEST_CASE("server killed mid-stream: local results without a gap, reconnect, resync, offload again",
          "[net][reconnect]") {
  test::TempDir tmp;
  const std::string plan_path = tmp.file("tiny.fsp"), clip = tmp.file("clip.mp4");
  test::save_tiny_plan(plan_path);
  constexpr int kFrames = 100, kKill = 25, kRestart = 45;
  constexpr double kBudgetMs = 100;  // 10 frames per second
  test::write_clip(clip, kFrames, 7);
  auto frames = test::read_clip(clip);
  REQUIRE(frames.size() == kFrames);
  auto plan = Plan::load_file(plan_path);

  auto serve =
      std::make_unique<test::Child>(std::vector<std::string>{"serve", plan_path, "--listen", "127.0.0.1:0",
                                                             "--port-file", tmp.file("port1"), "--threads", "1"},
                                    tmp.file("serve1.out"), tmp.file("serve1.err"));
  const int port = test::wait_port_file(tmp.file("port1"), 30);
  REQUIRE(port > 0);

  std::mutex log_mu;
  std::vector<std::string> log;
  EdgeOptions o;
  o.server = "127.0.0.1:" + std::to_string(port);
  o.policy = Policy::Offload;
  o.session.mode = SessionMode::Exact;
  o.threads = 1;
  o.edge_profile = {{0, 0.1}, {48, 1.0}};
  o.result_timeout_ms = 60;  // a server that is alive but silent costs at most this much of the budget
  o.backoff_min_s = 0.05;
  o.backoff_max_s = 0.4;
  o.log = [&](const std::string& s) {
    std::lock_guard<std::mutex> lk(log_mu);
    log.push_back(s);
  };
  EdgeClient edge(plan, o);
  REQUIRE(edge.connected());

  struct Rec {
    EdgeFrameReport rep;
    double late_ms = 0;  // result time - frame arrival time
  };
  std::vector<Rec> recs;
  std::unique_ptr<test::Child> serve2;
  const auto t0 = Clock::now();
  for (int i = 0; i < kFrames; ++i) {
    const auto arrival = t0 + std::chrono::microseconds(static_cast<int64_t>(i * kBudgetMs * 1000));
    std::this_thread::sleep_until(arrival);
    if (i == kKill) serve->kill_now(SIGKILL);
    if (i == kRestart)
      serve2 = std::make_unique<test::Child>(
          std::vector<std::string>{"serve", plan_path, "--listen", "127.0.0.1:" + std::to_string(port), "--port-file",
                                   tmp.file("port2"), "--threads", "1"},
          tmp.file("serve2.out"), tmp.file("serve2.err"));
    Rec r;
    edge.process(frames[static_cast<size_t>(i)], r.rep);
    r.late_ms = std::chrono::duration<double, std::milli>(Clock::now() - arrival).count();
    recs.push_back(r);
  }
  const EdgeTotals t = edge.totals();
  CHECK(edge.close() == 0);

  std::string log_text;
  for (const auto& l : log) log_text += l + "\n";
  INFO("edge log:\n" << log_text << "server 2 stderr:\n" << test::read_file(tmp.file("serve2.err")));
  REQUIRE(recs.size() == kFrames);
  double worst = 0;
  for (const Rec& r : recs) worst = std::max(worst, r.late_ms);
  CHECK(worst <= kBudgetMs);  // every frame has its result within its own frame budget
  for (int i = 0; i < kKill; ++i) CHECK(recs[static_cast<size_t>(i)].rep.on_cloud);
  int local_during_outage = 0;
  for (int i = kKill; i < kRestart; ++i) local_during_outage += !recs[static_cast<size_t>(i)].rep.on_cloud;
  CHECK(local_during_outage == kRestart - kKill);
  // Back on the cloud: the first cloud frame after the outage is a resync, the last frames all offloaded.
  int first_back = -1;
  for (int i = kRestart; i < kFrames && first_back < 0; ++i)
    if (recs[static_cast<size_t>(i)].rep.on_cloud) first_back = i;
  REQUIRE(first_back > 0);
  CHECK(recs[static_cast<size_t>(first_back)].rep.resync);
  CHECK(first_back < kRestart + 35);  // the restarted server profiles itself first; the backoff is at most 0.4 s
  for (int i = kFrames - 15; i < kFrames; ++i) CHECK(recs[static_cast<size_t>(i)].rep.on_cloud);
  CHECK(t.handshakes == 2);
  CHECK(t.resyncs == 2);
  CHECK(t.mismatches == 0);
  CHECK(log_text.find("disconnected from") != std::string::npos);
  serve2->kill_now(SIGTERM);
}
