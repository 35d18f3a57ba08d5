// Helpers shared by the edge-cloud tests (tests/test_net_*.cpp): a tiny detect network and synthetic
// clips (so the tests stay fast), an in-process server on its own thread, a `fluxshard serve` child
// process that can be killed, raw client sockets for malformed input, and a local exact reference run.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "compiler/compile.h"
#include "compiler/onnx_builder.h"
#include "net/hash.h"
#include "net/server.h"
#include "net/wire.h"
#include "runtime/io/video_reader.h"
#include "runtime/io/video_writer.h"
#include "runtime/plan.h"
#include "runtime/session.h"
#include "test_util.h"

namespace fx::test {

// A small YOLO-shaped detect network on a size x size input: four stride-2 3x3 convolutions (SiLU), a
// 1x1 head with 4 box rows (scaled into the input's pixel range) and 3 class rows (sigmoid), flattened
// to output0 [1, 7, (size/16)^2].
inline std::string tiny_detect_onnx(int size = 128) {
  OnnxBuilder b(17);
  unsigned seed = 11;
  auto rnd = [&](size_t n, float scale) {
    std::mt19937 r(seed++);
    std::uniform_real_distribution<float> d(-scale, scale);
    std::vector<float> v(n);
    for (auto& x : v) x = d(r);
    return v;
  };
  std::string x = b.input("images", {1, 3, size, size});
  auto conv = [&](const std::string& n, const std::string& in, int cin, int cout, int k, int s, bool act) {
    std::string y =
        b.op("Conv", n,
             {in,
              b.initializer(n + ".w", {cout, cin, k, k},
                            rnd(static_cast<size_t>(cout * cin * k * k), 1.7f / std::sqrt(float(cin * k * k)))),
              b.initializer(n + ".b", {cout}, rnd(static_cast<size_t>(cout), 0.1f))},
             {OnnxAttr::integers("pads", {k / 2, k / 2, k / 2, k / 2}), OnnxAttr::integers("strides", {s, s})});
    return act ? b.op("Mul", n + ".silu", {y, b.op("Sigmoid", n + ".sig", {y})}) : y;
  };
  std::string c = conv("c0", x, 3, 8, 3, 2, true);
  c = conv("c1", c, 8, 16, 3, 2, true);
  c = conv("c2", c, 16, 16, 3, 2, true);
  c = conv("c3", c, 16, 32, 3, 2, true);
  std::string head = conv("head", c, 32, 7, 1, 1, false);
  const int cells = (size / 16) * (size / 16);
  std::string flat = b.op("Reshape", "flat", {head, b.initializer_ints("fs", {3}, {1, 7, cells})});
  auto parts =
      b.node("Split", "split", {flat, b.initializer_ints("sz", {2}, {4, 3})}, {OnnxAttr::integer("axis", 1)}, 2);
  std::string boxes = b.op("Add", "box.off",
                           {b.op("Mul", "box.scale", {parts[0], b.initializer("bs", {}, {float(size) / 8})}),
                            b.initializer("bo", {}, {float(size) / 2})});
  b.node("Concat", "out", {boxes, b.op("Sigmoid", "cls", {parts[1]})}, {OnnxAttr::integer("axis", 1)}, 1, {"output0"});
  b.output("output0");
  b.metadata("task", "detect");
  return b.serialize();
}

inline std::shared_ptr<const Plan> tiny_plan(int size = 128) {
  std::string m = tiny_detect_onnx(size);
  auto bytes = compile_onnx(m.data(), m.size(), "tiny.onnx");
  return Plan::from_bytes(bytes.data(), bytes.size(), "tiny.fsp");
}

inline void save_tiny_plan(const std::string& path, int size = 128) {
  std::string m = tiny_detect_onnx(size);
  auto bytes = compile_onnx(m.data(), m.size(), "tiny.onnx");
  write_file(path, std::string(bytes.begin(), bytes.end()));
}

// A clip of w x h frames: a textured background panning by a few pixels per frame and two bright
// squares moving on it (so there are moved blocks, fresh blocks and static ones).
inline void write_clip(const std::string& path, int frames, unsigned seed, int w = 128, int h = 96) {
  std::mt19937 r(seed);
  const int bw = w + 64, bh = h + 64;
  std::vector<uint8_t> bg(static_cast<size_t>(bw) * bh * 3);
  float f1 = 0.05f + (r() % 50) * 0.002f, f2 = 0.03f + (r() % 50) * 0.002f;
  for (int y = 0; y < bh; ++y)
    for (int x = 0; x < bw; ++x)
      for (int c = 0; c < 3; ++c) {
        float v = 120 + 50 * std::sin(f1 * x * (c + 1) + f2 * y) + 30 * std::cos(0.09f * y - 0.05f * x * c);
        bg[(static_cast<size_t>(y) * bw + x) * 3 + c] = static_cast<uint8_t>(std::clamp(v, 0.f, 255.f));
      }
  VideoWriterOptions vo;
  vo.gop = 30;
  VideoWriter wr(path, w, h, 25.0, vo);
  std::vector<uint8_t> img(static_cast<size_t>(w) * h * 3);
  int sx = static_cast<int>(r() % 40), sy = static_cast<int>(r() % 30);
  for (int t = 0; t < frames; ++t) {
    int ox = (t * 2) % 64, oy = (t / 3) % 64;  // pan
    if ((t / 40) % 2) ox = 63 - ox;
    for (int y = 0; y < h; ++y)
      std::memcpy(&img[static_cast<size_t>(y) * w * 3], &bg[(static_cast<size_t>(y + oy) * bw + ox) * 3],
                  static_cast<size_t>(w) * 3);
    for (int k = 0; k < 2; ++k) {
      int x0 = (sx + t * (3 + k) + k * 50) % (w - 24), y0 = (sy + t * (1 + k)) % (h - 24);
      for (int y = y0; y < y0 + 24; ++y)
        for (int x = x0; x < x0 + 24; ++x) {
          uint8_t* p = &img[(static_cast<size_t>(y) * w + x) * 3];
          p[0] = static_cast<uint8_t>(220 - 60 * k), p[1] = static_cast<uint8_t>(40 + 100 * k),
          p[2] = static_cast<uint8_t>(60 + (x * 7 + y * 3) % 50);
        }
    }
    wr.write(img.data());
  }
  wr.close();
}

inline std::vector<Frame> read_clip(const std::string& path, int max_frames = 1 << 30) {
  VideoReader rd(path);
  std::vector<Frame> out;
  Frame f;
  while (static_cast<int>(out.size()) < max_frames && rd.read(f)) out.push_back(f);
  return out;
}

// What a local run gives per frame: the hash of the raw outputs and the detections (source pixels).
struct LocalFrame {
  uint64_t hash = 0;
  std::vector<Detection> dets;
  std::vector<Mask> masks;
};

inline std::vector<LocalFrame> local_run(std::shared_ptr<const Plan> plan, const std::vector<Frame>& frames,
                                         SessionMode mode, int threads = 1) {
  auto pool = std::make_shared<ThreadPool>(threads);
  SessionOptions o;
  o.mode = mode;
  StreamSession s(plan, pool, o);
  std::vector<LocalFrame> out;
  for (const Frame& f : frames) {
    const FrameResult& r = s.process(f);
    std::vector<const float*> outs;
    for (size_t i = 0; i < plan->outputs().size(); ++i) outs.push_back(s.output_data(i));
    out.push_back({net::hash_outputs(*plan, outs.data()), r.detections, r.masks});
  }
  return out;
}

inline bool same_detections(const std::vector<Detection>& a, const std::vector<Detection>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].cls != b[i].cls || std::memcmp(&a[i].score, &b[i].score, 4) || std::memcmp(a[i].box, b[i].box, 16))
      return false;
  return true;
}

// A Hello the server admits for `plan` (block 16, raw codec, exact mode), with `token`.
inline net::wire::HelloT hello_for(const Plan& plan, const std::string& token = "") {
  net::wire::HelloT h;
  h.protocol_version = net::kProtocolVersion;
  h.plan_hash = plan.hash();
  h.input_w = plan.input_w();
  h.input_h = plan.input_h();
  h.block = 16;
  h.token.assign(token.begin(), token.end());
  return h;
}

// The server on its own thread; its log lines are kept.
class ServerThread {
 public:
  ServerThread(std::shared_ptr<const Plan> plan, net::ServerOptions o) {
    o.host = "127.0.0.1";
    o.port = 0;
    if (o.profile.empty()) o.profile = {{0, 0.2}, {64, 2.0}};
    o.log = [this](const std::string& s) {
      std::lock_guard<std::mutex> lk(mu_);
      log_.push_back(s);
    };
    server_ = std::make_unique<net::Server>(plan, o);
    server_->start();
    thread_ = std::thread([this] { loop_close_ = server_->run(); });
  }
  ~ServerThread() { stop(); }
  int port() const { return server_->port(); }
  std::string address() const { return "127.0.0.1:" + std::to_string(port()); }
  net::Server& server() { return *server_; }
  // Stops the server; returns uv_loop_close()'s result.
  int stop() {
    if (thread_.joinable()) {
      server_->stop();
      thread_.join();
    }
    return loop_close_;
  }
  std::vector<std::string> log() {
    std::lock_guard<std::mutex> lk(mu_);
    return log_;
  }
  bool log_contains(const std::string& s) {
    for (const auto& l : log())
      if (l.find(s) != std::string::npos) return true;
    return false;
  }

 private:
  std::unique_ptr<net::Server> server_;
  std::thread thread_;
  int loop_close_ = -1;
  std::mutex mu_;
  std::vector<std::string> log_;
};

// `fluxshard ARGS` as a child process (stdout / stderr to files).
class Child {
 public:
  Child(const std::vector<std::string>& args, const std::string& out, const std::string& err) {
    pid_ = fork();
    if (pid_ == 0) {
      if (!freopen(out.c_str(), "w", stdout) || !freopen(err.c_str(), "w", stderr)) _exit(127);
      std::vector<char*> argv;
      std::string bin = cli_path();
      argv.push_back(const_cast<char*>(bin.c_str()));
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(bin.c_str(), argv.data());
      _exit(127);
    }
  }
  ~Child() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  void kill_now(int sig = SIGKILL) {
    if (pid_ > 0) {
      kill(pid_, sig);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }
  int wait() {
    int st = 0;
    if (pid_ > 0) waitpid(pid_, &st, 0);
    pid_ = -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
};

// Waits until `path` holds a line (a port file), up to timeout_s; returns its number or -1.
inline int wait_port_file(const std::string& path, double timeout_s) {
  auto t0 = std::chrono::steady_clock::now();
  while (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < timeout_s) {
    std::string s = read_file(path);
    if (!s.empty() && s.back() == '\n') return std::atoi(s.c_str());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return -1;
}

// A blocking client socket for malformed input.
class RawClient {
 public:
  explicit RawClient(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok_ = fd_ >= 0 && connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~RawClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool ok() const { return ok_; }
  bool send_all(const void* data, size_t n) {
    const char* p = static_cast<const char*>(data);
    while (n > 0) {
      ssize_t k = ::send(fd_, p, n, MSG_NOSIGNAL);
      if (k <= 0) return false;
      p += k, n -= static_cast<size_t>(k);
    }
    return true;
  }
  bool send_all(const std::vector<uint8_t>& v) { return send_all(v.data(), v.size()); }
  void shutdown_write() { ::shutdown(fd_, SHUT_WR); }
  // Reads until the peer closes (true) or timeout_s passes (false); `got` receives the bytes.
  bool wait_closed(double timeout_s, std::vector<uint8_t>* got = nullptr) {
    auto t0 = std::chrono::steady_clock::now();
    for (;;) {
      double left = timeout_s - std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (left <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      int r = poll(&p, 1, static_cast<int>(left * 1000) + 1);
      if (r <= 0) continue;
      char buf[4096];
      ssize_t k = ::recv(fd_, buf, sizeof buf, 0);
      if (k <= 0) return true;
      if (got) got->insert(got->end(), buf, buf + k);
    }
  }

 private:
  int fd_ = -1;
  bool ok_ = false;
};

}  // namespace fx::test
