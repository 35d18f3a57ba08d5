// The backend seam (runtime/backend.h) and the method on the GPU.
//
// Host (every build):
//  - backend conformance, ggml test-backend-ops style: every data primitive of the feature cache
//    (copy_map, copy_runs, move_in_place, gather, keep_close, write_image, scatter_planar) on the CPU
//    backend against a naive reference written here, on random channel-slice views of wider buffers,
//    with guard values around every view (nothing outside it may change);
//  - the device kernels' index arithmetic replayed on the host (locate_run over random run lists).
// GPU ([gpu], Skipped without a device):
//  - the same primitives on the CUDA backend equal the CPU backend's results bit for bit;
//  - a CUDA sparse session equals the CPU sparse session bit for bit, every cached map after every frame
//    and the outputs, in exact and in fluxshard mode, on sequences made from real frames (pans by
//    multiples of the strides and not, edits, a cut);
//  - fp16: detections F1 >= 0.98 against the CPU fp32 session;
//  - the per-op CPU fallback (BackendOptions::cpu_ops) runs dense and sparse and matches the CPU;
//  - sessions sharing one device (one set of weights, a stream each) interleaved equal sessions alone.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <random>

#include "compiled_model.h"
#include "cuda_test_util.h"
#include "golden_format.h"
#include "real_sequence.h"
#include "ops/cache/cache_ops.h"
#include "runtime/backend.h"
#include "runtime/io/letterbox.h"
#include "runtime/io/video_reader.h"
#include "runtime/post/metrics.h"
#include "runtime/session.h"
#include "test_util.h"

using namespace fx;

namespace {

std::shared_ptr<const Plan> plan_of(const std::string& model) {
  return test::compiled_model(test::source_path("assets/" + model)).plan;
}

BackendOptions backend_opt(const std::string& kind, Precision p = Precision::FP32) {
  BackendOptions o;
  o.kind = kind;
  o.precision = p;
  o.threads = 2;
  return o;
}

// A map in backend storage: a channel slice [off, off + c) of a buffer of `wide` channels, with `guard`
// floats before and after the buffer; host-side mirror for setting and checking.
struct Stored {
  Backend& be;
  int h, w, c, wide, off;
  size_t guard = 64;
  float* mem = nullptr;
  std::vector<float> host;  // the whole allocation: guard + h * w * wide + guard
  Stored(Backend& b, int h_, int w_, int c_, int wide_, int off_, uint32_t seed)
      : be(b), h(h_), w(w_), c(c_), wide(wide_), off(off_) {
    host.resize(guard * 2 + static_cast<size_t>(h) * w * wide);
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-2.f, 2.f);
    for (float& v : host) v = u(rng);
    mem = be.alloc(host.size());
    be.upload(mem, host.data(), host.size());
  }
  ~Stored() { be.release(mem); }
  MapView view() const { return {mem + guard + off, h, w, c, wide}; }
  std::vector<float> read() const {
    std::vector<float> out(host.size());
    be.download(out.data(), mem, out.size());
    return out;
  }
  // Index in `host` of (y, x, ch) of the view.
  size_t at(int y, int x, int ch) const { return guard + (static_cast<size_t>(y) * w + x) * wide + off + ch; }
};

std::vector<Span> random_spans(std::mt19937& rng, int h, int w) {
  std::vector<Span> spans;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w;) {
      const int len = 1 + static_cast<int>(rng() % 5);
      if (rng() % 3 == 0) spans.push_back({y, x, std::min(w, x + len)});
      x += len + static_cast<int>(rng() % 4);
    }
  return spans;
}

// Random runs inside an h x w map whose sources are inside it too.
std::vector<CopyRun> random_runs(std::mt19937& rng, int h, int w, int n) {
  std::vector<CopyRun> runs;
  for (int i = 0; i < n; ++i) {
    const int len = 1 + static_cast<int>(rng() % std::min(6, w));
    const int x0 = static_cast<int>(rng() % (w - len + 1)), sx = static_cast<int>(rng() % (w - len + 1));
    runs.push_back({static_cast<int>(rng() % h), x0, x0 + len, static_cast<int>(rng() % h), sx});
  }
  return runs;
}

// Runs whose destinations do not overlap (as the sparse executor's are: one run per labelled span).
std::vector<CopyRun> disjoint_runs(std::mt19937& rng, int h, int w) {
  std::vector<CopyRun> runs;
  for (const Span& s : random_spans(rng, h, w)) {
    const int len = s.x1 - s.x0;
    runs.push_back({s.y, s.x0, s.x1, static_cast<int>(rng() % h), static_cast<int>(rng() % (w - len + 1))});
  }
  return runs;
}

// Every primitive once on `be`, on inputs made from `seed`; returns the storage of every map after it
// (the results and the guards), for comparison with another backend or the reference.
std::vector<std::vector<float>> exercise(Backend& be, uint32_t seed) {
  std::mt19937 rng(seed);
  const int h = 7 + static_cast<int>(rng() % 9), w = 5 + static_cast<int>(rng() % 13), c = 1 + static_cast<int>(rng() % 40);
  const int wide = c + static_cast<int>(rng() % 9), off = static_cast<int>(rng() % (wide - c + 1));
  be.reserve({static_cast<int64_t>(h) * w, static_cast<int64_t>(h) * w * c});
  std::vector<std::vector<float>> out;
  {  // copy_map
    Stored a(be, h, w, c, wide, off, seed + 1), b(be, h, w, c, wide, off, seed + 2);
    be.copy_map(a.view(), b.view());
    out.push_back(b.read());
  }
  {  // copy_runs
    Stored a(be, h, w, c, wide, off, seed + 3), b(be, h, w, c, wide, off, seed + 4);
    const auto runs = disjoint_runs(rng, h, w);
    be.copy_runs(a.view(), b.view(), runs.data(), runs.size());
    out.push_back(b.read());
  }
  {  // move_in_place: sources overlap destinations
    Stored a(be, h, w, c, wide, off, seed + 5);
    const auto runs = disjoint_runs(rng, h, w);
    int64_t floats = 0;
    for (const CopyRun& r : runs) floats += static_cast<int64_t>(r.x1 - r.x0) * c;
    be.move_in_place(a.view(), runs.data(), runs.size(), floats);
    out.push_back(a.read());
  }
  {  // gather
    Stored a(be, h, w, c, wide, off, seed + 6);
    const auto spans = random_spans(rng, h, w);
    const SpanList list = make_span_list(spans);
    float* scratch = be.alloc(static_cast<size_t>(std::max<int64_t>(list.positions * c, 1)));
    be.gather(a.view(), list, scratch);
    std::vector<float> s(static_cast<size_t>(list.positions * c));
    be.download(s.data(), scratch, s.size());
    be.release(scratch);
    out.push_back(s);
  }
  {  // keep_close: bit equality (eps 0), thresholds, NaN, several candidates
    Stored now(be, h, w, c, wide, off, seed + 7), before(be, h, w, c, wide, off, seed + 8);
    // Make some `before` positions equal / close to `now` so that candidates are kept.
    std::vector<float> nh = now.host, bh = before.host;
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        const int kind = static_cast<int>(rng() % 4);
        for (int ch = 0; ch < c; ++ch) {
          float& b = bh[before.at(y, x, ch)];
          const float n = nh[now.at(y, x, ch)];
          if (kind == 0) b = n;
          else if (kind == 1) b = n + 1e-3f;
          else if (kind == 2 && ch == 0) b = std::numeric_limits<float>::quiet_NaN();
        }
      }
    be.upload(before.mem, bh.data(), bh.size());
    const auto spans = random_spans(rng, h, w);
    const SpanList list = make_span_list(spans);
    const int ncand = 3;
    std::vector<KeepCandidate> table;
    int64_t k = 0;
    for (const Span& s : spans)
      for (int x = s.x0; x < s.x1; ++x, ++k)
        for (int cand = 0; cand < ncand; ++cand) {
          const int32_t src = rng() % 5 == 0 ? -1 : static_cast<int32_t>(rng() % (h * w));
          const float eps = cand == 0 ? 0.f : (cand == 1 ? 2e-3f : 5e-4f);
          table.push_back({cand == 2 ? static_cast<int32_t>(s.y * w + x) : src, eps});
        }
    std::vector<int8_t> choice(static_cast<size_t>(list.positions), 99);
    be.keep_close(now.view(), list, before.view(), table.data(), ncand, choice.data());
    out.push_back(now.read());
    out.emplace_back(choice.begin(), choice.end());
  }
  {  // write_image
    Stored m(be, h, w, 3, 3 + (wide - c), 0, seed + 9);
    std::vector<uint8_t> rgb(static_cast<size_t>(h) * w * 3);
    for (uint8_t& v : rgb) v = static_cast<uint8_t>(rng());
    const auto spans = random_spans(rng, h, w);
    be.write_image(m.view(), rgb.data(), w, make_span_list(spans));
    out.push_back(m.read());
  }
  {  // scatter_planar
    Stored m(be, h, w, c, wide, off, seed + 10);
    std::vector<float> planar_host(static_cast<size_t>(h) * w * c + 2 * 64, 7.f);
    float* planar = be.alloc(planar_host.size());
    be.upload(planar, planar_host.data(), planar_host.size());
    std::vector<int64_t> pos;
    for (int64_t p = 0; p < static_cast<int64_t>(h) * w; ++p)
      if (rng() % 3 == 0) pos.push_back(p);
    be.scatter_planar(m.view(), pos.data(), pos.size(), planar + 64);
    be.download(planar_host.data(), planar, planar_host.size());
    be.release(planar);
    out.push_back(planar_host);
  }
  be.synchronize();
  return out;
}

// The reference semantics of runtime/backend.h, written out naively on host copies.
std::vector<std::vector<float>> reference(uint32_t seed, Backend& host_be) {
  // Same inputs as exercise(): replay its random choices on plain host memory.
  std::mt19937 rng(seed);
  const int h = 7 + static_cast<int>(rng() % 9), w = 5 + static_cast<int>(rng() % 13), c = 1 + static_cast<int>(rng() % 40);
  const int wide = c + static_cast<int>(rng() % 9), off = static_cast<int>(rng() % (wide - c + 1));
  std::vector<std::vector<float>> out;
  auto host_of = [&](uint32_t s, int cc, int wd, int of) {
    Stored tmp(host_be, h, w, cc, wd, of, s);
    return std::make_pair(tmp.host, std::vector<size_t>{tmp.guard});
  };
  auto at = [&](int y, int x, int ch, int wd, int of) { return 64 + (static_cast<size_t>(y) * w + x) * wd + of + ch; };
  {
    auto a = host_of(seed + 1, c, wide, off).first, b = host_of(seed + 2, c, wide, off).first;
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        for (int ch = 0; ch < c; ++ch) b[at(y, x, ch, wide, off)] = a[at(y, x, ch, wide, off)];
    out.push_back(b);
  }
  {
    auto a = host_of(seed + 3, c, wide, off).first, b = host_of(seed + 4, c, wide, off).first;
    for (const CopyRun& r : disjoint_runs(rng, h, w))
      for (int k = 0; k < r.x1 - r.x0; ++k)
        for (int ch = 0; ch < c; ++ch) b[at(r.y, r.x0 + k, ch, wide, off)] = a[at(r.sy, r.sx + k, ch, wide, off)];
    out.push_back(b);
  }
  {
    auto a = host_of(seed + 5, c, wide, off).first;
    const auto before = a;
    for (const CopyRun& r : disjoint_runs(rng, h, w))
      for (int k = 0; k < r.x1 - r.x0; ++k)
        for (int ch = 0; ch < c; ++ch) a[at(r.y, r.x0 + k, ch, wide, off)] = before[at(r.sy, r.sx + k, ch, wide, off)];
    out.push_back(a);
  }
  {
    auto a = host_of(seed + 6, c, wide, off).first;
    std::vector<float> s;
    for (const Span& sp : random_spans(rng, h, w))
      for (int x = sp.x0; x < sp.x1; ++x)
        for (int ch = 0; ch < c; ++ch) s.push_back(a[at(sp.y, x, ch, wide, off)]);
    out.push_back(s);
  }
  {
    auto nh = host_of(seed + 7, c, wide, off).first, bh = host_of(seed + 8, c, wide, off).first;
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        const int kind = static_cast<int>(rng() % 4);
        for (int ch = 0; ch < c; ++ch) {
          float& b = bh[at(y, x, ch, wide, off)];
          const float n = nh[at(y, x, ch, wide, off)];
          if (kind == 0) b = n;
          else if (kind == 1) b = n + 1e-3f;
          else if (kind == 2 && ch == 0) b = std::numeric_limits<float>::quiet_NaN();
        }
      }
    std::vector<float> choice;
    for (const Span& s : random_spans(rng, h, w))
      for (int x = s.x0; x < s.x1; ++x) {
        KeepCandidate cands[3];
        for (int cand = 0; cand < 3; ++cand) {
          const int32_t src = rng() % 5 == 0 ? -1 : static_cast<int32_t>(rng() % (h * w));
          cands[cand] = {cand == 2 ? static_cast<int32_t>(s.y * w + x) : src, cand == 0 ? 0.f : (cand == 1 ? 2e-3f : 5e-4f)};
        }
        int chosen = -1;
        for (int cand = 0; cand < 3 && chosen < 0; ++cand) {
          if (cands[cand].src < 0) continue;
          const int sy = cands[cand].src / w, sx = cands[cand].src % w;
          bool ok = true;
          for (int ch = 0; ch < c; ++ch) {
            const float a = nh[at(s.y, x, ch, wide, off)], b = bh[at(sy, sx, ch, wide, off)];
            ok = ok && (cands[cand].eps <= 0.f ? std::memcmp(&a, &b, 4) == 0 : std::fabs(a - b) <= cands[cand].eps);
          }
          if (ok) chosen = cand;
        }
        if (chosen >= 0) {
          const int sy = cands[chosen].src / w, sx = cands[chosen].src % w;
          for (int ch = 0; ch < c; ++ch) nh[at(s.y, x, ch, wide, off)] = bh[at(sy, sx, ch, wide, off)];
        }
        choice.push_back(static_cast<float>(chosen));
      }
    out.push_back(nh);
    out.push_back(choice);
  }
  {
    const int wd = 3 + (wide - c);
    auto m = host_of(seed + 9, 3, wd, 0).first;
    std::vector<uint8_t> rgb(static_cast<size_t>(h) * w * 3);
    for (uint8_t& v : rgb) v = static_cast<uint8_t>(rng());
    for (const Span& s : random_spans(rng, h, w))
      for (int x = s.x0; x < s.x1; ++x)
        for (int ch = 0; ch < 3; ++ch)
          m[at(s.y, x, ch, wd, 0)] = static_cast<float>(rgb[(static_cast<size_t>(s.y) * w + x) * 3 + ch]) / 255.0f;
    out.push_back(m);
  }
  {
    auto m = host_of(seed + 10, c, wide, off).first;
    std::vector<float> planar(static_cast<size_t>(h) * w * c + 2 * 64, 7.f);
    for (int64_t p = 0; p < static_cast<int64_t>(h) * w; ++p)
      if (rng() % 3 == 0)
        for (int ch = 0; ch < c; ++ch)
          planar[64 + static_cast<size_t>(ch) * h * w + static_cast<size_t>(p)] =
              m[at(static_cast<int>(p / w), static_cast<int>(p % w), ch, wide, off)];
    out.push_back(planar);
  }
  return out;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

const char* const kPrimitives[] = {"copy_map", "copy_runs", "move_in_place", "gather", "keep_close (values)",
                                   "keep_close (choices)", "write_image", "scatter_planar"};

}  // namespace

TEST_CASE("backend: the CPU backend's cache primitives equal the reference, guards untouched", "[backend]") {
  auto device = make_device(plan_of("yolo11n-320.onnx"), backend_opt("cpu"));
  auto be = device->new_backend();
  for (uint32_t seed = 1; seed <= 40; ++seed) {
    const auto got = exercise(*be, seed * 100);
    const auto want = reference(seed * 100, *be);
    REQUIRE(got.size() == want.size());
    for (size_t i = 0; i < got.size(); ++i) {
      INFO("seed " << seed << ": " << kPrimitives[i]);
      CHECK(same_bits(got[i], want[i]));
    }
  }
}

TEST_CASE("backend: the run-list arithmetic of the device kernels, replayed on the host", "[backend][cuda][host]") {
  std::mt19937 rng(5);
  for (int t = 0; t < 50; ++t) {
    std::vector<CopyRun> runs = random_runs(rng, 20, 30, 1 + static_cast<int>(rng() % 40));
    if (t % 5 == 0) runs.push_back({3, 4, 4, 3, 4});  // an empty run must never be chosen
    std::vector<int64_t> starts(runs.size() + 1);
    const int64_t n = run_starts(runs.data(), static_cast<int>(runs.size()), starts.data());
    int64_t m = 0;
    for (const CopyRun& r : runs)
      for (int k = 0; k < r.x1 - r.x0; ++k, ++m) {
        int y, x, sy, sx;
        locate_run(runs.data(), starts.data(), static_cast<int>(runs.size()), m, y, x, sy, sx);
        CHECK(y == r.y);
        CHECK(x == r.x0 + k);
        CHECK(sy == r.sy);
        CHECK(sx == r.sx + k);
      }
    CHECK(m == n);
  }
}

// ---------------------------------------------------------------------------------------------------
// GPU

namespace {

}  // namespace

TEST_CASE("gpu: the CUDA backend's cache primitives give the CPU backend's bits", "[backend][cuda][gpu]") {
  FX_REQUIRE_CUDA_DEVICE();
  auto plan = plan_of("yolo11n-320.onnx");
  auto cpu = make_device(plan, backend_opt("cpu"))->new_backend();
  auto gpu_device = make_device(plan, backend_opt("cuda"));
  auto gpu = gpu_device->new_backend();
  for (uint32_t seed = 1; seed <= 40; ++seed) {
    const auto a = exercise(*gpu, seed * 100), b = exercise(*cpu, seed * 100);
    REQUIRE(a.size() == b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      INFO("seed " << seed << ": " << kPrimitives[i]);
      CHECK(same_bits(a[i], b[i]));
    }
  }
}

TEST_CASE("gpu: a CUDA sparse session equals the CPU sparse session bit for bit", "[cuda][gpu][sparse]") {
  FX_REQUIRE_CUDA_DEVICE();
  const std::vector<Frame> frames = test::real_sequence();
  for (const char* model : {"yolo11n-320.onnx", "yolo11n-seg-640.onnx"})
    for (SessionMode mode : {SessionMode::Exact, SessionMode::FluxShard}) {
      auto plan = plan_of(model);
      SessionOptions o;
      o.mode = mode;
      StreamSession cpu(make_device(plan, backend_opt("cpu")), o), gpu(make_device(plan, backend_opt("cuda")), o);
      for (const Frame& f : frames) {
        FrameReport rc, rg;
        cpu.process(f, &rc);
        gpu.process(f, &rg);
        INFO(model << " " << mode_name(mode) << " frame " << f.index);
        CHECK(rc.critical_blocks == rg.critical_blocks);
        CHECK(rc.sparse.recomputed_positions == rg.sparse.recomputed_positions);
        CHECK(rc.sparse.truncated_positions == rg.sparse.truncated_positions);
        size_t maps = 0, differing = 0;
        for (int t = 0; t < static_cast<int>(plan->tensors().size()); ++t) {
          if (!cpu.sparse()->has_cache(t)) continue;
          ++maps;
          differing += !same_bits(cpu.sparse()->read_tensor(t), gpu.sparse()->read_tensor(t));
        }
        CHECK(maps > 50);
        CHECK(differing == 0);
        for (size_t i = 0; i < plan->outputs().size(); ++i) {
          const size_t n = static_cast<size_t>(plan->tensor(plan->outputs()[i]).numel);
          CHECK(std::memcmp(cpu.output_data(i), gpu.output_data(i), n * sizeof(float)) == 0);
        }
        CHECK(cpu.result().detections.size() == gpu.result().detections.size());
      }
    }
}

TEST_CASE("gpu: fp16 sessions keep the CPU fp32 session's detections (F1 >= 0.98)", "[cuda][gpu][sparse]") {
  FX_REQUIRE_CUDA_DEVICE();
  const std::vector<Frame> frames = test::real_sequence();
  auto plan = plan_of("yolo11n-640.onnx");
  SessionOptions o;
  o.mode = SessionMode::FluxShard;
  StreamSession cpu(make_device(plan, backend_opt("cpu")), o);
  StreamSession gpu(make_device(plan, backend_opt("cuda", Precision::FP16)), o);
  MatchAccumulator acc;
  for (const Frame& f : frames) {
    const FrameResult a = cpu.process(f), b = gpu.process(f);
    acc.add(match_detections(b.detections, a.detections, 0.5f));
  }
  WARN("fp16 fluxshard session vs CPU fp32: F1 " << acc.f1());
  CHECK(acc.f1() >= 0.98);
}

TEST_CASE("gpu: ops sent to the CPU fallback run and match the CPU, dense and sparse", "[cuda][gpu][sparse]") {
  FX_REQUIRE_CUDA_DEVICE();
  auto plan = plan_of("yolo11n-320.onnx");
  BackendOptions fb = backend_opt("cuda");
  fb.cpu_ops = {OpKind::MaxPool, OpKind::Softmax, OpKind::Concat};
  auto device = make_device(plan, fb);
  int on_cpu = 0;
  for (int i = 0; i < plan->op_count(); ++i) on_cpu += !device->supports(i);
  CHECK(on_cpu > 5);
  const std::vector<Frame> frames = test::real_sequence();
  SessionOptions o;
  for (SessionMode mode : {SessionMode::Dense, SessionMode::Exact}) {
    o.mode = mode;
    StreamSession cpu(make_device(plan, backend_opt("cpu")), o), gpu(device, o);
    for (const Frame& f : frames) {
      cpu.process(f);
      gpu.process(f);
      const size_t n = static_cast<size_t>(plan->tensor(plan->outputs()[0]).numel);
      INFO(mode_name(mode) << " frame " << f.index);
      CHECK(std::memcmp(cpu.output_data(0), gpu.output_data(0), n * sizeof(float)) == 0);
    }
  }
}

TEST_CASE("gpu: sessions sharing one device, interleaved, equal each session alone", "[cuda][gpu][sparse]") {
  FX_REQUIRE_CUDA_DEVICE();
  auto plan = plan_of("yolo11n-320.onnx");
  auto device = make_device(plan, backend_opt("cuda"));
  const std::vector<Frame> frames = test::real_sequence();
  SessionOptions o;
  StreamSession alone(device, o), a(device, o), b(device, o);
  const size_t n = static_cast<size_t>(plan->tensor(plan->outputs()[0]).numel);
  // b sees the sequence backwards: different caches on the same weights.
  std::vector<std::vector<float>> expected;
  for (const Frame& f : frames) {
    alone.process(f);
    expected.emplace_back(alone.output_data(0), alone.output_data(0) + n);
  }
  for (size_t i = 0; i < frames.size(); ++i) {
    a.process(frames[i]);
    b.process(frames[frames.size() - 1 - i]);
    CHECK(std::memcmp(a.output_data(0), expected[i].data(), n * sizeof(float)) == 0);
  }
}
