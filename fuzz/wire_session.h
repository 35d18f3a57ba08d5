// What the server runs on the bytes one edge sends (framing under the handshake limit and then the
// session limit, message decoding, the Hello admission, FrameUpdate / Background handling by a session),
// without the sockets: the wire fuzzer's body, also used by make_fuzz_seeds to check its seed streams.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "compiler/compile.h"
#include "fuzz/seed_models.h"
#include "net/framing.h"
#include "net/hello.h"
#include "net/server_session.h"
#include "net/wire.h"
#include "runtime/error.h"
#include "runtime/backend.h"

namespace fx::fuzz {

// The column-tail model's plan: the wire fuzzer's server plan and its seeds' plan.
inline std::vector<uint8_t> wire_plan_bytes() {
  std::string m = model_column_tail();
  return compile_onnx(m.data(), m.size(), "column_tail.onnx");
}

// The server side: that plan, one thread.
struct WireServer {
  std::shared_ptr<const Plan> plan;
  std::shared_ptr<const Device> device;
  explicit WireServer(const std::vector<uint8_t>& bytes = wire_plan_bytes())
      : plan(Plan::from_bytes(bytes.data(), bytes.size(), "column_tail.fsp")),
        device(make_device(plan, BackendOptions{"cpu", 0, Precision::FP32, 1})) {}
};

// Feeds `data` as one connection's stream (in two reads, split inside it as TCP may deliver it) and
// returns how many messages were accepted (Hello, FrameUpdate, Background) before the server would have
// closed the connection. Refusals are fx::Error; anything else propagates (a bug).
inline int feed_wire_session(const WireServer& server, const uint8_t* data, size_t size) {
  net::FrameReader reader(net::kHandshakeMaxMessage);
  std::unique_ptr<net::ServerSession> session;
  int accepted = 0;
  auto on_message = [&](const uint8_t* msg, size_t n) -> bool {
    net::Decoded d = net::decode_message(msg, n);
    if (!d.ok()) return false;
    try {
      if (!session) {
        const auto* h = d.message.body.AsHello();
        if (!h) return false;
        net::HelloVerdict v = net::admit_hello(*h, *server.plan, kWireToken);
        if (!v.ok) return false;
        session = std::make_unique<net::ServerSession>(server.device, v.cfg);
        reader.set_limit(1u << 20);
      } else if (const auto* u = d.message.body.AsFrameUpdate()) {
        net::wire::ResultT r;
        session->apply_frame(*u, r);
        net::encode_frame(std::move(r));
      } else if (const auto* b = d.message.body.AsBackground()) {
        net::wire::AckT a;
        session->apply_background(*b, a);
        net::encode_frame(std::move(a));
      } else {
        return false;  // Bye, or a message an edge never sends
      }
      ++accepted;
      return true;
    } catch (const Error&) {
      return false;  // the server closes the connection
    }
  };
  size_t first = size / 3;
  if (reader.feed(data, first, on_message)) reader.feed(data + first, size - first, on_message);
  return accepted;
}

}  // namespace fx::fuzz
