// The edge's transport (DESIGN 7): one libuv loop on its own thread that keeps a TCP connection to the
// server (connect, handshake, reconnect with exponential backoff), shapes the send path (a token bucket
// driven by a rate trace, net/shaper.h, plus an emulated one-way delay of rtt/2 each way) and hands
// received messages to the compute thread as events.
//
// Each completed handshake starts a new *epoch*. The compute thread queues frames for a given epoch;
// frames for an epoch that has ended are dropped (the edge resynchronises on the next epoch anyway).
// Frames go out in the order they were queued (TCP keeps it), which is the order in which the edge's
// proxy of the server's reference applied them.
//
// Threading: every uv handle lives on the loop thread. The compute thread talks to it through a
// mutex-protected command queue and a uv_async_t; events come back through a mutex + condition variable.
// Write requests own their buffers; handles are freed in their close callbacks.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "net/shaper.h"
#include "net/wire.h"

namespace fx::net {

struct LinkOptions {
  std::string host = "127.0.0.1";
  int port = 7070;
  RateTrace trace;               // unlimited by default
  std::shared_ptr<SharedTokenBucket> shared;  // set: shape on this bucket (a link shared with other edges)
                                              // instead of `trace`
  double rtt_s = 0;              // emulated round-trip delay (added rtt/2 each way)
  double backoff_min_s = 0.05;   // reconnect delays: min, doubling up to max
  double backoff_max_s = 2.0;
  double handshake_timeout_s = 3.0;
  size_t chunk_bytes = 4 * 1024;   // shaping granularity
  std::function<void(const std::string&)> log;  // called on the loop thread
};

struct LinkEvent {
  enum class Kind { Connected, Disconnected, Refused, Message };
  Kind kind = Kind::Message;
  uint64_t epoch = 0;
  wire::MessageT message;  // Connected: the HelloAck; Message: the message
  double time_s = 0;       // when it arrived (link clock, after the emulated delay)
  double handshake_s = 0;  // Connected: Hello queued -> HelloAck received
  std::string reason;      // Disconnected / Refused
  int error_code = 0;      // Refused: the server's wire::ErrorCode
};

class Link {
 public:
  // `hello` is the framed Hello sent at the start of every connection.
  Link(LinkOptions opt, std::vector<uint8_t> hello);
  ~Link();  // sends Bye on a live connection, stops and joins the loop thread
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;

  // Queues a frame for the connection of `epoch`. Thread-safe.
  void send(uint64_t epoch, std::vector<uint8_t> frame);
  // Closes the connection of `epoch` (if still open) and reconnects after the backoff.
  void drop(uint64_t epoch, const std::string& reason);
  // Stops reconnecting (a permanent refusal).
  void give_up();

  bool poll(LinkEvent& ev);
  // Waits up to timeout_s for an event; false on timeout.
  bool wait(LinkEvent& ev, double timeout_s);

  // Seconds since the link was created (steady clock; the clock of LinkEvent::time_s).
  double now() const;
  // Why the server last turned a connection away before any session started ("server busy: too many
  // edges (limit 64)", "wrong token"); empty when none did, or once a session has started. Not logged by
  // the link: its owner reports it once.
  std::string last_refusal() const;
  // Bytes queued by send() and not yet handed to the socket.
  size_t queued_bytes() const;
  uint64_t bytes_written() const;
  // Stops the loop (as the destructor) and returns uv_loop_close()'s result: 0 when every handle was
  // freed.
  int close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// "host:port" or "port" (host 127.0.0.1). Throws fx::Error.
void parse_host_port(const std::string& s, std::string& host, int& port);

}  // namespace fx::net
