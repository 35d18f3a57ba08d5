// `fluxshard serve`: the cloud side (DESIGN 7). A libuv TCP server; each connection is one edge with its
// own session (reference image and feature cache, net/server_session.h); many edges at once.
//
// Threads: the loop thread does all I/O (accept, read, framing, verification, handshake, writes); one
// compute thread applies updates in arrival order (FIFO over all sessions, so each session's updates stay
// in wire order) with a shared kernel thread pool, and hands encoded answers back through a uv_async_t.
// Nothing blocks the loop.
//
// Limits: a connection may send at most kHandshakeMaxMessage bytes per message before its Hello is
// accepted, `max_message` after; a length prefix over the limit closes it before any body byte is
// buffered. Every message is verified (net/wire.h). With a token, the first message must be a Hello
// carrying it (compared in constant time). A connection with `max_pending` updates queued stops being
// read until they are done (bounded memory per edge). Each rejected connection is logged with its
// reason and closed; the others are unaffected.
//
// Lock-out: connections still in their handshake and established sessions have separate limits, each
// also per IP address. A connection that has not completed its handshake within `hello_timeout_s` is
// closed; when `max_handshakes` are pending a new connection displaces the oldest (a flood of idle
// connections cannot keep a real edge from its handshake, which takes one round trip); a connection from
// an address with `max_handshakes_per_address` pending is refused. A Hello beyond
// `max_edges_per_address` is refused (Busy); one beyond `max_edges` displaces the session idle the
// longest if that one has been idle `evict_idle_s`, else is refused (Busy). A session that sends nothing
// and waits for nothing for `idle_timeout_s` is closed. The edge reconnects and resynchronises after any
// of these, as after a lost connection.
//
// Memory: message bodies being received count against `max_buffered` across all connections: above it,
// a connection is not read further while another one's message is still arriving (a message must
// complete within `message_timeout_s` of its first byte). A session's memory is freed on the compute
// thread that allocated it, and mimalloc returns it to the OS (mi_collect) when the session ends.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "runtime/backend.h"
#include "runtime/plan.h"

namespace fx::net {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 7070;                 // 0: an ephemeral port (see Server::port())
  int threads = 0;                 // kernel threads; 0: every hardware thread
  std::string token;               // empty: no authentication
  std::string backend = "cpu";     // cpu | cuda: where every session's executor runs
  int device = 0;                  // cuda: the device index
  Precision precision = Precision::FP32;  // cuda: fp16 tensor-core convolutions
  uint32_t max_message = 64u << 20;
  int max_edges = 64;  // established sessions
  int max_edges_per_address = 16;
  int max_handshakes = 64;  // connections in their handshake
  int max_handshakes_per_address = 8;
  int max_pending = 4;
  double hello_timeout_s = 10;
  double idle_timeout_s = 120;  // 0: never
  double evict_idle_s = 2;      // < 0: a full server never displaces a session
  double message_timeout_s = 60;
  size_t max_buffered = size_t(256) << 20;
  bool handle_signals = false;     // SIGINT / SIGTERM stop the server
  // Where log lines go: one line each ("INFO edge 127.0.0.1:5555: session 3, ..."; levels INFO, WARN for
  // connections closed for a reason, ERROR), no newline. Default: stderr, each line prefixed with a UTC
  // timestamp and "serve" ("2026-12-06T10:41:07.123Z serve INFO ..."). Called on the loop thread.
  std::function<void(const std::string&)> log;
  // Health check and Prometheus metrics over HTTP on a port of their own (GET /healthz, GET /metrics);
  // metrics_port < 0: none, 0: any free port (Server::metrics_port()).
  std::string metrics_host = "127.0.0.1";
  int metrics_port = -1;
  // The f_c profile reported to edges; empty: measured at start().
  std::vector<std::pair<int, double>> profile;
};

struct ServerStats {
  uint64_t accepted = 0;      // connections accepted
  uint64_t sessions = 0;      // handshakes completed
  uint64_t rejected = 0;      // connections closed for a protocol / security violation or a limit
  uint64_t active = 0;        // connections open now
  uint64_t frames = 0;        // FrameUpdates answered
  uint64_t backgrounds = 0;   // Background updates applied
  uint64_t bytes_in = 0, bytes_out = 0;  // on edge connections
  size_t peak_read_buffer = 0;  // largest message buffer any connection held (bytes)
  size_t peak_buffered = 0;     // largest sum of all connections' message buffers (bytes)
};

class Server {
 public:
  Server(std::shared_ptr<const Plan> plan, ServerOptions opt);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Profiles f_c (unless given), binds and listens. Throws fx::Error with one line on failure.
  void start();
  int port() const;
  int metrics_port() const;  // -1 without metrics
  // The Prometheus text exposition of the server's counters (what GET /metrics returns). Loop thread.
  std::string metrics_text() const;
  const std::vector<std::pair<int, double>>& profile() const;
  // Runs the event loop on the calling thread until stop(); returns uv_loop_close()'s result (0 when
  // every handle was closed and freed).
  int run();
  // Thread-safe; run() returns soon after.
  void stop();
  ServerStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fx::net
