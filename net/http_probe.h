// A minimal HTTP/1.x responder on a libuv loop, for `fluxshard serve --metrics ADDR:PORT`: health checks
// and Prometheus scrapes on a port of their own, so that probing the server is never mistaken for (or
// counted as) an edge. Each connection sends one GET request (at most 8 KiB of headers, within 5 s) and
// gets one response, then is closed; anything else gets 400 / 405 / 404.
#pragma once

#include <uv.h>

#include <functional>
#include <string>

namespace fx::net {

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

class HttpProbe {
 public:
  // Called on the loop thread with the request path ("/metrics").
  using Handler = std::function<HttpResponse(const std::string& path)>;

  HttpProbe() = default;
  ~HttpProbe();
  HttpProbe(const HttpProbe&) = delete;
  HttpProbe& operator=(const HttpProbe&) = delete;

  // Binds and listens (host must be a numeric address). Throws fx::Error with one line.
  void start(uv_loop_t* loop, const std::string& host, int port, Handler handler);
  int port() const { return port_; }
  bool started() const { return started_; }
  // Closes the listener and every open probe connection (their handles close on the loop).
  void close();

 private:
  struct Conn;
  static void on_connection(uv_stream_t* server, int status);
  uv_tcp_t listener_{};
  Handler handler_;
  bool started_ = false, closed_ = false;
  int port_ = 0;
  Conn* conns_ = nullptr;  // intrusive list of open connections
  uv_loop_t* loop_ = nullptr;
};

}  // namespace fx::net
