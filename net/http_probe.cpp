#include "net/http_probe.h"

#include <cstring>

#include "runtime/error.h"

namespace fx::net {

namespace {
constexpr size_t kMaxRequest = 8 * 1024;
constexpr uint64_t kRequestTimeoutMs = 5000;

const char* reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 503:
      return "Service Unavailable";
    default:
      return "Error";
  }
}
}  // namespace

struct HttpProbe::Conn {
  uv_tcp_t tcp;
  uv_timer_t timer;
  HttpProbe* probe = nullptr;
  Conn *prev = nullptr, *next = nullptr;
  std::string request, response;
  uv_write_t write;
  int handles = 0;  // tcp + timer still open
  bool done = false;

  void unlink() {
    if (prev)
      prev->next = next;
    else if (probe->conns_ == this)
      probe->conns_ = next;
    if (next) next->prev = prev;
    prev = next = nullptr;
  }
  static void on_closed(uv_handle_t* h) {
    Conn* c = static_cast<Conn*>(h->data);
    if (--c->handles == 0) delete c;
  }
  void finish() {
    if (done) return;
    done = true;
    unlink();
    uv_timer_stop(&timer);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer), on_closed);
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp), on_closed);
  }
  void respond(const HttpResponse& r) {
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp));
    response = "HTTP/1.1 " + std::to_string(r.status) + " " + reason(r.status) + "\r\nContent-Type: " + r.content_type +
               "\r\nContent-Length: " + std::to_string(r.body.size()) + "\r\nConnection: close\r\n\r\n" + r.body;
    uv_buf_t b = uv_buf_init(response.data(), static_cast<unsigned>(response.size()));
    write.data = this;
    if (uv_write(&write, reinterpret_cast<uv_stream_t*>(&tcp), &b, 1,
                 [](uv_write_t* w, int) { static_cast<Conn*>(w->data)->finish(); }) != 0)
      finish();
  }
  void on_request() {
    // "GET /path HTTP/1.1"
    size_t line_end = request.find("\r\n");
    std::string line = request.substr(0, line_end);
    size_t sp1 = line.find(' '), sp2 = line.rfind(' ');
    if (sp1 == std::string::npos || sp2 == sp1 || line.compare(sp2 + 1, 5, "HTTP/") != 0)
      return respond({400, "text/plain; charset=utf-8", "bad request\n"});
    if (line.compare(0, sp1, "GET") != 0) return respond({405, "text/plain; charset=utf-8", "only GET\n"});
    std::string path = line.substr(sp1 + 1, sp2 - sp1 - 1);
    if (size_t q = path.find('?'); q != std::string::npos) path.resize(q);
    respond(probe->handler_(path));
  }
};

HttpProbe::~HttpProbe() { close(); }

void HttpProbe::start(uv_loop_t* loop, const std::string& host, int port, Handler handler) {
  loop_ = loop;
  handler_ = std::move(handler);
  sockaddr_storage addr{};
  if (uv_ip4_addr(host.c_str(), port, reinterpret_cast<sockaddr_in*>(&addr)) != 0 &&
      uv_ip6_addr(host.c_str(), port, reinterpret_cast<sockaddr_in6*>(&addr)) != 0)
    throw Error("cannot listen for metrics on '" + host + "': not an IPv4 or IPv6 address");
  uv_tcp_init(loop, &listener_);
  listener_.data = this;
  started_ = true;
  int r = uv_tcp_bind(&listener_, reinterpret_cast<sockaddr*>(&addr), 0);
  if (r == 0) r = uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), 64, on_connection);
  if (r != 0) {
    close();
    throw Error("cannot listen for metrics on " + host + ":" + std::to_string(port) + ": " + uv_strerror(r));
  }
  sockaddr_storage bound{};
  int len = sizeof bound;
  uv_tcp_getsockname(&listener_, reinterpret_cast<sockaddr*>(&bound), &len);
  port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                            : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
}

void HttpProbe::on_connection(uv_stream_t* server, int status) {
  HttpProbe* p = static_cast<HttpProbe*>(server->data);
  if (status < 0 || p->closed_) return;
  Conn* c = new Conn;
  c->probe = p;
  uv_tcp_init(p->loop_, &c->tcp);
  uv_timer_init(p->loop_, &c->timer);
  c->tcp.data = c->timer.data = c;
  c->handles = 2;
  c->next = p->conns_;
  if (p->conns_) p->conns_->prev = c;
  p->conns_ = c;
  if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) return c->finish();
  uv_timer_start(
      &c->timer, [](uv_timer_t* t) { static_cast<Conn*>(t->data)->finish(); }, kRequestTimeoutMs, 0);
  uv_read_start(
      reinterpret_cast<uv_stream_t*>(&c->tcp),
      [](uv_handle_t*, size_t, uv_buf_t* buf) {
        static char chunk[4096];  // the loop is single-threaded; the bytes are copied at once
        *buf = uv_buf_init(chunk, sizeof chunk);
      },
      [](uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
        Conn* c = static_cast<Conn*>(s->data);
        if (c->done) return;
        if (n < 0) return c->finish();
        c->request.append(buf->base, static_cast<size_t>(n));
        if (c->request.find("\r\n\r\n") != std::string::npos) return c->on_request();
        if (c->request.size() > kMaxRequest) c->respond({400, "text/plain; charset=utf-8", "request too large\n"});
      });
}

void HttpProbe::close() {
  if (!started_ || closed_) return;
  closed_ = true;
  while (conns_) conns_->finish();
  uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
}

}  // namespace fx::net
