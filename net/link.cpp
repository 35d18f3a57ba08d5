#include "net/link.h"

#include <uv.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include "net/framing.h"
#include "runtime/error.h"
#include "runtime/util/clock.h"

namespace fx::net {

void parse_host_port(const std::string& s, std::string& host, int& port) {
  std::string p = s;
  host = "127.0.0.1";
  if (!s.empty() && s[0] == '[') {
    auto close = s.find(']');
    if (close == std::string::npos || close + 1 >= s.size() || s[close + 1] != ':')
      throw Error("invalid address '" + s + "' (expected [v6addr]:port)");
    host = s.substr(1, close - 1);
    p = s.substr(close + 2);
  } else if (auto colon = s.rfind(':'); colon != std::string::npos) {
    host = s.substr(0, colon);
    p = s.substr(colon + 1);
    if (host.empty()) host = "127.0.0.1";
  }
  char* end = nullptr;
  long v = std::strtol(p.c_str(), &end, 10);
  if (p.empty() || !end || *end || v < 0 || v > 65535) throw Error("invalid port in '" + s + "' (0 to 65535)");
  port = static_cast<int>(v);
}

namespace {

bool permanent(wire::ErrorCode c) {
  return c == wire::ErrorCode::Unauthorized || c == wire::ErrorCode::PlanMismatch || c == wire::ErrorCode::Version;
}
}  // namespace

struct Link::Impl {
  struct Conn {
    uv_tcp_t tcp;
    Impl* l = nullptr;
    FrameReader reader{kDefaultMaxMessage};
    bool ready = false, dead = false;
    uint64_t epoch = 0;
  };
  struct WriteReq {
    uv_write_t req;
    std::shared_ptr<std::vector<uint8_t>> buf;
  };
  struct Chunk {
    std::shared_ptr<std::vector<uint8_t>> buf;
    size_t off = 0, len = 0;
    double release = 0;
  };
  struct Cmd {
    enum class Kind { Send, Drop, GiveUp, Stop } kind = Kind::Send;
    uint64_t epoch = 0;
    std::vector<uint8_t> frame;
    std::string reason;
  };
  struct Delayed {
    double deliver = 0;
    LinkEvent ev;
  };

  LinkOptions opt;
  std::vector<uint8_t> hello;
  Clock::time_point t0 = Clock::now();
  std::thread thread;
  uv_loop_t loop{};
  uv_async_t cmd_async{};
  uv_timer_t reconnect_timer{}, shape_timer{}, down_timer{}, hs_timer{}, stop_timer{};
  TokenBucket bucket;

  std::mutex cmd_mu;
  std::deque<Cmd> cmds;
  bool cmd_open = true;

  std::mutex ev_mu;
  std::condition_variable ev_cv;
  std::deque<LinkEvent> events;

  std::atomic<size_t> queued{0};
  std::atomic<uint64_t> written{0};
  int close_result = -1;
  bool joined = false;

  // Loop thread only.
  Conn* conn = nullptr;
  uint64_t epoch = 0;
  double backoff = 0;
  bool stopping = false, gave_up = false;
  std::string attempt_failure;  // why the last connection attempt failed (logged when it changes)
  bool ever_connected = false;
  bool refusal = false;         // the failing attempt was turned away by the server (an Error message)
  mutable std::mutex refusal_mu;
  std::string last_refusal;     // the server's last refusal before a handshake completed ("" after one)
  Conn* closing = nullptr;  // the connection being shut down at stop
  bool stop_timer_closed = false;
  double hello_at = 0;
  std::deque<Chunk> out;
  std::deque<Delayed> down;
  double last_deliver = 0;

  double now_s() const { return std::chrono::duration<double>(Clock::now() - t0).count(); }
  void log(const std::string& s) {
    if (opt.log) opt.log(s);
    else std::fprintf(stderr, "edge: %s\n", s.c_str());
  }

  // ---- events to the compute thread --------------------------------------------------------------
  void deliver_now(LinkEvent ev) {
    {
      std::lock_guard<std::mutex> lk(ev_mu);
      events.push_back(std::move(ev));
    }
    ev_cv.notify_all();
  }
  // Received things reach the compute thread rtt/2 later, in order.
  void deliver(LinkEvent ev) {
    double t = std::max(now_s() + opt.rtt_s / 2, last_deliver);
    last_deliver = t;
    ev.time_s = t;
    if (opt.rtt_s <= 0 && down.empty()) {
      deliver_now(std::move(ev));
      return;
    }
    down.push_back({t, std::move(ev)});
    pump_down();
  }
  void pump_down() {
    double now = now_s();
    while (!down.empty() && down.front().deliver <= now + 1e-4) {
      deliver_now(std::move(down.front().ev));
      down.pop_front();
    }
    if (!down.empty() && !stopping)
      uv_timer_start(&down_timer, on_down_timer, static_cast<uint64_t>(std::ceil((down.front().deliver - now) * 1e3)),
                     0);
  }
  static void on_down_timer(uv_timer_t* t) { static_cast<Impl*>(t->data)->pump_down(); }

  // ---- connection --------------------------------------------------------------------------------
  static void on_conn_close(uv_handle_t* h) {
    Conn* c = static_cast<Conn*>(h->data);
    if (c->l->closing == c) c->l->closing = nullptr;
    delete c;
  }

  void clear_out() {
    size_t n = 0;
    for (const Chunk& c : out) n += c.len;
    out.clear();
    queued -= n;
    uv_timer_stop(&shape_timer);
  }

  void fail_conn(Conn* c, const std::string& reason) {
    if (c->dead) return;
    c->dead = true;
    if (!c->ready && !stopping && !gave_up && reason != attempt_failure) {
      // Once per distinct reason: a refused connect repeats at every backoff step. A server that answers
      // with a refusal (busy) before the first session is reported by the owner, once (last_refusal()).
      if (!refusal || ever_connected)
        log("cannot connect to " + opt.host + ":" + std::to_string(opt.port) + ": " + reason + " (retrying)");
      attempt_failure = reason;
    }
    refusal = false;
    if (c->ready) {
      log("disconnected from " + opt.host + ":" + std::to_string(opt.port) + ": " + reason);
      LinkEvent ev;
      ev.kind = LinkEvent::Kind::Disconnected;
      ev.epoch = c->epoch;
      ev.reason = reason;
      deliver(std::move(ev));
    }
    if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&c->tcp)))
      uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), on_conn_close);
    if (c == conn) {
      conn = nullptr;
      clear_out();
      uv_timer_stop(&hs_timer);
    }
    schedule_reconnect();
  }

  void schedule_reconnect() {
    if (stopping || gave_up) return;
    if (backoff <= 0) backoff = opt.backoff_min_s;
    uv_timer_start(&reconnect_timer, on_reconnect, static_cast<uint64_t>(backoff * 1e3), 0);
    backoff = std::min(opt.backoff_max_s, backoff * 2);
  }
  static void on_reconnect(uv_timer_t* t) { static_cast<Impl*>(t->data)->start_connect(); }

  void start_connect() {
    if (stopping || gave_up || conn) return;
    sockaddr_storage addr{};
    if (uv_ip4_addr(opt.host.c_str(), opt.port, reinterpret_cast<sockaddr_in*>(&addr)) != 0 &&
        uv_ip6_addr(opt.host.c_str(), opt.port, reinterpret_cast<sockaddr_in6*>(&addr)) != 0) {
      log("invalid server address '" + opt.host + "'");
      gave_up = true;
      LinkEvent ev;
      ev.kind = LinkEvent::Kind::Refused;
      ev.reason = "invalid server address '" + opt.host + "' (an IPv4 or IPv6 address)";
      deliver(std::move(ev));
      return;
    }
    conn = new Conn;
    conn->l = this;
    uv_tcp_init(&loop, &conn->tcp);
    conn->tcp.data = conn;
    auto* req = new uv_connect_t;
    req->data = conn;
    int r = uv_tcp_connect(req, &conn->tcp, reinterpret_cast<sockaddr*>(&addr), on_connect);
    if (r != 0) {
      delete req;
      fail_conn(conn, std::string("connect failed: ") + uv_strerror(r));
    }
  }

  static void on_connect(uv_connect_t* req, int status) {
    Conn* c = static_cast<Conn*>(req->data);
    delete req;
    Impl* l = c->l;
    if (c->dead) return;
    if (status < 0) {
      l->fail_conn(c, std::string("connect failed: ") + uv_strerror(status));
      return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start(reinterpret_cast<uv_stream_t*>(&c->tcp), on_alloc, on_read);
    l->hello_at = l->now_s();
    l->queued += l->hello.size();
    l->enqueue(std::vector<uint8_t>(l->hello));
    uv_timer_start(&l->hs_timer, on_hs_timeout, static_cast<uint64_t>(l->opt.handshake_timeout_s * 1e3), 0);
  }

  static void on_hs_timeout(uv_timer_t* t) {
    Impl* l = static_cast<Impl*>(t->data);
    if (l->conn && !l->conn->ready) l->fail_conn(l->conn, "no handshake answer");
  }

  static void on_alloc(uv_handle_t*, size_t suggested, uv_buf_t* buf) {
    size_t n = std::max<size_t>(suggested, 64 * 1024);
    buf->base = new char[n];
    buf->len = n;
  }

  static void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
    Conn* c = static_cast<Conn*>(s->data);
    std::unique_ptr<char[]> owned(buf->base);
    Impl* l = c->l;
    if (c->dead || nread == 0) return;
    if (nread < 0) {
      l->fail_conn(
          c, nread == UV_EOF ? "server closed the connection" : std::string(uv_strerror(static_cast<int>(nread))));
      return;
    }
    bool ok = c->reader.feed(reinterpret_cast<const uint8_t*>(buf->base), static_cast<size_t>(nread),
                             [l, c](const uint8_t* d, size_t n) { return l->on_message(c, d, n); });
    if (!ok && c->reader.failed()) l->fail_conn(c, "from server: " + c->reader.error());
  }

  bool on_message(Conn* c, const uint8_t* data, size_t size) {
    if (c->dead) return false;
    Decoded d = decode_message(data, size);
    if (!d.ok()) {
      fail_conn(c, "malformed message from server: " + d.error);
      return false;
    }
    wire::Body type = d.message.body.type;
    if (type == wire::Body::Error) {
      const auto* e = d.message.body.AsError();
      const std::string message = peer_text(e->message);
      std::string why = (e->code == wire::ErrorCode::Busy ? "server busy: " : "server error: ") + message;
      if (!c->ready) {
        std::lock_guard<std::mutex> lk(refusal_mu);
        last_refusal = e->code == wire::ErrorCode::Busy ? "server busy: " + message : message;
        refusal = true;
      }
      if (!c->ready && permanent(e->code)) {
        // Not logged: the owner reports the refusal (EdgeClient throws it), one line.
        gave_up = true;
        LinkEvent ev;
        ev.kind = LinkEvent::Kind::Refused;
        ev.reason = message;
        ev.error_code = static_cast<int>(e->code);
        deliver(std::move(ev));
      }
      fail_conn(c, why);
      return false;
    }
    if (!c->ready) {
      if (type != wire::Body::HelloAck) {
        fail_conn(c, std::string("expected HelloAck, got ") + body_name(type));
        return false;
      }
      uv_timer_stop(&hs_timer);
      c->ready = true;
      ever_connected = true;
      {
        std::lock_guard<std::mutex> lk(refusal_mu);
        last_refusal.clear();
      }
      c->epoch = ++epoch;
      backoff = 0;
      attempt_failure.clear();
      LinkEvent ev;
      ev.kind = LinkEvent::Kind::Connected;
      ev.epoch = c->epoch;
      ev.handshake_s = now_s() + opt.rtt_s / 2 - hello_at;
      ev.message = std::move(d.message);
      log("connected to " + opt.host + ":" + std::to_string(opt.port) + " (epoch " + std::to_string(c->epoch) + ")");
      deliver(std::move(ev));
      return true;
    }
    if (type == wire::Body::Bye) {
      fail_conn(c, "server said bye");
      return false;
    }
    if (type != wire::Body::Result && type != wire::Body::Ack) {
      fail_conn(c, std::string("unexpected ") + body_name(type) + " from server");
      return false;
    }
    LinkEvent ev;
    ev.kind = LinkEvent::Kind::Message;
    ev.epoch = c->epoch;
    ev.message = std::move(d.message);
    deliver(std::move(ev));
    return true;
  }

  // ---- send path ---------------------------------------------------------------------------------
  static void on_write(uv_write_t* req, int status) {
    auto* w = reinterpret_cast<WriteReq*>(req);
    Conn* c = static_cast<Conn*>(req->handle->data);
    delete w;
    if (status < 0 && status != UV_ECANCELED && !c->dead)
      c->l->fail_conn(c, std::string("write failed: ") + uv_strerror(status));
  }

  void write_raw(Conn* c, std::shared_ptr<std::vector<uint8_t>> buf, size_t off, size_t len) {
    auto* w = new WriteReq;
    w->buf = std::move(buf);
    uv_buf_t b = uv_buf_init(reinterpret_cast<char*>(w->buf->data() + off), static_cast<unsigned>(len));
    int r = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&c->tcp), &b, 1, on_write);
    if (r != 0) {
      delete w;
      fail_conn(c, std::string("write failed: ") + uv_strerror(r));
    }
  }

  void enqueue(std::vector<uint8_t> frame) {
    auto buf = std::make_shared<std::vector<uint8_t>>(std::move(frame));
    double now = now_s();
    for (size_t off = 0; off < buf->size(); off += opt.chunk_bytes) {
      size_t len = std::min(opt.chunk_bytes, buf->size() - off);
      const double ready = opt.shared ? now + opt.shared->reserve(Clock::now(), len) : bucket.reserve(now, len);
      double rel = ready + opt.rtt_s / 2;
      out.push_back({buf, off, len, rel});
    }
    pump();
  }

  void pump() {
    double now = now_s();
    while (conn && !conn->dead && !out.empty() && out.front().release <= now + 1e-4) {
      Chunk ch = std::move(out.front());
      out.pop_front();
      queued -= ch.len;
      written += ch.len;
      write_raw(conn, ch.buf, ch.off, ch.len);
    }
    if (!out.empty() && conn && !conn->dead)
      uv_timer_start(&shape_timer, on_shape_timer, static_cast<uint64_t>(std::ceil((out.front().release - now) * 1e3)),
                     0);
  }
  static void on_shape_timer(uv_timer_t* t) { static_cast<Impl*>(t->data)->pump(); }

  // ---- commands ----------------------------------------------------------------------------------
  static void on_cmd(uv_async_t* a) {
    Impl* l = static_cast<Impl*>(a->data);
    std::deque<Cmd> list;
    {
      std::lock_guard<std::mutex> lk(l->cmd_mu);
      list.swap(l->cmds);
    }
    for (Cmd& c : list) {
      switch (c.kind) {
        case Cmd::Kind::Send:
          if (!l->stopping && l->conn && l->conn->ready && !l->conn->dead && l->conn->epoch == c.epoch) {
            l->enqueue(std::move(c.frame));
          } else {
            l->queued -= c.frame.size();
          }
          break;
        case Cmd::Kind::Drop:
          if (l->conn && l->conn->ready && l->conn->epoch == c.epoch) l->fail_conn(l->conn, c.reason);
          break;
        case Cmd::Kind::GiveUp:
          l->gave_up = true;
          uv_timer_stop(&l->reconnect_timer);
          break;
        case Cmd::Kind::Stop:
          l->do_stop();
          break;
      }
    }
  }

  static void on_shutdown(uv_shutdown_t* req, int) {
    Conn* c = static_cast<Conn*>(req->handle->data);
    delete req;
    c->l->finish_stop(c);
  }
  // The connection being stopped is closed: after its Bye went out, or when the peer does not take it
  // within a second (stop_timer).
  void finish_stop(Conn* c) {
    if (c && !uv_is_closing(reinterpret_cast<uv_handle_t*>(&c->tcp)))
      uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), on_conn_close);
    closing = nullptr;
    if (!stop_timer_closed) {
      stop_timer_closed = true;
      uv_close(reinterpret_cast<uv_handle_t*>(&stop_timer), nullptr);
    }
  }
  static void on_stop_timer(uv_timer_t* t) {
    Impl* l = static_cast<Impl*>(t->data);
    l->finish_stop(l->closing);
  }

  void do_stop() {
    if (stopping) return;
    stopping = true;
    clear_out();
    if (conn && !conn->dead) {
      Conn* c = conn;
      c->dead = true;
      conn = nullptr;
      uv_read_stop(reinterpret_cast<uv_stream_t*>(&c->tcp));
      if (c->ready) {
        wire::ByeT bye;
        bye.reason = "edge finished";
        auto buf = std::make_shared<std::vector<uint8_t>>(encode_frame(std::move(bye)));
        size_t n = buf->size();
        write_raw(c, std::move(buf), 0, n);
      }
      auto* req = new uv_shutdown_t;
      closing = c;
      if (uv_shutdown(req, reinterpret_cast<uv_stream_t*>(&c->tcp), on_shutdown) != 0) {
        delete req;
        finish_stop(c);
      } else {
        uv_timer_start(&stop_timer, on_stop_timer, 1000, 0);
      }
    }
    if (!closing && !stop_timer_closed) {
      stop_timer_closed = true;
      uv_close(reinterpret_cast<uv_handle_t*>(&stop_timer), nullptr);
    }
    for (uv_timer_t* t : {&reconnect_timer, &shape_timer, &down_timer, &hs_timer})
      uv_close(reinterpret_cast<uv_handle_t*>(t), nullptr);
    // Deliver what is still delayed, so nothing received is lost.
    for (Delayed& d : down) deliver_now(std::move(d.ev));
    down.clear();
    std::lock_guard<std::mutex> lk(cmd_mu);
    cmd_open = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&cmd_async), nullptr);
  }

  void push_cmd(Cmd c) {
    std::lock_guard<std::mutex> lk(cmd_mu);
    if (!cmd_open) {
      if (c.kind == Cmd::Kind::Send) queued -= c.frame.size();
      return;
    }
    cmds.push_back(std::move(c));
    uv_async_send(&cmd_async);
  }
};

Link::Link(LinkOptions opt, std::vector<uint8_t> hello) : impl_(std::make_unique<Impl>()) {
  std::signal(SIGPIPE, SIG_IGN);
  Impl* l = impl_.get();
  l->opt = std::move(opt);
  l->hello = std::move(hello);
  l->bucket = TokenBucket(l->opt.trace);
  uv_loop_init(&l->loop);
  uv_async_init(&l->loop, &l->cmd_async, Impl::on_cmd);
  l->cmd_async.data = l;
  for (uv_timer_t* t : {&l->reconnect_timer, &l->shape_timer, &l->down_timer, &l->hs_timer, &l->stop_timer}) {
    uv_timer_init(&l->loop, t);
    t->data = l;
  }
  l->thread = std::thread([l] {
    l->start_connect();
    uv_run(&l->loop, UV_RUN_DEFAULT);
    l->close_result = uv_loop_close(&l->loop);
  });
}

Link::~Link() { close(); }

int Link::close() {
  Impl* l = impl_.get();
  if (l->joined) return l->close_result;
  Impl::Cmd c;
  c.kind = Impl::Cmd::Kind::Stop;
  l->push_cmd(std::move(c));
  l->thread.join();
  l->joined = true;
  return l->close_result;
}

void Link::send(uint64_t epoch, std::vector<uint8_t> frame) {
  Impl::Cmd c;
  c.kind = Impl::Cmd::Kind::Send;
  c.epoch = epoch;
  impl_->queued += frame.size();
  c.frame = std::move(frame);
  impl_->push_cmd(std::move(c));
}

void Link::drop(uint64_t epoch, const std::string& reason) {
  Impl::Cmd c;
  c.kind = Impl::Cmd::Kind::Drop;
  c.epoch = epoch;
  c.reason = reason;
  impl_->push_cmd(std::move(c));
}

void Link::give_up() {
  Impl::Cmd c;
  c.kind = Impl::Cmd::Kind::GiveUp;
  impl_->push_cmd(std::move(c));
}

bool Link::poll(LinkEvent& ev) {
  std::lock_guard<std::mutex> lk(impl_->ev_mu);
  if (impl_->events.empty()) return false;
  ev = std::move(impl_->events.front());
  impl_->events.pop_front();
  return true;
}

bool Link::wait(LinkEvent& ev, double timeout_s) {
  std::unique_lock<std::mutex> lk(impl_->ev_mu);
  if (!impl_->ev_cv.wait_for(lk, std::chrono::duration<double>(std::max(0.0, timeout_s)),
                             [&] { return !impl_->events.empty(); }))
    return false;
  ev = std::move(impl_->events.front());
  impl_->events.pop_front();
  return true;
}

double Link::now() const { return impl_->now_s(); }
std::string Link::last_refusal() const {
  std::lock_guard<std::mutex> lk(impl_->refusal_mu);
  return impl_->last_refusal;
}
size_t Link::queued_bytes() const { return impl_->queued.load(); }
uint64_t Link::bytes_written() const { return impl_->written.load(); }

}  // namespace fx::net
