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
// read until they are done (bounded memory per edge); at most `max_edges` edges at once; a connection
// that has not completed its handshake within `hello_timeout_s` is closed. Each rejected connection is
// logged with its reason and closed; the others are unaffected.
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
  int max_edges = 64;
  int max_pending = 4;
  double hello_timeout_s = 10;
  bool handle_signals = false;     // SIGINT / SIGTERM stop the server
  // Where log lines go (one line each, no newline); default: stderr with a "serve: " prefix. Called on
  // the loop thread.
  std::function<void(const std::string&)> log;
  // The f_c profile reported to edges; empty: measured at start().
  std::vector<std::pair<int, double>> profile;
};

struct ServerStats {
  uint64_t accepted = 0;      // connections accepted
  uint64_t sessions = 0;      // handshakes completed
  uint64_t rejected = 0;      // connections closed for a protocol / security violation
  uint64_t active = 0;        // connections open now
  uint64_t frames = 0;        // FrameUpdates answered
  uint64_t backgrounds = 0;   // Background updates applied
  size_t peak_read_buffer = 0;  // largest message buffer any connection held (bytes)
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
