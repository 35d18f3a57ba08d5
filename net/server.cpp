#include "net/server.h"

#include <mimalloc.h>
#include <uv.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "net/framing.h"
#include "net/hello.h"
#include "net/http_probe.h"
#include "net/profile.h"
#include "net/server_session.h"
#include "net/wire.h"
#include "runtime/error.h"
#include "runtime/util/clock.h"
#include "runtime/util/percentile.h"

namespace fx::net {

namespace {

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// "ip:port" ("[ip]:port" for IPv6) for the log, and the IP alone (the per-address limits' key).
std::string peer_name(uv_tcp_t* t, std::string* ip) {
  sockaddr_storage ss{};
  int len = sizeof ss;
  *ip = "?";
  if (uv_tcp_getpeername(t, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "?";
  char host[64] = "?";
  int port = 0;
  if (ss.ss_family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    uv_ip4_name(a, host, sizeof host);
    port = ntohs(a->sin_port);
    *ip = host;
    return std::string(host) + ":" + std::to_string(port);
  }
  if (ss.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    uv_ip6_name(a, host, sizeof host);
    port = ntohs(a->sin6_port);
    *ip = host;
    return "[" + std::string(host) + "]:" + std::to_string(port);
  }
  return "?";
}

// "2026-12-06T10:41:07.123Z"
std::string utc_now() {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  int ms =
      static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char b[64];
  std::snprintf(b, sizeof b, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  return b;
}

// A Prometheus label value: backslash, double quote and newline escaped.
std::string label(const std::string& v) {
  std::string o;
  for (char c : v) {
    if (c == '\\' || c == '"') o += '\\';
    if (c == '\n')
      o += "\\n";
    else
      o += c;
  }
  return o;
}

// The last kWindow latencies (ms), for the percentiles in /metrics.
struct LatencyWindow {
  static constexpr size_t kWindow = 1024;
  std::vector<float> values;
  size_t next = 0;
  double sum = 0;
  uint64_t count = 0;
  void add(float ms) {
    if (values.size() < kWindow)
      values.push_back(ms);
    else
      values[next++ % kWindow] = ms;
    sum += ms;
    ++count;
  }
};

std::string seconds(double s) {
  char b[32];
  std::snprintf(b, sizeof b, "%g s", s);
  return b;
}

constexpr size_t kReadChunk = 64 * 1024;
constexpr size_t kMaxWriteQueue = 64u << 20;  // an edge that stops reading its results is dropped
constexpr double kCloseGraceS = 2.0;

}  // namespace

struct SessionState {
  SessionConfig cfg;
  std::unique_ptr<ServerSession> session;  // created and destroyed on the compute thread
  std::atomic<bool> closed{false};
};

struct Server::Impl {
  enum class St { Hello, Ready, Closing };
  struct Conn {
    uv_tcp_t tcp;
    Impl* s = nullptr;
    uint64_t id = 0;
    std::string peer, ip;
    FrameReader reader{kHandshakeMaxMessage};
    St st = St::Hello;
    std::shared_ptr<SessionState> session;
    int pending = 0;
    bool paused = false;      // max_pending updates queued
    bool mem_paused = false;  // max_buffered reached while other messages arrive
    bool reading = false;
    size_t counted = 0;  // the reader's buffer capacity, as counted in buffered_total
    uint64_t updates = 0;
    Clock::time_point opened, closing_at;
    Clock::time_point msg_start;    // first byte of the message being received
    Clock::time_point last_active;  // last message received or answer sent
    // For /metrics.
    std::string name;
    uint64_t session_id = 0, frames = 0, bytes_in = 0, bytes_out = 0;
    LatencyWindow latency;
  };
  struct WriteReq {
    uv_write_t req;
    std::vector<uint8_t> data;
  };
  struct ShutdownReq {
    uv_shutdown_t req;
  };
  struct Job {
    uint64_t conn = 0;
    bool release = false;  // the connection is gone: destroy its session here, where it was allocated
    std::shared_ptr<SessionState> state;
    wire::MessageT msg;
    Clock::time_point arrived;
    float recv_ms = 0;
  };
  struct Done {
    uint64_t conn = 0;
    float latency_ms = -1;  // a frame's queue + compute time (-1: not a frame)
    std::vector<uint8_t> frame;
    bool fatal = false;
    std::string error;
  };

  std::shared_ptr<const Plan> plan;
  ServerOptions opt;
  std::shared_ptr<const Device> device;  // the kernels and weights every session shares
  std::vector<std::pair<int, double>> profile;

  uv_loop_t loop{};
  bool loop_ready = false, started = false, ran = false;
  uv_tcp_t listener{};
  uv_async_t stop_async{}, done_async{};
  uv_timer_t sweep{};
  uv_signal_t sig_int{}, sig_term{};
  bool signals_ready = false;  // sig_int / sig_term initialised (only after a successful listen)
  int bound_port = 0;
  std::mutex stop_mu;
  bool stop_open = false;  // stop_async may be signalled
  bool stopping = false;   // loop thread only
  std::unordered_map<uint64_t, Conn*> conns;
  uint64_t next_id = 1;
  size_t buffered_total = 0;  // sum of the connections' reader capacities
  bool collect_loop = false;  // a connection closed: return the loop thread's freed memory at the sweep
  uint8_t read_buf[kReadChunk];

  std::thread compute;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Job> jobs;
  std::deque<Done> dones;
  bool compute_stop = false, compute_exited = false;
  bool done_closed = false;  // loop thread

  std::atomic<uint64_t> n_accepted{0}, n_sessions{0}, n_rejected{0}, n_active{0}, n_frames{0}, n_backgrounds{0};
  std::atomic<uint64_t> n_bytes_in{0}, n_bytes_out{0};
  LatencyWindow latency;  // loop thread
  HttpProbe probe;
  std::atomic<size_t> peak_buf{0}, peak_total{0};

  void log(const char* level, const std::string& line) {
    if (opt.log)
      opt.log(std::string(level) + " " + line);
    else
      std::fprintf(stderr, "%s serve %s %s\n", utc_now().c_str(), level, line.c_str());
  }

  // ---- connections -------------------------------------------------------------------------------
  static void on_close(uv_handle_t* h) {
    Conn* c = static_cast<Conn*>(h->data);
    Impl* s = c->s;
    s->conns.erase(c->id);
    s->n_active--;
    s->buffered_total -= c->counted;
    s->collect_loop = true;
    delete c;
    s->resume_memory_paused();
  }

  // The session's memory goes back on the compute thread, after the updates queued before it.
  void release_session(Conn* c) {
    if (!c->session) return;
    c->session->closed = true;
    Job j;
    j.release = true;
    j.state = std::move(c->session);
    {
      std::lock_guard<std::mutex> lk(mu);
      if (compute_stop) return;  // the server is stopping: the state dies with the last reference
      jobs.push_back(std::move(j));
    }
    cv.notify_one();
  }

  void close_conn(Conn* c) {
    release_session(c);
    c->st = St::Closing;
    if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&c->tcp)))
      uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), on_close);
  }

  // Reads from c exactly when nothing holds it back.
  void update_reading(Conn* c) {
    bool want =
        c->st != St::Closing && !c->paused && !c->mem_paused && !uv_is_closing(reinterpret_cast<uv_handle_t*>(&c->tcp));
    if (want == c->reading) return;
    c->reading = want;
    if (want)
      uv_read_start(reinterpret_cast<uv_stream_t*>(&c->tcp), on_alloc, on_read);
    else
      uv_read_stop(reinterpret_cast<uv_stream_t*>(&c->tcp));
  }

  // max_buffered: c's reader changed. Over the bound, c waits when another connection's message is
  // still arriving; one always is (resume_memory_paused), and it completes or times out, so memory is
  // freed and nothing deadlocks.
  void account(Conn* c) {
    size_t cap = c->reader.capacity();
    buffered_total = buffered_total - c->counted + cap;
    bool shrank = cap < c->counted;
    c->counted = cap;
    if (buffered_total > peak_total) peak_total = buffered_total;
    if (shrank || !c->reader.mid_message()) resume_memory_paused();
    if (buffered_total <= opt.max_buffered || !c->reader.mid_message() || c->st == St::Closing) return;
    if (receiving_other_than(c)) {
      c->mem_paused = true;
      update_reading(c);
    }
  }

  bool receiving_other_than(const Conn* c) const {
    for (const auto& kv : conns) {
      const Conn* o = kv.second;
      if (o != c && o->reading && o->reader.mid_message() && o->st != St::Closing) return true;
    }
    return false;
  }

  void resume(Conn* c) {
    c->mem_paused = false;
    c->msg_start = Clock::now();  // the time it waited was ours, not the edge's
    update_reading(c);
  }

  // Under the bound every waiting connection is read again; over it, the one holding the most (closest
  // to completing its message) when no message is arriving at all.
  void resume_memory_paused() {
    if (buffered_total <= opt.max_buffered) {
      for (auto& kv : conns)
        if (kv.second->mem_paused) resume(kv.second);
      return;
    }
    if (receiving_other_than(nullptr)) return;
    Conn* best = nullptr;
    for (auto& kv : conns)
      if (kv.second->mem_paused && (!best || kv.second->counted > best->counted)) best = kv.second;
    if (best) resume(best);
  }

  static void on_shutdown(uv_shutdown_t* req, int) {
    Conn* c = static_cast<Conn*>(req->handle->data);
    delete reinterpret_cast<ShutdownReq*>(req);
    c->s->close_conn(c);
  }

  // Flushes what is queued, then closes.
  void graceful_close(Conn* c) {
    if (c->st == St::Closing) return;
    release_session(c);
    c->st = St::Closing;
    c->closing_at = Clock::now();
    update_reading(c);
    auto* r = new ShutdownReq;
    if (uv_shutdown(&r->req, reinterpret_cast<uv_stream_t*>(&c->tcp), on_shutdown) != 0) {
      delete r;
      close_conn(c);
    }
  }

  void reject(Conn* c, wire::ErrorCode code, const std::string& reason) {
    if (c->st == St::Closing) return;
    log("WARN", "edge " + c->peer + ": closed: " + reason);
    n_rejected++;
    send(c, error_frame(code, reason));
    graceful_close(c);
  }

  static void on_write(uv_write_t* req, int status) {
    auto* w = reinterpret_cast<WriteReq*>(req);
    Conn* c = static_cast<Conn*>(req->handle->data);
    delete w;
    if (status < 0 && status != UV_ECANCELED && c->st != St::Closing) {
      c->s->log("WARN", "edge " + c->peer + ": closed: write failed (" + uv_strerror(status) + ")");
      c->s->close_conn(c);
    }
  }

  void send(Conn* c, std::vector<uint8_t> frame) {
    auto* stream = reinterpret_cast<uv_stream_t*>(&c->tcp);
    if (uv_is_closing(reinterpret_cast<uv_handle_t*>(&c->tcp))) return;
    if (uv_stream_get_write_queue_size(stream) > kMaxWriteQueue) {
      log("WARN", "edge " + c->peer + ": closed: not reading its results");
      n_rejected++;
      close_conn(c);
      return;
    }
    c->bytes_out += frame.size();
    n_bytes_out += frame.size();
    auto* w = new WriteReq;
    w->data = std::move(frame);
    uv_buf_t b = uv_buf_init(reinterpret_cast<char*>(w->data.data()), static_cast<unsigned>(w->data.size()));
    if (uv_write(&w->req, stream, &b, 1, on_write) != 0) {
      delete w;
      close_conn(c);
    }
  }

  static void on_alloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
    Conn* c = static_cast<Conn*>(h->data);
    buf->base = reinterpret_cast<char*>(c->s->read_buf);
    buf->len = kReadChunk;
  }

  static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
    Conn* c = static_cast<Conn*>(stream->data);
    Impl* s = c->s;
    if (nread == 0) return;
    if (nread < 0) {
      if (c->st != St::Closing) {
        if (c->reader.mid_message()) {
          s->log("WARN", "edge " + c->peer + ": closed: truncated message (" + c->reader.pending() + ")");
          s->n_rejected++;
        } else {
          s->log("INFO", "edge " + c->peer + ": disconnected" +
                             (nread == UV_EOF ? std::string()
                                              : std::string(" (") + uv_strerror(static_cast<int>(nread)) + ")"));
        }
      }
      s->close_conn(c);
      return;
    }
    if (!c->reader.mid_message()) c->msg_start = Clock::now();
    c->last_active = Clock::now();
    c->bytes_in += static_cast<uint64_t>(nread);
    s->n_bytes_in += static_cast<uint64_t>(nread);
    bool ok = c->reader.feed(reinterpret_cast<const uint8_t*>(buf->base), static_cast<size_t>(nread),
                             [s, c](const uint8_t* d, size_t n) {
                               bool go_on = s->on_message(c, d, n);
                               c->msg_start = Clock::now();  // a next message starts in this chunk
                               return go_on;
                             });
    size_t peak = c->reader.peak_capacity();
    size_t cur = s->peak_buf.load();
    while (peak > cur && !s->peak_buf.compare_exchange_weak(cur, peak)) {}
    if (!ok && c->reader.failed()) s->reject(c, wire::ErrorCode::TooLarge, c->reader.error());
    s->account(c);
  }

  bool on_message(Conn* c, const uint8_t* data, size_t size) {
    if (c->st == St::Closing) return false;
    Decoded d = decode_message(data, size);
    if (!d.ok()) {
      reject(c, d.status == DecodeStatus::BadVersion ? wire::ErrorCode::Version : wire::ErrorCode::Malformed, d.error);
      return false;
    }
    wire::Body type = d.message.body.type;
    if (c->st == St::Hello) {
      if (type != wire::Body::Hello) {
        reject(c, opt.token.empty() ? wire::ErrorCode::Unexpected : wire::ErrorCode::Unauthorized,
               std::string("expected Hello first, got ") + body_name(type));
        return false;
      }
      return on_hello(c, *d.message.body.AsHello());
    }
    switch (type) {
      case wire::Body::FrameUpdate:
      case wire::Body::Background: {
        uint64_t id = type == wire::Body::FrameUpdate ? d.message.body.AsFrameUpdate()->update_id
                                                      : d.message.body.AsBackground()->update_id;
        if (id != c->updates + 1) {
          reject(c, wire::ErrorCode::Malformed,
                 "update id " + std::to_string(id) + " out of order (expected " + std::to_string(c->updates + 1) + ")");
          return false;
        }
        c->updates = id;
        Job j;
        j.conn = c->id;
        j.state = c->session;
        j.msg = std::move(d.message);
        j.arrived = Clock::now();
        j.recv_ms = static_cast<float>(ms_between(c->msg_start, j.arrived));
        {
          std::lock_guard<std::mutex> lk(mu);
          jobs.push_back(std::move(j));
        }
        cv.notify_one();
        if (++c->pending >= opt.max_pending && !c->paused) {
          c->paused = true;
          update_reading(c);
        }
        return true;
      }
      case wire::Body::Bye: {
        const auto* b = d.message.body.AsBye();
        log("INFO", "edge " + c->peer + ": bye" +
                        (b && !b->reason.empty() ? " (" + peer_text(b->reason) + ")" : std::string()));
        graceful_close(c);
        return false;
      }
      default:
        reject(c, wire::ErrorCode::Unexpected, std::string("unexpected ") + body_name(type) + " message");
        return false;
    }
  }

  int count(St st, const std::string* ip = nullptr) const {
    int n = 0;
    for (const auto& kv : conns) n += kv.second->st == st && (!ip || kv.second->ip == *ip);
    return n;
  }

  // Room for one more session: per address, then in all (displacing the session idle the longest when it
  // has been idle long enough). False when c was refused.
  bool admit_session(Conn* c) {
    if (count(St::Ready, &c->ip) >= opt.max_edges_per_address) {
      reject(c, wire::ErrorCode::Busy,
             "too many edges from " + c->ip + " (limit " + std::to_string(opt.max_edges_per_address) + ")");
      return false;
    }
    if (count(St::Ready) < opt.max_edges) return true;
    Conn* idlest = nullptr;
    auto now = Clock::now();
    for (auto& kv : conns) {
      Conn* o = kv.second;
      if (o->st != St::Ready || o->pending > 0 || o->reader.mid_message()) continue;
      if (!idlest || o->last_active < idlest->last_active) idlest = o;
    }
    if (opt.evict_idle_s >= 0 && idlest && ms_between(idlest->last_active, now) >= 1e3 * opt.evict_idle_s) {
      reject(idlest, wire::ErrorCode::Busy,
             "displaced by a new edge after " + seconds(std::round(ms_between(idlest->last_active, now) / 100) / 10) +
                 " idle (the server is full)");
      return true;
    }
    reject(c, wire::ErrorCode::Busy, "too many edges (limit " + std::to_string(opt.max_edges) + ")");
    return false;
  }

  bool on_hello(Conn* c, const wire::HelloT& h) {
    HelloVerdict v = admit_hello(h, *plan, opt.token);
    if (!v.ok) {
      reject(c, v.code, v.reason);
      return false;
    }
    if (!admit_session(c)) return false;
    auto st = std::make_shared<SessionState>();
    st->cfg = v.cfg;
    c->session = st;
    c->st = St::Ready;
    c->reader.set_limit(opt.max_message);
    uint64_t sid = ++n_sessions;
    wire::HelloAckT ack;
    ack.protocol_version = kProtocolVersion;
    ack.plan_hash = plan->hash();
    ack.input_w = plan->input_w();
    ack.input_h = plan->input_h();
    ack.block = h.block;
    ack.codec = h.codec;
    for (const auto& p : profile) ack.profile.emplace_back(p.first, static_cast<float>(p.second));
    ack.backend = opt.backend;
    ack.max_message = opt.max_message;
    ack.session_id = sid;
    send(c, encode_frame(std::move(ack)));
    std::string name = peer_text(h.name, 64);
    c->name = name;
    c->session_id = sid;
    log("INFO", "edge " + c->peer + (name.empty() ? "" : " (" + name + ")") + ": session " + std::to_string(sid) +
                    ", " + codec_name(st->cfg.codec) + ", " + (st->cfg.approximate ? "approximate" : "exact") +
                    " mode, block " + std::to_string(h.block));
    return true;
  }

  static void on_connection(uv_stream_t* server, int status) {
    Impl* s = static_cast<Impl*>(server->data);
    if (status < 0) {
      s->log("ERROR", std::string("accept failed: ") + uv_strerror(status));
      return;
    }
    auto* c = new Conn;
    c->s = s;
    c->id = s->next_id++;
    c->opened = c->last_active = Clock::now();
    uv_tcp_init(&s->loop, &c->tcp);
    c->tcp.data = c;
    s->conns[c->id] = c;
    s->n_active++;
    if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) {
      s->close_conn(c);
      return;
    }
    s->n_accepted++;
    uv_tcp_nodelay(&c->tcp, 1);
    c->peer = peer_name(&c->tcp, &c->ip);
    if (s->stopping) {
      s->close_conn(c);
      return;
    }
    // Handshake slots: per address a hard limit; in all, the newest connection wins (a real edge sends
    // its Hello at once, so only connections that say nothing lose their slot).
    if (s->count(St::Hello, &c->ip) > s->opt.max_handshakes_per_address) {
      s->reject(c, wire::ErrorCode::Busy,
                "too many connections in handshake from " + c->ip + " (limit " +
                    std::to_string(s->opt.max_handshakes_per_address) + ")");
      return;
    }
    if (s->count(St::Hello) > s->opt.max_handshakes) {
      Conn* oldest = nullptr;
      for (auto& kv : s->conns)
        if (kv.second != c && kv.second->st == St::Hello && (!oldest || kv.second->opened < oldest->opened))
          oldest = kv.second;
      if (oldest)
        s->reject(oldest, wire::ErrorCode::Busy,
                  "no handshake yet; its slot went to a newer connection (limit " +
                      std::to_string(s->opt.max_handshakes) + " in handshake)");
    }
    s->update_reading(c);
  }

  static void on_sweep(uv_timer_t* t) {
    Impl* s = static_cast<Impl*>(t->data);
    auto now = Clock::now();
    std::vector<Conn*> list;
    for (auto& kv : s->conns) list.push_back(kv.second);
    for (Conn* c : list) {
      if (c->st == St::Hello && ms_between(c->opened, now) > 1e3 * s->opt.hello_timeout_s) {
        s->reject(c, wire::ErrorCode::Unauthorized, "no handshake within " + seconds(s->opt.hello_timeout_s));
      } else if (c->st != St::Closing && c->reading && c->reader.mid_message() &&
                 ms_between(c->msg_start, now) > 1e3 * s->opt.message_timeout_s) {
        s->reject(
            c, wire::ErrorCode::Malformed,
            "message not completed within " + seconds(s->opt.message_timeout_s) + " (" + c->reader.pending() + ")");
      } else if (c->st == St::Ready && s->opt.idle_timeout_s > 0 && c->pending == 0 && !c->reader.mid_message() &&
                 ms_between(c->last_active, now) > 1e3 * s->opt.idle_timeout_s) {
        s->reject(c, wire::ErrorCode::Busy, "idle for " + seconds(s->opt.idle_timeout_s));
      } else if (c->st == St::Closing && ms_between(c->closing_at, now) > 1e3 * kCloseGraceS) {
        s->close_conn(c);
      }
    }
    // Buffers of closed connections were freed on this thread: give the pages back.
    if (s->collect_loop) {
      s->collect_loop = false;
      mi_collect(true);
    }
  }

  // ---- compute thread ----------------------------------------------------------------------------
  void compute_main() {
    for (;;) {
      Job j;
      {
        std::unique_lock<std::mutex> lk(mu);
        cv.wait(lk, [&] { return compute_stop || !jobs.empty(); });
        if (compute_stop) break;
        j = std::move(jobs.front());
        jobs.pop_front();
      }
      if (j.release) {
        j.state->session.reset();
        j.state.reset();
        mi_collect(true);  // the session's memory back to the OS, from the thread that allocated it
        continue;
      }
      Done d;
      d.conn = j.conn;
      if (!j.state->closed) {
        auto t0 = Clock::now();
        try {
          if (!j.state->session)
            j.state->session = std::make_unique<ServerSession>(device, j.state->cfg);
          if (auto* u = j.msg.body.AsFrameUpdate()) {
            wire::ResultT r;
            j.state->session->apply_frame(*u, r);
            r.queue_ms = static_cast<float>(ms_between(j.arrived, t0));
            r.recv_ms = j.recv_ms;
            r.compute_ms = static_cast<float>(ms_between(t0, Clock::now()));
            d.latency_ms = r.queue_ms + r.compute_ms;
            d.frame = encode_frame(std::move(r));
            n_frames++;
          } else if (auto* b = j.msg.body.AsBackground()) {
            wire::AckT a;
            j.state->session->apply_background(*b, a);
            a.queue_ms = static_cast<float>(ms_between(j.arrived, t0));
            a.recv_ms = j.recv_ms;
            a.compute_ms = static_cast<float>(ms_between(t0, Clock::now()));
            d.frame = encode_frame(std::move(a));
            n_backgrounds++;
          }
        } catch (const std::exception& e) {
          d.fatal = true;
          d.error = e.what();
        }
      }
      std::lock_guard<std::mutex> lk(mu);
      dones.push_back(std::move(d));
      uv_async_send(&done_async);
    }
    std::lock_guard<std::mutex> lk(mu);
    compute_exited = true;
    uv_async_send(&done_async);
  }

  static void on_done(uv_async_t* a) {
    Impl* s = static_cast<Impl*>(a->data);
    std::deque<Done> list;
    bool exited;
    {
      std::lock_guard<std::mutex> lk(s->mu);
      list.swap(s->dones);
      exited = s->compute_exited;
    }
    for (Done& d : list) {
      auto it = s->conns.find(d.conn);
      if (it == s->conns.end()) continue;
      Conn* c = it->second;
      if (c->st != St::Ready) continue;
      if (d.fatal) {
        s->reject(c, wire::ErrorCode::Malformed, "update rejected: " + d.error);
        continue;
      }
      s->send(c, std::move(d.frame));
      c->last_active = Clock::now();
      if (d.latency_ms >= 0) {
        ++c->frames;
        c->latency.add(d.latency_ms);
        s->latency.add(d.latency_ms);
      }
      if (--c->pending < s->opt.max_pending && c->paused && c->st == St::Ready) {
        c->paused = false;
        s->update_reading(c);
      }
    }
    if (exited && !s->done_closed) {
      s->done_closed = true;
      uv_close(reinterpret_cast<uv_handle_t*>(&s->done_async), nullptr);
    }
  }

  // ---- shutdown ----------------------------------------------------------------------------------
  void begin_stop() {
    if (stopping) return;
    stopping = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&listener), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&sweep), nullptr);
    probe.close();
    if (signals_ready) {
      uv_close(reinterpret_cast<uv_handle_t*>(&sig_int), nullptr);
      uv_close(reinterpret_cast<uv_handle_t*>(&sig_term), nullptr);
    }
    std::vector<Conn*> list;
    for (auto& kv : conns) list.push_back(kv.second);
    for (Conn* c : list) close_conn(c);
    {
      std::lock_guard<std::mutex> lk(mu);
      compute_stop = true;
    }
    cv.notify_all();
    {
      std::lock_guard<std::mutex> lk(stop_mu);
      stop_open = false;
      uv_close(reinterpret_cast<uv_handle_t*>(&stop_async), nullptr);
    }
  }

  static void on_stop(uv_async_t* a) { static_cast<Impl*>(a->data)->begin_stop(); }

  // start() failed after the loop and its handles were set up: close them all and drain the loop (the
  // destructor then has nothing left to do).
  void abandon_start() {
    ran = true;
    begin_stop();
    done_closed = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&done_async), nullptr);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    loop_ready = false;
  }

  // ---- health and metrics (GET /healthz, GET /metrics on opt.metrics_port) ------------------------
  HttpResponse on_probe(const std::string& path) {
    if (path == "/healthz" || path == "/health")
      return stopping ? HttpResponse{503, "text/plain; charset=utf-8", "stopping\n"}
                      : HttpResponse{200, "text/plain; charset=utf-8", "ok\n"};
    if (path == "/metrics") return {200, "text/plain; version=0.0.4; charset=utf-8", metrics()};
    return {404, "text/plain; charset=utf-8", "not found (GET /healthz or /metrics)\n"};
  }

  std::string metrics() const {
    std::string m;
    auto metric = [&](const char* name, const char* type, const char* help, double v) {
      char b[64];
      std::snprintf(b, sizeof b, "%.17g", v);
      m += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" + name + " " + b + "\n";
    };
    auto sample = [&](const std::string& name, const std::string& labels, double v) {
      char b[64];
      std::snprintf(b, sizeof b, "%.17g", v);
      m += name + (labels.empty() ? "" : "{" + labels + "}") + " " + b + "\n";
    };
    metric("fluxshard_up", "gauge", "1 while the server runs.", stopping ? 0 : 1);
    metric("fluxshard_connections_accepted_total", "counter", "Edge connections accepted.", double(n_accepted));
    metric("fluxshard_connections_rejected_total", "counter",
           "Edge connections closed for a protocol violation or a limit.", double(n_rejected));
    metric("fluxshard_handshakes_pending", "gauge", "Connections in their handshake.", count(St::Hello));
    metric("fluxshard_sessions_active", "gauge", "Established edge sessions.", count(St::Ready));
    metric("fluxshard_sessions_total", "counter", "Handshakes completed.", double(n_sessions));
    metric("fluxshard_frames_total", "counter", "Frame updates answered.", double(n_frames));
    metric("fluxshard_background_updates_total", "counter", "Background updates applied.", double(n_backgrounds));
    metric("fluxshard_received_bytes_total", "counter", "Bytes received from edges.", double(n_bytes_in));
    metric("fluxshard_sent_bytes_total", "counter", "Bytes sent to edges.", double(n_bytes_out));
    metric("fluxshard_buffered_bytes", "gauge", "Input buffered across connections.", double(buffered_total));
    m += "# HELP fluxshard_frame_latency_ms Queue + compute time of the last 1024 frames, ms.\n"
         "# TYPE fluxshard_frame_latency_ms summary\n";
    const std::pair<const char*, double> qs[] = {{"0.5", 0.5}, {"0.9", 0.9}, {"0.99", 0.99}};
    for (const auto& [qn, q] : qs)
      sample("fluxshard_frame_latency_ms", std::string("quantile=\"") + qn + "\"", percentile(latency.values, q));
    sample("fluxshard_frame_latency_ms_sum", "", latency.sum);
    sample("fluxshard_frame_latency_ms_count", "", double(latency.count));
    // Per edge (established sessions), labelled by session id, peer address and the name it gave.
    std::vector<const Conn*> edges;
    for (const auto& kv : conns)
      if (kv.second->st == St::Ready) edges.push_back(kv.second);
    std::sort(edges.begin(), edges.end(), [](const Conn* a, const Conn* b) { return a->session_id < b->session_id; });
    auto per_edge = [&](const char* name, const char* type, const char* help, auto value) {
      m += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
      for (const Conn* c : edges) {
        std::string labels = "session=\"" + std::to_string(c->session_id) + "\",peer=\"" + label(c->peer) +
                             "\",edge=\"" + label(c->name) + "\"";
        value(c, labels);
      }
    };
    per_edge("fluxshard_edge_frames_total", "counter", "Frames answered, per edge.",
             [&](const Conn* c, const std::string& l) { sample("fluxshard_edge_frames_total", l, double(c->frames)); });
    per_edge("fluxshard_edge_received_bytes_total", "counter", "Bytes received, per edge.",
             [&](const Conn* c, const std::string& l) {
               sample("fluxshard_edge_received_bytes_total", l, double(c->bytes_in));
             });
    per_edge("fluxshard_edge_sent_bytes_total", "counter", "Bytes sent, per edge.",
             [&](const Conn* c, const std::string& l) {
               sample("fluxshard_edge_sent_bytes_total", l, double(c->bytes_out));
             });
    per_edge("fluxshard_edge_frame_latency_ms", "summary", "Queue + compute time of the edge's last 1024 frames, ms.",
             [&](const Conn* c, const std::string& l) {
               for (const auto& [qn, q] : qs)
                 sample("fluxshard_edge_frame_latency_ms", l + ",quantile=\"" + qn + "\"",
                        percentile(c->latency.values, q));
             });
    return m;
  }
  static void on_signal(uv_signal_t* sg, int signum) {
    Impl* s = static_cast<Impl*>(sg->data);
    s->log("INFO", std::string("stopping on ") + (signum == SIGINT ? "SIGINT" : "SIGTERM"));
    s->begin_stop();
  }
};

Server::Server(std::shared_ptr<const Plan> plan, ServerOptions opt) : impl_(std::make_unique<Impl>()) {
  std::signal(SIGPIPE, SIG_IGN);
  impl_->plan = std::move(plan);
  impl_->opt = std::move(opt);
  if (impl_->opt.max_pending < 1) impl_->opt.max_pending = 1;
  output_layout(*impl_->plan);  // a plan the server cannot post-process fails here, not per edge
  BackendOptions b;
  b.kind = impl_->opt.backend;
  b.device = impl_->opt.device;
  b.precision = impl_->opt.precision;
  b.threads =
      impl_->opt.threads > 0 ? impl_->opt.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  impl_->device = make_device(impl_->plan, b);  // throws the reason a backend is unusable
}

Server::~Server() {
  Impl* s = impl_.get();
  if (!s->loop_ready) return;
  if (!s->ran) {
    // Started but never run: stop the compute thread, close the handles, drain the loop.
    {
      std::lock_guard<std::mutex> lk(s->mu);
      s->compute_stop = true;
    }
    s->cv.notify_all();
    if (s->compute.joinable()) s->compute.join();
    s->begin_stop();
    if (!s->done_closed) {
      s->done_closed = true;
      uv_close(reinterpret_cast<uv_handle_t*>(&s->done_async), nullptr);
    }
    uv_run(&s->loop, UV_RUN_DEFAULT);
    uv_loop_close(&s->loop);
  }
}

void Server::start() {
  Impl* s = impl_.get();
  if (s->started) throw Error("server already started");
  sockaddr_storage addr{};
  if (uv_ip4_addr(s->opt.host.c_str(), s->opt.port, reinterpret_cast<sockaddr_in*>(&addr)) != 0 &&
      uv_ip6_addr(s->opt.host.c_str(), s->opt.port, reinterpret_cast<sockaddr_in6*>(&addr)) != 0)
    throw Error("cannot listen on '" + s->opt.host + "': not an IPv4 or IPv6 address");
  uv_loop_init(&s->loop);
  s->loop_ready = true;
  uv_tcp_init(&s->loop, &s->listener);
  s->listener.data = s;
  uv_async_init(&s->loop, &s->stop_async, Impl::on_stop);
  s->stop_async.data = s;
  uv_async_init(&s->loop, &s->done_async, Impl::on_done);
  s->done_async.data = s;
  uv_timer_init(&s->loop, &s->sweep);
  s->sweep.data = s;
  {
    std::lock_guard<std::mutex> lk(s->stop_mu);
    s->stop_open = true;
  }
  int r = uv_tcp_bind(&s->listener, reinterpret_cast<sockaddr*>(&addr), 0);
  if (r == 0) r = uv_listen(reinterpret_cast<uv_stream_t*>(&s->listener), 128, Impl::on_connection);
  if (r != 0) {
    s->abandon_start();
    throw Error("cannot listen on " + s->opt.host + ":" + std::to_string(s->opt.port) + ": " + uv_strerror(r));
  }
  sockaddr_storage bound{};
  int len = sizeof bound;
  uv_tcp_getsockname(&s->listener, reinterpret_cast<sockaddr*>(&bound), &len);
  s->bound_port = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                                     : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  // Profiled once the port is ours: a port in use fails at once, not after seconds of profiling.
  if (s->opt.profile.empty()) {
    int block = 16;
    if (s->plan->input_w() % block || s->plan->input_h() % block) block = 8;
    s->profile = profile_sparse(s->device, block);
    mi_collect(true);  // the profiling sessions' memory back to the OS before any edge comes
  } else {
    s->profile = s->opt.profile;
  }
  if (s->opt.metrics_port >= 0) {
    try {
      s->probe.start(&s->loop, s->opt.metrics_host, s->opt.metrics_port,
                     [s](const std::string& path) { return s->on_probe(path); });
    } catch (const Error&) {
      s->abandon_start();
      throw;
    }
  }
  uv_timer_start(&s->sweep, Impl::on_sweep, 500, 500);
  if (s->opt.handle_signals) {
    uv_signal_init(&s->loop, &s->sig_int);
    uv_signal_init(&s->loop, &s->sig_term);
    s->sig_int.data = s->sig_term.data = s;
    s->signals_ready = true;
    uv_signal_start(&s->sig_int, Impl::on_signal, SIGINT);
    uv_signal_start(&s->sig_term, Impl::on_signal, SIGTERM);
  }
  s->compute = std::thread([s] { s->compute_main(); });
  s->started = true;
}

int Server::port() const { return impl_->bound_port; }
int Server::metrics_port() const { return impl_->probe.started() ? impl_->probe.port() : -1; }
std::string Server::metrics_text() const { return impl_->metrics(); }
const std::vector<std::pair<int, double>>& Server::profile() const { return impl_->profile; }

int Server::run() {
  Impl* s = impl_.get();
  if (!s->started || s->ran) throw Error("server not started");
  s->ran = true;
  uv_run(&s->loop, UV_RUN_DEFAULT);
  if (s->compute.joinable()) s->compute.join();
  int r = uv_loop_close(&s->loop);
  s->loop_ready = false;
  return r;
}

void Server::stop() {
  Impl* s = impl_.get();
  std::lock_guard<std::mutex> lk(s->stop_mu);
  if (s->stop_open) uv_async_send(&s->stop_async);
}

ServerStats Server::stats() const {
  const Impl* s = impl_.get();
  ServerStats st;
  st.accepted = s->n_accepted;
  st.sessions = s->n_sessions;
  st.rejected = s->n_rejected;
  st.active = s->n_active;
  st.frames = s->n_frames;
  st.backgrounds = s->n_backgrounds;
  st.bytes_in = s->n_bytes_in;
  st.bytes_out = s->n_bytes_out;
  st.peak_read_buffer = s->peak_buf;
  st.peak_buffered = s->peak_total;
  return st;
}

}  // namespace fx::net
