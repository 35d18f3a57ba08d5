// Malformed input to the server (DESIGN 7): random bytes, a wrong file identifier, an unsupported
// version, a length prefix over the limit, truncated messages, FlatBuffers that fail verification, a
// wrong or missing token, messages out of order, bad update contents, a silent connection. Each time the
// server closes that connection with a logged reason and keeps serving an edge that streams all along;
// memory stays bounded (no buffer is sized from a length that was only announced).
#include <catch2/catch.hpp>

#include "net/edge_client.h"
#include "net/framing.h"
#include "net/wire.h"
#include "test_net_util.h"

using namespace fx;
using namespace fx::net;

namespace {

const char* kToken = "s3cret-edge-token";

wire::HelloT hello(const Plan& plan, const std::string& token) { return test::hello_for(plan, token); }

// The Error message the server sent before closing (code, message), if any.
bool first_error(const std::vector<uint8_t>& got, wire::ErrorCode& code, std::string& msg) {
  bool found = false;
  FrameReader r(1 << 20);
  r.feed(got.data(), got.size(), [&](const uint8_t* d, size_t n) {
    Decoded m = decode_message(d, n);
    if (m.ok() && m.message.body.AsError()) {
      code = m.message.body.AsError()->code;
      msg = m.message.body.AsError()->message;
      found = true;
      return false;
    }
    return true;
  });
  return found;
}

}  // namespace

TEST_CASE("malformed input: each bad connection is closed with a reason, good edges keep going", "[net][security]") {
  test::TempDir tmp;
  auto plan = test::tiny_plan();
  test::write_clip(tmp.file("clip.mp4"), 80, 3);
  auto frames = test::read_clip(tmp.file("clip.mp4"));
  auto local = test::local_run(plan, frames, SessionMode::Exact);

  net::ServerOptions so;
  so.token = kToken;
  so.threads = 1;
  so.hello_timeout_s = 1.0;
  test::ServerThread server(plan, so);

  // A good edge streams during the whole attack.
  std::atomic<bool> attacks_done{false};
  std::vector<EdgeFrameReport> good;
  int good_loop = -1;
  std::string good_error;
  std::thread edge_thread([&] {
    try {
      EdgeOptions o;
      o.server = server.address();
      o.policy = Policy::Offload;
      o.session.mode = SessionMode::Exact;
      o.token = kToken;
      o.threads = 1;
      o.edge_profile = {{0, 0.1}, {64, 1.0}};
      o.result_timeout_ms = 60000;
      o.log = [](const std::string&) {};
      EdgeClient e(plan, o);
      for (size_t i = 0; i < frames.size(); ++i) {
        EdgeFrameReport r;
        e.process(frames[i], r);
        good.push_back(r);
        if (!attacks_done) std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      good_loop = e.close();
    } catch (const std::exception& ex) {
      good_error = ex.what();
    }
  });

  const std::vector<uint8_t> good_hello = encode_frame(hello(*plan, kToken));
  struct Attack {
    std::string name;
    std::vector<uint8_t> bytes;
    std::string reason;  // expected in the server's log line
    wire::ErrorCode code = wire::ErrorCode::Unknown;
    bool half_close = false;
  };
  std::vector<Attack> attacks;
  {
    std::mt19937 rng(42);
    std::vector<uint8_t> junk(70000);
    for (auto& b : junk) b = static_cast<uint8_t>(rng());
    attacks.push_back({"random bytes", junk, "closed:"});
    std::vector<uint8_t> framed_junk;
    append_frame(framed_junk, junk.data(), 300);
    attacks.push_back({"random message", framed_junk, "wrong file identifier", wire::ErrorCode::Malformed});
  }
  {
    auto f = good_hello;
    std::memcpy(f.data() + 8, "XXXX", 4);
    attacks.push_back({"wrong identifier", f, "wrong file identifier", wire::ErrorCode::Malformed});
  }
  attacks.push_back(
      {"version", encode_frame(hello(*plan, kToken), 99), "unsupported protocol version 99", wire::ErrorCode::Version});
  {
    auto h = hello(*plan, kToken);
    h.protocol_version = 7;
    attacks.push_back(
        {"hello version", encode_frame(std::move(h)), "unsupported protocol version 7", wire::ErrorCode::Version});
  }
  attacks.push_back({"over the limit",
                     {0xff, 0xff, 0xff, 0x7f, 1, 2, 3},
                     "message length 2147483647 over the limit 65536",
                     wire::ErrorCode::TooLarge});
  {
    auto f = good_hello;
    f.resize(f.size() / 2);
    attacks.push_back({"truncated stream", f, "truncated message", wire::ErrorCode::Unknown, true});
    std::vector<uint8_t> cut;
    append_frame(cut, good_hello.data() + 4, (good_hello.size() - 4) / 2);
    attacks.push_back({"truncated flatbuffer", cut, "fails FlatBuffers verification", wire::ErrorCode::Malformed});
  }
  {
    auto f = good_hello;
    f[4] = 0xf0, f[5] = 0xff;  // root offset far outside the buffer
    attacks.push_back({"verification", f, "fails FlatBuffers verification", wire::ErrorCode::Malformed});
  }
  attacks.push_back({"wrong token", encode_frame(hello(*plan, "guess")), "wrong token", wire::ErrorCode::Unauthorized});
  attacks.push_back({"missing token", encode_frame(hello(*plan, "")), "missing token", wire::ErrorCode::Unauthorized});
  {
    auto h = hello(*plan, kToken);
    h.plan_hash ^= 1;
    attacks.push_back({"other plan", encode_frame(std::move(h)), "plan mismatch", wire::ErrorCode::PlanMismatch});
  }
  {
    wire::FrameUpdateT u;
    u.update_id = 1;
    attacks.push_back({"update before hello", encode_frame(std::move(u)), "expected Hello first, got FrameUpdate",
                       wire::ErrorCode::Unauthorized});
  }
  {
    // Authenticated, then an update whose contents are inconsistent.
    auto f = good_hello;
    wire::FrameUpdateT u;
    u.update_id = 1;
    u.full = true;
    u.src_w = 128, u.src_h = 96;
    u.blocks = std::make_unique<wire::BlockSetT>();
    u.blocks->fresh = {0xff};  // 8 blocks' worth of bitmap for 64 blocks
    auto uf = encode_frame(std::move(u));
    f.insert(f.end(), uf.begin(), uf.end());
    attacks.push_back(
        {"bad update", f, "update rejected: block bitmap of 1 bytes for 64 blocks", wire::ErrorCode::Malformed});
    auto g = good_hello;
    wire::BackgroundT b;
    b.update_id = 5;
    auto bf = encode_frame(std::move(b));
    g.insert(g.end(), bf.begin(), bf.end());
    attacks.push_back({"update out of order", g, "update id 5 out of order", wire::ErrorCode::Malformed});
    auto k = good_hello;
    auto again = good_hello;
    k.insert(k.end(), again.begin(), again.end());
    attacks.push_back({"second hello", k, "unexpected Hello message", wire::ErrorCode::Unexpected});
  }
  attacks.push_back({"silent", {}, "no handshake within 1 s", wire::ErrorCode::Unauthorized});

  for (const Attack& a : attacks) {
    INFO("attack: " << a.name);
    test::RawClient c(server.port());
    REQUIRE(c.ok());
    c.send_all(a.bytes);  // the server may close before everything is written
    if (a.half_close) c.shutdown_write();
    std::vector<uint8_t> got;
    CHECK(c.wait_closed(5, &got));
    if (a.code != wire::ErrorCode::Unknown) {
      wire::ErrorCode code{};
      std::string msg;
      REQUIRE(first_error(got, code, msg));
      CHECK(code == a.code);
      CHECK(msg.find(a.reason) != std::string::npos);
    }
  }
  // Memory stays bounded: many connections announcing large messages and sending little.
  {
    std::vector<std::unique_ptr<test::RawClient>> idle;
    for (int i = 0; i < 20; ++i) {
      idle.push_back(std::make_unique<test::RawClient>(server.port()));
      uint8_t pre[4] = {0x00, 0xf0, 0x00, 0x00};  // 61440 bytes announced (under the handshake limit)
      idle.back()->send_all(pre, 4);
      std::vector<uint8_t> some(1000, 7);
      idle.back()->send_all(some);
    }
    for (auto& c : idle) CHECK(c->wait_closed(5));  // the handshake timeout ends them
  }
  attacks_done = true;
  edge_thread.join();
  REQUIRE(good_error.empty());

  for (const Attack& a : attacks) {
    INFO("attack: " << a.name);
    CHECK(server.log_contains(a.reason));
  }
  net::ServerStats st = server.server().stats();
  CHECK(st.rejected >= attacks.size());
  CHECK(st.peak_read_buffer < (256u << 10));  // the largest real message is a 49 KB full update
  CHECK(st.sessions >= 1);

  // The good edge never noticed: every frame offloaded and exact.
  REQUIRE(good.size() == frames.size());
  for (size_t i = 0; i < good.size(); ++i) {
    INFO("frame " << i);
    CHECK(good[i].on_cloud);
    CHECK(good[i].output_hash == local[i].hash);
  }
  CHECK(good_loop == 0);
  CHECK(server.stop() == 0);
}

TEST_CASE("malformed input: a refused edge gets a clear error", "[net][security]") {
  auto plan = test::tiny_plan();
  net::ServerOptions so;
  so.token = kToken;
  so.threads = 1;
  test::ServerThread server(plan, so);
  EdgeOptions o;
  o.server = server.address();
  o.policy = Policy::Offload;
  o.token = "nope";
  o.threads = 1;
  o.edge_profile = {{0, 0.1}, {64, 1.0}};
  o.log = [](const std::string&) {};
  CHECK_THROWS_WITH(EdgeClient(plan, o), "server " + server.address() + " refused the session: wrong token");
  auto other = test::tiny_plan(64);
  o.token = kToken;
  CHECK_THROWS_WITH(EdgeClient(other, o), Catch::Contains("refused the session: plan mismatch"));
  CHECK(server.stop() == 0);
}
