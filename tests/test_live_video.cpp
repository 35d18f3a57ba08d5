// Live input (issue 18, "Live video"): standard input, folders and globs of images, a camera path, a
// network stream that drops and returns, Ctrl-C during `run` (a playable video and the summary line),
// JSON lines flushed per frame, `--json -` holding standard output alone.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <sstream>
#include <thread>

#include "compiler/compile.h"
#include "compiler/onnx_builder.h"
#include "fuzz/media_seeds.h"
#include "runtime/io/video_reader.h"
#include "runtime/io/video_writer.h"
#include "runtime/util/json.h"
#include "test_util.h"

using namespace fx;

namespace {

// A small detect plan (32 x 32) written to `path`.
void save_plan(const std::string& path) {
  OnnxBuilder b(17);
  std::string x = b.input("images", {1, 3, 32, 32});
  std::string y = b.op("Conv", "c", {x, b.initializer("w", {84, 3, 1, 1}, std::vector<float>(252, 0.01f))});
  b.node("Reshape", "r", {y, b.initializer_ints("s", {3}, {1, 84, 1024})}, {}, 1, {"output0"});
  b.output("output0");
  b.metadata("task", "detect");
  std::string m = b.serialize();
  auto bytes = compile_onnx(m.data(), m.size(), "live.onnx");
  test::write_file(path, std::string(bytes.begin(), bytes.end()));
}

// `fluxshard ARGS` with a shell command's output on its standard input.
test::CliResult run_cli_piped(const std::string& producer, const std::vector<std::string>& args) {
  test::TempDir tmp;
  std::string cmd = producer + " | timeout 120 '" + test::cli_path() + "'";
  for (const auto& a : args) cmd += " '" + a + "'";
  cmd += " >'" + tmp.file("out") + "' 2>'" + tmp.file("err") + "'";
  int raw = std::system(cmd.c_str());
  test::CliResult r;
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
  r.out = test::read_file(tmp.file("out"));
  r.err = test::read_file(tmp.file("err"));
  return r;
}

std::vector<JsonValue> json_lines(const std::string& text) {
  std::vector<JsonValue> v;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) v.push_back(JsonValue::parse(line));
  return v;
}

// A one-connection-at-a-time HTTP/1.0 server on loopback: the i-th connection gets segments[i] (then
// the connection closes, as a dropped stream); after the last segment it stops listening.
class SegmentServer {
 public:
  explicit SegmentServer(std::vector<std::string> segments) : segments_(std::move(segments)) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    REQUIRE(listen(fd_, 4) == 0);
    thread_ = std::thread([this] {
      for (const std::string& seg : segments_) {
        int c = accept(fd_, nullptr, nullptr);
        if (c < 0) return;
        std::string req;
        char buf[1024];
        while (req.find("\r\n\r\n") == std::string::npos) {
          ssize_t k = recv(c, buf, sizeof buf, 0);
          if (k <= 0) break;
          req.append(buf, static_cast<size_t>(k));
        }
        std::string resp = "HTTP/1.0 200 OK\r\nContent-Type: video/x-yuv4mpeg\r\n\r\n" + seg;
        for (size_t off = 0; off < resp.size();) {
          ssize_t k = send(c, resp.data() + off, resp.size() - off, MSG_NOSIGNAL);
          if (k <= 0) break;
          off += static_cast<size_t>(k);
        }
        ::close(c);
        ++served_;
      }
      ::close(fd_);  // gone for good: further connects are refused
      fd_ = -1;
    });
  }
  ~SegmentServer() {
    if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/live.y4m"; }
  int served() const { return served_; }

 private:
  std::vector<std::string> segments_;
  int fd_ = -1, port_ = 0;
  std::atomic<int> served_{0};
  std::thread thread_;
};

}  // namespace

TEST_CASE("live: standard input, --json - alone on standard output", "[live]") {
  test::TempDir tmp;
  save_plan(tmp.file("p.fsp"));
  test::write_file(tmp.file("clip.y4m"), fuzz::y4m_stream(64, 48, 6));
  auto r =
      run_cli_piped("cat '" + tmp.file("clip.y4m") + "'", {"run", tmp.file("p.fsp"), "--input", "-", "--json", "-"});
  INFO(r.err);
  REQUIRE(r.status == 0);
  auto v = json_lines(r.out);  // every line of stdout is JSON (the summary text went to stderr)
  REQUIRE(v.size() == 7);
  for (int i = 0; i < 6; ++i) CHECK(v[static_cast<size_t>(i)].at("frame").as_int() == i);
  CHECK(v[6].at("summary").as_bool());
  CHECK(v[6].at("frames").as_int() == 6);
  CHECK(r.err.find("6 frames of -") != std::string::npos);
  // A streamable MP4 (index first) through a pipe; one with its index last says what to do.
  r = run_cli_piped("cat '" + test::source_path("assets/cockatoo.mp4") + "'",
                    {"run", tmp.file("p.fsp"), "--input", "-", "--max-frames", "3", "--quiet"});
  CHECK(r.status == 0);
  r = run_cli_piped("cat '" + test::source_path("assets/bedroom.mp4") + "'",
                    {"run", tmp.file("p.fsp"), "--input", "-", "--quiet"});
  CHECK(r.status == 1);
  CHECK(r.err ==
        "error: standard input is an MP4 whose index (moov) is not at its start, which a pipe cannot reach: remux "
        "it with 'ffmpeg -i IN -c copy -movflags +faststart OUT.mp4' or pipe a stream format (MPEG-TS, Matroska, "
        "Y4M)\n");
  r = run_cli_piped("echo not a video", {"run", tmp.file("p.fsp"), "--input", "-", "--quiet"});
  CHECK(r.status == 1);
  CHECK(r.err.rfind("error: standard input is not a video or image (", 0) == 0);
}

TEST_CASE("live: a folder or glob of images, in natural order; a camera path", "[live]") {
  test::TempDir tmp;
  save_plan(tmp.file("p.fsp"));
  REQUIRE(::mkdir(tmp.file("shots").c_str(), 0755) == 0);
  // f1, f2, f10 (natural order), a BMP among them, a text file that is ignored, a broken PNG counted.
  test::write_file(tmp.file("shots/f10.png"), fuzz::png_image(40, 30));
  test::write_file(tmp.file("shots/f1.png"), fuzz::png_image(24, 16));
  test::write_file(tmp.file("shots/f2.bmp"), fuzz::bmp_image(13, 7));
  test::write_file(tmp.file("shots/f3.png"), fuzz::png_image(24, 16).substr(0, 40));
  test::write_file(tmp.file("shots/notes.txt"), "not an image");
  VideoReader r(tmp.file("shots"));
  CHECK(r.is_image());
  CHECK(r.frame_count_estimate() == 4);
  Frame f;
  std::vector<std::pair<int64_t, int>> got;  // index, width
  while (r.read(f)) got.emplace_back(f.index, f.width);
  CHECK(got == std::vector<std::pair<int64_t, int>>{{0, 24}, {1, 13}, {3, 40}});
  CHECK(r.missing_frames() == 1);
  CHECK(r.decode_errors() == 1);
  VideoReader g(tmp.file("shots/f*.png"));
  got.clear();
  while (g.read(f)) got.emplace_back(f.index, f.width);
  CHECK(got == std::vector<std::pair<int64_t, int>>{{0, 24}, {2, 40}});

  auto run = test::run_cli(
      {"run", tmp.file("p.fsp"), "--input", tmp.file("shots/"), "--json", tmp.file("o.jsonl"), "--quiet"});
  CHECK(run.status == 0);
  CHECK(run.err == "warning: '" + tmp.file("shots/") +
                       "' is damaged: 1 source frame missing (the first is frame 2; frame numbers follow the "
                       "source's timestamps), 1 decoding error\n");
  REQUIRE(::mkdir(tmp.file("empty").c_str(), 0755) == 0);
  auto e = test::run_cli({"run", tmp.file("p.fsp"), "--input", tmp.file("empty")});
  CHECK(e.status == 1);
  CHECK(e.err == "error: folder '" + tmp.file("empty") +
                     "' has no images (.png, .jpg, .jpeg, .bmp, .ppm, .pgm, .tif, .tiff, .webp)\n");
  e = test::run_cli({"run", tmp.file("p.fsp"), "--input", tmp.file("shots/*.jpg")});
  CHECK(e.status == 1);
  CHECK(e.err == "error: no file matches '" + tmp.file("shots/*.jpg") + "'\n");
  e = test::run_cli({"run", tmp.file("p.fsp"), "--input", tmp.file("shots/*.txt")});  // matches, not images
  CHECK(e.status == 1);
  CHECK(e.err == "error: no image matches '" + tmp.file("shots/*.txt") +
                     "' (.png, .jpg, .jpeg, .bmp, .ppm, .pgm, .tif, .tiff, .webp)\n");
  e = test::run_cli({"run", tmp.file("p.fsp"), "--input", "/dev/video99"});
  CHECK(e.status == 1);
  CHECK(e.err == "error: cannot open camera '/dev/video99': No such file or directory\n");
}

TEST_CASE("live: a network stream that drops is reopened and its frames continue", "[live]") {
  const int w = 32, h = 16;
  // Two connections' worth of frames (each a whole Y4M stream), then the server is gone.
  SegmentServer server({fuzz::y4m_stream(w, h, 5), fuzz::y4m_stream(w, h, 4)});
  VideoReaderOptions o;
  o.reconnect_s = 1.5;
  auto t0 = std::chrono::steady_clock::now();
  VideoReader r(server.url(), o);
  CHECK(r.is_live());
  Frame f;
  std::vector<int64_t> index;
  std::vector<double> time;
  while (r.read(f)) {
    index.push_back(f.index);
    time.push_back(f.time_s);
  }
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(server.served() == 2);
  CHECK(r.reconnects() == 1);
  CHECK(index == std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8});
  for (size_t i = 1; i < time.size(); ++i) CHECK(time[i] == Approx(time[i - 1] + 0.04).margin(1e-6));  // F25:1
  // It gave up about reconnect_s after the second drop (backoff 0.25 s, 0.5 s, ...).
  CHECK(took > 1.5);
  CHECK(took < 6);
}

TEST_CASE("live: Ctrl-C during run leaves a playable video, the summary line and every JSON line", "[live]") {
  test::TempDir tmp;
  save_plan(tmp.file("p.fsp"));
  // `run` reads an endless Y4M stream from a pipe: only the signal can end it.
  int in[2];
  REQUIRE(pipe(in) == 0);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(in[0], STDIN_FILENO);
    ::close(in[0]);
    ::close(in[1]);
    if (!freopen(tmp.file("out").c_str(), "w", stdout) || !freopen(tmp.file("err").c_str(), "w", stderr)) _exit(127);
    std::string bin = test::cli_path(), plan = tmp.file("p.fsp"), json = tmp.file("o.jsonl"),
                video = tmp.file("annotated.mp4");
    execl(bin.c_str(), bin.c_str(), "run", plan.c_str(), "--input", "-", "--json", json.c_str(), "--annotate",
          video.c_str(), "--threads", "1", static_cast<char*>(nullptr));
    _exit(127);
  }
  ::close(in[0]);
  signal(SIGPIPE, SIG_IGN);
  const std::string stream = fuzz::y4m_stream(64, 48, 400);
  const size_t header = stream.find('\n') + 1, frame_bytes = 6 + 64 * 48 * 3 / 2;
  REQUIRE(write(in[1], stream.data(), header) == static_cast<ssize_t>(header));
  // Frames go in one at a time until the JSON file shows 8 lines: they are flushed as they are made.
  size_t sent = 0, lines = 0;
  auto t0 = std::chrono::steady_clock::now();
  while (lines < 8 && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(60)) {
    if (sent < 400) {
      const char* p = stream.data() + header + sent * frame_bytes;
      REQUIRE(write(in[1], p, frame_bytes) == static_cast<ssize_t>(frame_bytes));
      ++sent;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::string j = test::read_file(tmp.file("o.jsonl"));
    lines = static_cast<size_t>(std::count(j.begin(), j.end(), '\n'));
  }
  REQUIRE(lines >= 8);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // blocked in a read of the pipe
  kill(pid, SIGINT);
  int st = 0;
  waitpid(pid, &st, 0);
  ::close(in[1]);
  REQUIRE(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) == 0);
  std::string err = test::read_file(tmp.file("err"));
  INFO(err);
  auto v = json_lines(test::read_file(tmp.file("o.jsonl")));
  REQUIRE(v.size() >= 9);
  const JsonValue& summary = v.back();
  CHECK(summary.at("summary").as_bool());
  CHECK(summary.at("stopped_by").as_string() == "SIGINT");
  const int64_t frames = summary.at("frames").as_int();
  CHECK(frames == static_cast<int64_t>(v.size() - 1));
  CHECK(err.find("run: stopped by SIGINT after " + std::to_string(frames) + " frames\n") != std::string::npos);
  std::string out = test::read_file(tmp.file("out"));
  CHECK(out.find(std::to_string(frames) + " frames of -") != std::string::npos);
  CHECK(out.find("annotated video: " + tmp.file("annotated.mp4") + " (" + std::to_string(frames) + " frames") !=
        std::string::npos);
  // The annotated MP4 is finalised: our reader opens it and finds every frame.
  VideoReader rd(tmp.file("annotated.mp4"));
  Frame f;
  int64_t n = 0;
  while (rd.read(f)) ++n;
  CHECK(n == frames);
}
