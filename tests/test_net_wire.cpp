// Edge-cloud building blocks without sockets: the wire format and its checks, framing limits, block
// payload codecs, bandwidth shaping, link estimation, the path scheduler, the server's Hello admission,
// tokens, hashes.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <random>

#include "net/codec.h"
#include "runtime/backend.h"
#include "net/estimator.h"
#include "net/framing.h"
#include "net/hash.h"
#include "net/hello.h"
#include "net/scheduler.h"
#include "net/shaper.h"
#include "net/token.h"
#include "net/wire.h"
#include "runtime/error.h"
#include "test_net_util.h"

using namespace fx;
using namespace fx::net;

namespace {

std::vector<uint8_t> body_of(const std::vector<uint8_t>& frame) {
  return std::vector<uint8_t>(frame.begin() + 4, frame.end());
}

wire::HelloT hello() {
  wire::HelloT h;
  h.protocol_version = kProtocolVersion;
  h.plan_hash = 0x1234567890abcdefull;
  h.input_w = 320;
  h.input_h = 320;
  h.block = 16;
  h.codec = wire::Codec::Jpeg;
  h.token = {'s', 'e', 'c'};
  h.name = "cam0";
  return h;
}

std::vector<uint8_t> image(int w, int h, unsigned seed) {
  std::mt19937 r(seed);
  std::vector<uint8_t> img(static_cast<size_t>(w) * h * 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c)
        img[(static_cast<size_t>(y) * w + x) * 3 + c] =
            static_cast<uint8_t>(128 + 60 * std::sin(0.07 * x * (c + 1) + 0.05 * y) + static_cast<int>(r() % 17) - 8);
  return img;
}

// The blocks marked in `fresh` of img, encoded with codec c (default options otherwise).
EncodedBlocks encode(const std::vector<uint8_t>& img, const BlockGrid& g, const std::vector<uint8_t>& fresh, Codec c) {
  EncodeOptions eo;
  eo.codec = c;
  EncodedBlocks enc;
  encode_blocks(img.data(), g, fresh, eo, enc);
  return enc;
}

}  // namespace

TEST_CASE("wire: messages round-trip through frames", "[net][wire]") {
  auto f = encode_frame(hello());
  uint32_t len = f[0] | f[1] << 8 | f[2] << 16 | static_cast<uint32_t>(f[3]) << 24;
  REQUIRE(len == f.size() - 4);
  auto b = body_of(f);
  REQUIRE(std::memcmp(b.data() + 4, "FXW1", 4) == 0);
  Decoded d = decode_message(b.data(), b.size());
  REQUIRE(d.ok());
  const auto* h = d.message.body.AsHello();
  REQUIRE(h);
  CHECK(h->plan_hash == 0x1234567890abcdefull);
  CHECK(h->codec == wire::Codec::Jpeg);
  CHECK(h->token == std::vector<uint8_t>{'s', 'e', 'c'});
  CHECK(h->name == "cam0");

  wire::ResultT r;
  r.frame_id = 7;
  r.boxes.emplace_back(3, 0.5f, 1.f, 2.f, 3.f, 4.f);
  r.output_hash = 99;
  auto rb = body_of(encode_frame(std::move(r)));
  Decoded dr = decode_message(rb.data(), rb.size());
  REQUIRE(dr.ok());
  REQUIRE(dr.message.body.AsResult()->boxes.size() == 1);
  CHECK(dr.message.body.AsResult()->boxes[0].x2() == 3.f);
}

TEST_CASE("wire: every check names what is wrong", "[net][wire]") {
  auto b = body_of(encode_frame(hello()));
  CHECK(decode_message(b.data(), 5).status == DecodeStatus::TooShort);
  auto wrong_id = b;
  std::memcpy(wrong_id.data() + 4, "XXXX", 4);
  Decoded d = decode_message(wrong_id.data(), wrong_id.size());
  CHECK(d.status == DecodeStatus::BadIdentifier);
  CHECK(d.error == "wrong file identifier (not a FluxShard wire message)");
  auto v = body_of(encode_frame(hello(), 99));
  d = decode_message(v.data(), v.size());
  CHECK(d.status == DecodeStatus::BadVersion);
  CHECK(d.version == 99);
  CHECK(d.error == "unsupported protocol version 99 (this side speaks 1)");
  // The root offset pointing outside the buffer, a truncated buffer, random bytes after the identifier.
  auto bad = b;
  bad[0] = 0xf0, bad[1] = 0xff;
  CHECK(decode_message(bad.data(), bad.size()).status == DecodeStatus::Malformed);
  CHECK(decode_message(b.data(), b.size() / 2).status == DecodeStatus::Malformed);
  std::mt19937 rng(5);
  int malformed = 0;
  for (int i = 0; i < 200; ++i) {
    auto m = b;
    for (size_t k = 8; k < m.size(); ++k)
      if (rng() % 4 == 0) m[k] = static_cast<uint8_t>(rng());
    Decoded x = decode_message(m.data(), m.size());  // must never crash (ASan / UBSan builds check)
    malformed += !x.ok();
  }
  CHECK(malformed > 0);
  wire::MessageT empty;
  empty.version = kProtocolVersion;
  flatbuffers::FlatBufferBuilder fbb;
  fbb.Finish(wire::Message::Pack(fbb, &empty), wire::MessageIdentifier());
  CHECK(decode_message(fbb.GetBufferPointer(), fbb.GetSize()).status == DecodeStatus::NoBody);
}

TEST_CASE("wire: text from a peer is one bounded printable line", "[net][wire]") {
  CHECK(peer_text("edge-7 (front door)") == "edge-7 (front door)");
  CHECK(peer_text(std::string("a\nb\x1b[2Jc\0d\xff", 11)) == "a?b?[2Jc?d?");
  CHECK(peer_text(std::string(300, 'x')) == std::string(200, 'x') + "...");
  CHECK(peer_text("abcdef", 3) == "abc...");
  CHECK(peer_text("") == "");
}

TEST_CASE("framing: messages split anywhere, limits before allocation", "[net][framing]") {
  std::vector<uint8_t> stream;
  std::vector<std::vector<uint8_t>> msgs;
  for (int i = 1; i <= 5; ++i) {
    std::vector<uint8_t> m(static_cast<size_t>(i * 1000 + 3), static_cast<uint8_t>(i));
    append_frame(stream, m.data(), m.size());
    msgs.push_back(m);
  }
  for (size_t step : {size_t(1), size_t(7), size_t(4096), stream.size()}) {
    FrameReader r(1 << 20);
    std::vector<std::vector<uint8_t>> got;
    for (size_t off = 0; off < stream.size(); off += step)
      REQUIRE(r.feed(stream.data() + off, std::min(step, stream.size() - off), [&](const uint8_t* d, size_t n) {
        got.emplace_back(d, d + n);
        return true;
      }));
    CHECK(got == msgs);
    CHECK(r.peak_capacity() <= 2 * 5003);
  }
  // A length over the limit fails on the prefix alone: nothing is buffered.
  FrameReader r(1000);
  uint8_t big[4] = {0xff, 0xff, 0xff, 0x7f};
  CHECK_FALSE(r.feed(big, 4, [](const uint8_t*, size_t) { return true; }));
  CHECK(r.error() == "message length 2147483647 over the limit 1000");
  CHECK(r.capacity() == 0);
  FrameReader z(1000);
  uint8_t zero[4] = {0, 0, 0, 0};
  CHECK_FALSE(z.feed(zero, 4, [](const uint8_t*, size_t) { return true; }));
  // A long announced message buffers only what arrived (at most twice that).
  FrameReader s(1 << 30);
  uint8_t pre[4] = {0, 0, 0, 0x20};  // 512 MiB announced
  std::vector<uint8_t> part(1000, 1);
  REQUIRE(s.feed(pre, 4, [](const uint8_t*, size_t) { return true; }));
  REQUIRE(s.feed(part.data(), part.size(), [](const uint8_t*, size_t) { return true; }));
  CHECK(s.buffered() == 1000);
  CHECK(s.capacity() <= 2000);
}

TEST_CASE("framing: a message of exactly the limit is read, one byte more is refused", "[net][framing]") {
  auto keep = [](std::vector<std::vector<uint8_t>>& got) {
    return [&got](const uint8_t* d, size_t n) {
      got.emplace_back(d, d + n);
      return true;
    };
  };
  for (uint32_t limit : {1u, 1000u, static_cast<uint32_t>(kHandshakeMaxMessage)}) {
    INFO("limit " << limit);
    std::vector<uint8_t> at(limit, 7), over(static_cast<size_t>(limit) + 1, 8), stream;
    append_frame(stream, at.data(), at.size());
    append_frame(stream, over.data(), over.size());
    // max: delivered whole, fed in one piece or byte by byte.
    for (size_t step : {stream.size(), size_t(1)}) {
      FrameReader r(limit);
      std::vector<std::vector<uint8_t>> got;
      const size_t first = 4 + at.size();
      for (size_t off = 0; off < first; off += step)
        REQUIRE(r.feed(stream.data() + off, std::min(step, first - off), keep(got)));
      REQUIRE(got.size() == 1);
      CHECK(got[0] == at);
      CHECK(!r.failed());
      // max + 1: refused on its prefix, before any body byte is buffered.
      CHECK_FALSE(r.feed(stream.data() + first, stream.size() - first, keep(got)));
      CHECK(r.error() == "message length " + std::to_string(limit + 1) + " over the limit " + std::to_string(limit));
      CHECK(r.buffered() == 0);
      CHECK(got.size() == 1);
    }
  }
  // A limit changed between messages (the server's, once the Hello is accepted) applies at its own
  // boundary: the next prefix is checked against the new limit.
  std::vector<std::vector<uint8_t>> got;
  std::vector<uint8_t> stream, big(kHandshakeMaxMessage + 1, 1), bigger(kHandshakeMaxMessage + 2, 2);
  FrameReader s(kHandshakeMaxMessage);
  s.set_limit(kHandshakeMaxMessage + 1);
  append_frame(stream, big.data(), big.size());
  append_frame(stream, bigger.data(), bigger.size());
  CHECK_FALSE(s.feed(stream.data(), stream.size(), keep(got)));
  REQUIRE(got.size() == 1);
  CHECK(got[0] == big);
  CHECK(s.error() == "message length " + std::to_string(kHandshakeMaxMessage + 2) + " over the limit " +
                         std::to_string(kHandshakeMaxMessage + 1));
}

TEST_CASE("codec: lossless codecs round-trip exactly, JPEG decodes the same bytes the same way", "[net][codec]") {
  BlockGrid g{128, 96, 16};
  auto img = image(128, 96, 1);
  std::vector<uint8_t> fresh(static_cast<size_t>(g.count()), 0);
  std::mt19937 rng(3);
  for (auto& f : fresh) f = rng() % 3 == 0;
  fresh[0] = 1;
  for (Codec c : {Codec::Raw, Codec::Zstd, Codec::Lz4, Codec::Jpeg}) {
    INFO(codec_name(c));
    EncodedBlocks enc = encode(img, g, fresh, c);
    std::vector<uint8_t> out(img.size(), 0), out2(img.size(), 0);
    decode_blocks(enc.payload.data(), enc.payload.size(), c, enc.count, enc.atlas_cols, g, fresh, out.data());
    decode_blocks(enc.payload.data(), enc.payload.size(), c, enc.count, enc.atlas_cols, g, fresh, out2.data());
    CHECK(out == out2);
    double err = 0;
    int64_t px = 0, touched = 0;
    for (int k = 0; k < g.count(); ++k) {
      int bx = k % g.cols(), by = k / g.cols();
      for (int y = 0; y < 16; ++y)
        for (int x = 0; x < 48; ++x) {
          size_t o = (static_cast<size_t>(by * 16 + y) * 128 + bx * 16) * 3 + x;
          if (fresh[static_cast<size_t>(k)]) err += std::abs(int(out[o]) - int(img[o])), ++px;
          else touched += out[o] != 0;  // must stay untouched
        }
    }
    CHECK(touched == 0);
    if (c == Codec::Jpeg) CHECK(err / px < 6);
    else CHECK(err == 0);
    if (c == Codec::Raw) CHECK(enc.payload.size() == enc.count * g.block_bytes());
  }
  // Full updates: the JPEG atlas is the image itself.
  std::vector<uint8_t> all(static_cast<size_t>(g.count()), 1);
  EncodedBlocks enc = encode(img, g, all, Codec::Jpeg);
  CHECK(enc.atlas_cols == static_cast<uint32_t>(g.cols()));
}

TEST_CASE("codec: malformed payloads are errors, never over-allocation", "[net][codec]") {
  BlockGrid g{64, 64, 16};
  auto img = image(64, 64, 2);
  std::vector<uint8_t> fresh(16, 0);
  fresh[1] = fresh[5] = fresh[6] = 1;
  std::vector<uint8_t> out(img.size());
  for (Codec c : {Codec::Raw, Codec::Zstd, Codec::Lz4, Codec::Jpeg}) {
    INFO(codec_name(c));
    EncodedBlocks enc = encode(img, g, fresh, c);
    auto& p = enc.payload;
    CHECK_THROWS_AS(decode_blocks(p.data(), p.size(), c, 2, enc.atlas_cols, g, fresh, out.data()),
                    Error);  // count mismatch
    CHECK_THROWS_AS(decode_blocks(p.data(), p.size() / 2, c, 3, enc.atlas_cols, g, fresh, out.data()),
                    Error);  // truncated
    auto corrupt = p;
    for (size_t i = 2; i < corrupt.size(); i += 3) corrupt[i] ^= 0x5a;
    if (c != Codec::Raw) {
      try {
        decode_blocks(corrupt.data(), corrupt.size(), c, 3, enc.atlas_cols, g, fresh, out.data());
      } catch (const Error&) {
      }
    }
  }
  // A JPEG whose header declares another size than the atlas.
  EncodedBlocks enc = encode(img, g, fresh, Codec::Jpeg);
  CHECK_THROWS_WITH(decode_blocks(enc.payload.data(), enc.payload.size(), Codec::Jpeg, 3, 1, g, fresh, out.data()),
                    Catch::Contains("for an atlas of"));
  // Bitmaps: size and padding bits.
  std::vector<uint8_t> flags;
  uint8_t bits[2] = {0xff, 0x01};
  CHECK_THROWS_AS(unpack_bitmap(bits, 2, 8, flags), Error);
  unpack_bitmap(bits, 2, 9, flags);
  CHECK(flags == std::vector<uint8_t>(9, 1));
  uint8_t padded[2] = {0xff, 0x03};
  CHECK_THROWS_WITH(unpack_bitmap(padded, 2, 9, flags), "block bitmap has padding bits set");
  // Motion fields.
  std::vector<Label> mv = {pack_shift(0, 0), pack_shift(-3, 5), pack_shift(16, -16), pack_shift(-32767, 32767)};
  auto enc_mv = encode_motion(mv);
  std::vector<Label> back;
  decode_motion(enc_mv.data(), enc_mv.size(), 4, back);
  CHECK(back == mv);
  CHECK_THROWS_AS(decode_motion(enc_mv.data(), enc_mv.size(), 5, back), Error);
  CHECK_THROWS_AS(decode_motion(enc_mv.data(), enc_mv.size() - 1, 4, back), Error);
}

TEST_CASE("shaper: token bucket follows presets and traces", "[net][shaper]") {
  CHECK(RateTrace::preset("high").rate_at(0) == Approx(130e6 / 8));
  CHECK(RateTrace::preset("medium").rate_at(5) == Approx(56e6 / 8));
  CHECK(RateTrace::preset("low").rate_at(1e6) == Approx(25e6 / 8));
  CHECK_THROWS_WITH(RateTrace::preset("fast"), "unknown bandwidth preset 'fast' (high, medium, low)");
  // 8 Mbit/s: 1 MB takes one second (after a 16 KiB burst).
  TokenBucket tb(RateTrace::constant(8), 0);
  CHECK(tb.reserve(0, 1000000) == Approx(1.0));
  CHECK(tb.reserve(0.5, 500000) == Approx(1.5));  // queued behind the first
  CHECK(tb.reserve(3.0, 1000) == Approx(3.001));
  TokenBucket burst(RateTrace::constant(8), 16384);
  CHECK(burst.reserve(10, 16384) == Approx(10));
  // A trace: 8 Mbit/s for 1 s, then 16.
  RateTrace t = RateTrace::parse_text("# time rate\n0 8\n1.0 16\n", "t");
  CHECK(t.finish_time(0.5, 1000000) == Approx(1.0 + 500000.0 / 2e6));
  CHECK(t.bytes_between(0, 2) == Approx(1e6 + 2e6));
  CHECK_THROWS_WITH(RateTrace::parse_text("1 8\n", "t"),
                    "trace 't' line 1: times must start at 0 and increase strictly");
  CHECK_THROWS_WITH(RateTrace::parse_text("0 8\n0.5 -1\n", "t"),
                    "trace 't' line 2: expected 'time_s mbit_per_s' with a positive rate");
  test::TempDir tmp;
  test::write_file(tmp.file("tr.txt"), "0 25\n2 130\n");
  CHECK(RateTrace::parse(tmp.file("tr.txt")).rate_at(3) == Approx(130e6 / 8));
  CHECK(TokenBucket().reserve(4, 1 << 30) == 4);  // unlimited
}

TEST_CASE("estimator: bandwidth and RTT from transfers", "[net][estimator]") {
  LinkEstimator e;
  const double B = 5e6, rtt = 0.03;
  for (int i = 0; i < 30; ++i) {
    e.on_transfer(500, 0, rtt);  // small: RTT
    size_t bytes = 20000 + static_cast<size_t>(i) * 3000, ahead = i % 3 ? 0 : 10000;
    e.on_transfer(bytes, ahead, static_cast<double>(bytes + ahead) / B + rtt);
  }
  CHECK(e.rtt_s() == Approx(rtt).epsilon(0.01));
  CHECK(e.bytes_per_s() == Approx(B).epsilon(0.02));
  CHECK(e.transfer_time(50000) == Approx(50000 / B + rtt).epsilon(0.02));
  // The server's receive time measures B without the RTT (or any scheduling delay) in it.
  LinkEstimator f;
  f.on_transfer(200000, 0, 0.9, 200000 / B);
  CHECK(f.bytes_per_s() == Approx(B));
  f.on_transfer(2000, 0, 0.05, 0);  // small: an RTT sample
  CHECK(f.rtt_s() == Approx(0.05 - 2000 / B));
}

TEST_CASE("scheduler: profiles and policies", "[net][scheduler]") {
  Profile fe({{0, 1.0}, {100, 11.0}, {400, 41.0}});
  CHECK(fe.ms(0) == Approx(1.0));
  CHECK(fe.ms(50) == Approx(6.0));
  CHECK(fe.ms(250) == Approx(26.0));
  CHECK(fe.ms(500) == Approx(51.0));
  // A hostile server's points: NaN, infinite, negative times and block counts are dropped.
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  Profile bad({{0, nan}, {10, 2.0}, {20, inf}, {-5, 1.0}, {30, -1.0}, {40, 5.0}, {50, nan}});
  REQUIRE(bad.points().size() == 2);
  CHECK(bad.ms(25) == Approx(3.5));
  CHECK(Profile({{0, nan}}).empty());
  Profile fc({{0, 0.5}, {400, 4.5}});
  SchedulerInput in;
  in.ecb = 100, in.ccb = 100, in.ccb_bytes = 100000, in.bytes_per_s = 1e7, in.rtt_s = 0.02, in.cloud_ready = true;
  Decision d = decide(Policy::FluxShard, fe, fc, in);
  CHECK(d.t_edge_ms == Approx(11.0));
  CHECK(d.t_cloud_ms == Approx(1.5 + 10 + 20));
  CHECK_FALSE(d.cloud);
  in.bytes_per_s = 1e9, in.rtt_s = 0.001;
  CHECK(decide(Policy::FluxShard, fe, fc, in).cloud);
  CHECK_FALSE(decide(Policy::Local, fe, fc, in).cloud);
  in.bytes_per_s = 1, in.rtt_s = 10;
  CHECK(decide(Policy::Offload, fe, fc, in).cloud);
  in.cloud_ready = false;
  CHECK_FALSE(decide(Policy::Offload, fe, fc, in).cloud);
  CHECK(parse_policy("offload") == Policy::Offload);
  CHECK_THROWS_WITH(parse_policy("x"), "unknown policy 'x' (fluxshard, local or offload)");
}

TEST_CASE("hello: the server admits a session only with parameters it can serve", "[net][wire]") {
  auto plan = test::tiny_plan();  // 128 x 128
  auto good = [&] {
    wire::HelloT h;
    h.protocol_version = kProtocolVersion;
    h.plan_hash = plan->hash();
    h.input_w = plan->input_w();
    h.input_h = plan->input_h();
    h.block = 16;
    h.codec = wire::Codec::Jpeg;
    h.mode = wire::Mode::Approximate;
    h.token = {'s', 'e', 'c'};
    h.conf = 0.3f;
    h.island_eps = 0.2f;
    h.island_reused_scale = 3.f;
    h.salience_conf = 0.1f;
    return h;
  };
  HelloVerdict v = admit_hello(good(), *plan, "sec");
  REQUIRE(v.ok);
  CHECK(v.cfg.block == 16);
  CHECK(v.cfg.codec == Codec::Jpeg);
  CHECK(v.cfg.approximate);
  CHECK(v.cfg.conf == 0.3f);
  CHECK(v.cfg.island_eps == 0.2f);
  CHECK(v.cfg.island_reused_scale == 3.f);
  CHECK(v.cfg.salience_conf == 0.1f);
  auto refused = [&](const std::function<void(wire::HelloT&)>& edit, const std::string& token) {
    wire::HelloT h = good();
    edit(h);
    HelloVerdict r = admit_hello(h, *plan, token);
    CHECK_FALSE(r.ok);
    return r;
  };
  HelloVerdict r = refused([](wire::HelloT& h) { h.block = 24; }, "sec");
  CHECK(r.code == wire::ErrorCode::PlanMismatch);
  CHECK(r.reason == "block size 24 does not divide the input");
  r = refused([](wire::HelloT& h) { h.block = 256; }, "sec");
  CHECK(r.reason == "block size 256 does not divide the input");
  r = refused([](wire::HelloT& h) { h.conf = std::numeric_limits<float>::quiet_NaN(); }, "sec");
  CHECK(r.code == wire::ErrorCode::Malformed);
  CHECK(r.reason == "invalid session parameters in Hello");
  r = refused([](wire::HelloT& h) { h.codec = static_cast<wire::Codec>(9); }, "sec");
  CHECK(r.reason == "invalid session parameters in Hello");
  r = refused([](wire::HelloT& h) { h.island_reused_scale = 0.5f; }, "sec");
  CHECK(r.reason == "invalid session parameters in Hello");
  r = refused([](wire::HelloT& h) { h.input_w = 64; }, "sec");
  CHECK(r.code == wire::ErrorCode::PlanMismatch);
  CHECK(r.reason.rfind("plan mismatch: edge runs 64x128 plan ", 0) == 0);
  char server_hash[20];
  std::snprintf(server_hash, sizeof server_hash, "%016llx", static_cast<unsigned long long>(plan->hash()));
  CHECK(r.reason.find(server_hash) != std::string::npos);  // an authenticated edge is told the server's plan
  // Without a server token the checksum is all a Hello needs: a mismatch does not give it away.
  wire::HelloT other = good();
  other.plan_hash ^= 1;
  r = admit_hello(other, *plan, "");
  CHECK(r.code == wire::ErrorCode::PlanMismatch);
  CHECK(r.reason.find(server_hash) == std::string::npos);
  CHECK(r.reason.rfind("plan mismatch: edge runs 128x128 plan ", 0) == 0);
  CHECK(r.reason.find("the server another") != std::string::npos);
  r = refused([](wire::HelloT&) {}, "other");
  CHECK(r.code == wire::ErrorCode::Unauthorized);
  CHECK(r.reason == "wrong token");
  // Without a server token the edge's token is not looked at.
  CHECK(admit_hello(good(), *plan, "").ok);
}

TEST_CASE("tokens and hashes", "[net]") {
  CHECK(token_equal({'a', 'b'}, "ab"));
  CHECK_FALSE(token_equal({'a', 'b'}, "abc"));
  CHECK_FALSE(token_equal({'a', 'c'}, "ab"));
  CHECK_FALSE(token_equal({}, "ab"));
  test::TempDir tmp;
  test::write_file(tmp.file("tok"), "s3cret\n");
  CHECK(read_token_file(tmp.file("tok")) == "s3cret");
  test::write_file(tmp.file("empty"), "\n");
  CHECK_THROWS_WITH(read_token_file(tmp.file("empty")), Catch::Contains("is empty"));
  auto a = image(32, 16, 1), b = a;
  CHECK(hash_image(a.data(), 32, 16) == hash_image(b.data(), 32, 16));
  b[100] ^= 1;
  CHECK(hash_image(a.data(), 32, 16) != hash_image(b.data(), 32, 16));
}

TEST_CASE("serve / edge command lines: usage errors and an unavailable backend", "[net][cli]") {
  test::TempDir tmp;
  std::string plan = tmp.file("tiny.fsp");
  test::save_tiny_plan(plan);
  auto r = test::run_cli({"edge", plan, "--input", "clip.mp4"});
  CHECK(r.status == 2);
  CHECK(r.err.find("missing --server ADDR:PORT") != std::string::npos);
  r = test::run_cli({"edge", plan, "--input", "clip.mp4", "--server", "127.0.0.1:1", "--codec", "png"});
  CHECK(r.status == 2);
  // The planning flags `edge` shares with `run` (cli/common.h planning_options) are validated the same way.
  r = test::run_cli({"edge", plan, "--input", "clip.mp4", "--server", "127.0.0.1:1", "--island-reused", "0.5"});
  CHECK(r.status == 2);
  CHECK(r.err == "error: fluxshard edge: --island-reused must be a number from 1 to 1e+06 (got '0.5')\n");
  r = test::run_cli({"serve", plan, "--listen", "127.0.0.1:99999"});
  CHECK(r.status == 2);
  CHECK(r.err.find("invalid port") != std::string::npos);
  r = test::run_cli({"serve", plan, "--token-file", tmp.file("missing")});
  CHECK(r.status == 1);
  CHECK(r.err.find("cannot read token file") != std::string::npos);
  if (!backend_built("cuda")) {
    r = test::run_cli({"serve", plan, "--backend", "cuda", "--listen", "127.0.0.1:0"}, 60);
    CHECK(r.status == 1);
    CHECK(r.err.find("backend 'cuda' is not available") != std::string::npos);
  }
}
