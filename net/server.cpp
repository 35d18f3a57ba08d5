#include "net/server.h"

#include <uv.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "net/framing.h"
#include "net/hello.h"
#include "net/profile.h"
#include "net/server_session.h"
#include "net/wire.h"
#include "runtime/error.h"
#include "runtime/util/clock.h"

namespace fx::net {

namespace {

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

std::string peer_name(uv_tcp_t* t) {
  sockaddr_storage ss{};
  int len = sizeof ss;
  if (uv_tcp_getpeername(t, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "?";
  char host[64] = "?";
  int port = 0;
  if (ss.ss_family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    uv_ip4_name(a, host, sizeof host);
    port = ntohs(a->sin_port);
    return std::string(host) + ":" + std::to_string(port);
  }
  if (ss.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    uv_ip6_name(a, host, sizeof host);
    port = ntohs(a->sin6_port);
    return "[" + std::string(host) + "]:" + std::to_string(port);
  }
  return "?";
}

constexpr size_t kReadChunk = 64 * 1024;
constexpr size_t kMaxWriteQueue = 64u << 20;  // an edge that stops reading its results is dropped
constexpr double kCloseGraceS = 2.0;

}  // namespace

struct SessionState {
  SessionConfig cfg;
  std::unique_ptr<ServerSession> session;  // created on the compute thread
  std::atomic<bool> closed{false};
};

struct Server::Impl {
  enum class St { Hello, Ready, Closing };
  struct Conn {
    uv_tcp_t tcp;
    Impl* s = nullptr;
    uint64_t id = 0;
    std::string peer;
    FrameReader reader{kHandshakeMaxMessage};
    St st = St::Hello;
    std::shared_ptr<SessionState> session;
    int pending = 0;
    bool paused = false;
    uint64_t updates = 0;
    Clock::time_point opened, closing_at;
    Clock::time_point msg_start;  // first byte of the message being received
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
    std::shared_ptr<SessionState> state;
    wire::MessageT msg;
    Clock::time_point arrived;
    float recv_ms = 0;
  };
  struct Done {
    uint64_t conn = 0;
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
  int bound_port = 0;
  std::mutex stop_mu;
  bool stop_open = false;  // stop_async may be signalled
  bool stopping = false;   // loop thread only
  std::unordered_map<uint64_t, Conn*> conns;
  uint64_t next_id = 1;
  uint8_t read_buf[kReadChunk];

  std::thread compute;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Job> jobs;
  std::deque<Done> dones;
  bool compute_stop = false, compute_exited = false;
  bool done_closed = false;  // loop thread

  std::atomic<uint64_t> n_accepted{0}, n_sessions{0}, n_rejected{0}, n_active{0}, n_frames{0}, n_backgrounds{0};
  std::atomic<size_t> peak_buf{0};

  void log(const std::string& line) {
    if (opt.log) opt.log(line);
    else std::fprintf(stderr, "serve: %s\n", line.c_str());
  }

  // ---- connections -------------------------------------------------------------------------------
  static void on_close(uv_handle_t* h) {
    Conn* c = static_cast<Conn*>(h->data);
    c->s->conns.erase(c->id);
    c->s->n_active--;
    delete c;
  }

  void close_conn(Conn* c) {
    if (c->session) c->session->closed = true;
    c->st = St::Closing;
    if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&c->tcp)))
      uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), on_close);
  }

  static void on_shutdown(uv_shutdown_t* req, int) {
    Conn* c = static_cast<Conn*>(req->handle->data);
    delete reinterpret_cast<ShutdownReq*>(req);
    c->s->close_conn(c);
  }

  // Flushes what is queued, then closes.
  void graceful_close(Conn* c) {
    if (c->st == St::Closing) return;
    if (c->session) c->session->closed = true;
    c->st = St::Closing;
    c->closing_at = Clock::now();
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&c->tcp));
    auto* r = new ShutdownReq;
    if (uv_shutdown(&r->req, reinterpret_cast<uv_stream_t*>(&c->tcp), on_shutdown) != 0) {
      delete r;
      close_conn(c);
    }
  }

  void reject(Conn* c, wire::ErrorCode code, const std::string& reason) {
    if (c->st == St::Closing) return;
    log("edge " + c->peer + ": closed: " + reason);
    n_rejected++;
    send(c, error_frame(code, reason));
    graceful_close(c);
  }

  static void on_write(uv_write_t* req, int status) {
    auto* w = reinterpret_cast<WriteReq*>(req);
    Conn* c = static_cast<Conn*>(req->handle->data);
    delete w;
    if (status < 0 && status != UV_ECANCELED && c->st != St::Closing) {
      c->s->log("edge " + c->peer + ": closed: write failed (" + uv_strerror(status) + ")");
      c->s->close_conn(c);
    }
  }

  void send(Conn* c, std::vector<uint8_t> frame) {
    auto* stream = reinterpret_cast<uv_stream_t*>(&c->tcp);
    if (uv_is_closing(reinterpret_cast<uv_handle_t*>(&c->tcp))) return;
    if (uv_stream_get_write_queue_size(stream) > kMaxWriteQueue) {
      log("edge " + c->peer + ": closed: not reading its results");
      n_rejected++;
      close_conn(c);
      return;
    }
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
          s->log("edge " + c->peer + ": closed: truncated message (" + c->reader.pending() + ")");
          s->n_rejected++;
        } else {
          s->log("edge " + c->peer + ": disconnected" +
                 (nread == UV_EOF ? std::string() : std::string(" (") + uv_strerror(static_cast<int>(nread)) + ")"));
        }
      }
      s->close_conn(c);
      return;
    }
    if (!c->reader.mid_message()) c->msg_start = Clock::now();
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
          uv_read_stop(reinterpret_cast<uv_stream_t*>(&c->tcp));
          c->paused = true;
        }
        return true;
      }
      case wire::Body::Bye: {
        const auto* b = d.message.body.AsBye();
        log("edge " + c->peer + ": bye" +
            (b && !b->reason.empty() ? " (" + peer_text(b->reason) + ")" : std::string()));
        graceful_close(c);
        return false;
      }
      default:
        reject(c, wire::ErrorCode::Unexpected, std::string("unexpected ") + body_name(type) + " message");
        return false;
    }
  }

  bool on_hello(Conn* c, const wire::HelloT& h) {
    HelloVerdict v = admit_hello(h, *plan, opt.token);
    if (!v.ok) {
      reject(c, v.code, v.reason);
      return false;
    }
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
    log("edge " + c->peer + (name.empty() ? "" : " (" + name + ")") + ": session " + std::to_string(sid) + ", " +
        codec_name(st->cfg.codec) + ", " + (st->cfg.approximate ? "approximate" : "exact") + " mode, block " +
        std::to_string(h.block));
    return true;
  }

  static void on_connection(uv_stream_t* server, int status) {
    Impl* s = static_cast<Impl*>(server->data);
    if (status < 0) {
      s->log(std::string("accept failed: ") + uv_strerror(status));
      return;
    }
    auto* c = new Conn;
    c->s = s;
    c->id = s->next_id++;
    c->opened = Clock::now();
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
    c->peer = peer_name(&c->tcp);
    if (s->stopping) {
      s->close_conn(c);
      return;
    }
    if (static_cast<int>(s->conns.size()) > s->opt.max_edges) {
      s->reject(c, wire::ErrorCode::Busy, "too many edges (limit " + std::to_string(s->opt.max_edges) + ")");
      return;
    }
    uv_read_start(reinterpret_cast<uv_stream_t*>(&c->tcp), on_alloc, on_read);
  }

  static void on_sweep(uv_timer_t* t) {
    Impl* s = static_cast<Impl*>(t->data);
    auto now = Clock::now();
    std::vector<Conn*> list;
    for (auto& kv : s->conns) list.push_back(kv.second);
    for (Conn* c : list) {
      if (c->st == St::Hello && ms_between(c->opened, now) > 1e3 * s->opt.hello_timeout_s)
      {
        char why[64];
        std::snprintf(why, sizeof why, "no handshake within %g s", s->opt.hello_timeout_s);
        s->reject(c, wire::ErrorCode::Unauthorized, why);
      }
      else if (c->st == St::Closing && ms_between(c->closing_at, now) > 1e3 * kCloseGraceS)
        s->close_conn(c);
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
      if (--c->pending < s->opt.max_pending && c->paused && c->st == St::Ready) {
        c->paused = false;
        uv_read_start(reinterpret_cast<uv_stream_t*>(&c->tcp), on_alloc, on_read);
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
    if (opt.handle_signals) {
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
  static void on_signal(uv_signal_t* sg, int signum) {
    Impl* s = static_cast<Impl*>(sg->data);
    s->log(std::string("stopping on ") + (signum == SIGINT ? "SIGINT" : "SIGTERM"));
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
  if (s->opt.profile.empty()) {
    int block = 16;
    if (s->plan->input_w() % block || s->plan->input_h() % block) block = 8;
    s->profile = profile_sparse(s->device, block);
  } else {
    s->profile = s->opt.profile;
  }
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
    s->ran = true;  // the destructor has nothing left to do
    s->begin_stop();
    s->done_closed = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&s->done_async), nullptr);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    uv_loop_close(&s->loop);
    s->loop_ready = false;
    throw Error("cannot listen on " + s->opt.host + ":" + std::to_string(s->opt.port) + ": " + uv_strerror(r));
  }
  sockaddr_storage bound{};
  int len = sizeof bound;
  uv_tcp_getsockname(&s->listener, reinterpret_cast<sockaddr*>(&bound), &len);
  s->bound_port = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                                     : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  uv_timer_start(&s->sweep, Impl::on_sweep, 500, 500);
  if (s->opt.handle_signals) {
    uv_signal_init(&s->loop, &s->sig_int);
    uv_signal_init(&s->loop, &s->sig_term);
    s->sig_int.data = s->sig_term.data = s;
    uv_signal_start(&s->sig_int, Impl::on_signal, SIGINT);
    uv_signal_start(&s->sig_term, Impl::on_signal, SIGTERM);
  }
  s->compute = std::thread([s] { s->compute_main(); });
  s->started = true;
}

int Server::port() const { return impl_->bound_port; }
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
  st.peak_read_buffer = s->peak_buf;
  return st;
}

}  // namespace fx::net
