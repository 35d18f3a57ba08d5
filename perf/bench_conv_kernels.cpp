// Times every convolution layer of YOLO11n at 640x640 (the table below: cin, H, W, cout, k, s, group,
// Hout, Wout, MFLOP) with the packed-GEMM kernels, per ISA: warm-up, then the median of N runs.
//
//   bench_conv_kernels [--threads N] [--runs N] [--isa avx512|avx2|generic|all|best] [--generic-runs N]
//                      [--layer I] [--quiet] [--repeat N] [--act silu|none|sigmoid] [--kblock BYTES]
//                      [--achunk BYTES] [--share F] [--cold]
//
// --share F: each layer is also timed on a clustered region of about F of its output positions (a
// rectangle at the top left, as the sparse executor recomputes it), and the cost per position is
// compared with the whole map's in the same run. --cold flushes the caches before every timed run.
//
// By default: the best ISA of this CPU, 2 threads, 15 runs, SiLU on every layer, then the portable path
// (1 run per layer).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "ops/conv/conv.h"
#include "ops/conv/conv_internal.h"

using namespace fx;

namespace {

struct Layer {
  int cin, h, w, cout, k, s, group, oh, ow;
  double mflop;
};

// YOLO11n-640 convolutions, in graph order.
const Layer kLayers[] = {
    {3, 640, 640, 16, 3, 2, 1, 320, 320, 88.5},
    {16, 320, 320, 32, 3, 2, 1, 160, 160, 235.9},
    {32, 160, 160, 32, 1, 1, 1, 160, 160, 52.4},
    {16, 160, 160, 8, 3, 1, 1, 160, 160, 59.0},
    {8, 160, 160, 16, 3, 1, 1, 160, 160, 59.0},
    {48, 160, 160, 64, 1, 1, 1, 160, 160, 157.3},
    {64, 160, 160, 64, 3, 2, 1, 80, 80, 471.9},
    {64, 80, 80, 64, 1, 1, 1, 80, 80, 52.4},
    {32, 80, 80, 16, 3, 1, 1, 80, 80, 59.0},
    {16, 80, 80, 32, 3, 1, 1, 80, 80, 59.0},
    {96, 80, 80, 128, 1, 1, 1, 80, 80, 157.3},
    {128, 80, 80, 128, 3, 2, 1, 40, 40, 471.9},
    {128, 40, 40, 128, 1, 1, 1, 40, 40, 52.4},
    {64, 40, 40, 32, 1, 1, 1, 40, 40, 6.6},
    {64, 40, 40, 32, 1, 1, 1, 40, 40, 6.6},
    {32, 40, 40, 32, 3, 1, 1, 40, 40, 29.5},
    {32, 40, 40, 32, 3, 1, 1, 40, 40, 29.5},
    {32, 40, 40, 32, 3, 1, 1, 40, 40, 29.5},
    {32, 40, 40, 32, 3, 1, 1, 40, 40, 29.5},
    {64, 40, 40, 64, 1, 1, 1, 40, 40, 13.1},
    {192, 40, 40, 128, 1, 1, 1, 40, 40, 78.6},
    {128, 40, 40, 256, 3, 2, 1, 20, 20, 235.9},
    {256, 20, 20, 256, 1, 1, 1, 20, 20, 52.4},
    {128, 20, 20, 64, 1, 1, 1, 20, 20, 6.6},
    {128, 20, 20, 64, 1, 1, 1, 20, 20, 6.6},
    {64, 20, 20, 64, 3, 1, 1, 20, 20, 29.5},
    {64, 20, 20, 64, 3, 1, 1, 20, 20, 29.5},
    {64, 20, 20, 64, 3, 1, 1, 20, 20, 29.5},
    {64, 20, 20, 64, 3, 1, 1, 20, 20, 29.5},
    {128, 20, 20, 128, 1, 1, 1, 20, 20, 13.1},
    {384, 20, 20, 256, 1, 1, 1, 20, 20, 78.6},
    {256, 20, 20, 128, 1, 1, 1, 20, 20, 26.2},
    {512, 20, 20, 256, 1, 1, 1, 20, 20, 104.9},
    {256, 20, 20, 256, 1, 1, 1, 20, 20, 52.4},
    {128, 20, 20, 256, 1, 1, 1, 20, 20, 26.2},
    {128, 20, 20, 256, 1, 1, 1, 20, 20, 26.2},
    {256, 20, 20, 128, 1, 1, 1, 20, 20, 26.2},
    {256, 20, 20, 256, 1, 1, 1, 20, 20, 52.4},
    {384, 40, 40, 128, 1, 1, 1, 40, 40, 157.3},
    {64, 40, 40, 32, 3, 1, 1, 40, 40, 59.0},
    {32, 40, 40, 64, 3, 1, 1, 40, 40, 59.0},
    {192, 40, 40, 128, 1, 1, 1, 40, 40, 78.6},
    {256, 80, 80, 64, 1, 1, 1, 80, 80, 209.7},
    {32, 80, 80, 16, 3, 1, 1, 80, 80, 59.0},
    {16, 80, 80, 32, 3, 1, 1, 80, 80, 59.0},
    {96, 80, 80, 64, 1, 1, 1, 80, 80, 78.6},
    {64, 80, 80, 64, 3, 2, 1, 40, 40, 118.0},
    {64, 80, 80, 64, 3, 1, 1, 80, 80, 471.9},
    {64, 80, 80, 64, 3, 1, 64, 80, 80, 7.4},
    {64, 80, 80, 64, 3, 1, 1, 80, 80, 471.9},
    {64, 80, 80, 80, 1, 1, 1, 80, 80, 65.5},
    {192, 40, 40, 128, 1, 1, 1, 40, 40, 78.6},
    {64, 80, 80, 64, 1, 1, 1, 80, 80, 52.4},
    {80, 80, 80, 80, 3, 1, 80, 80, 80, 9.2},
    {64, 40, 40, 32, 3, 1, 1, 40, 40, 59.0},
    {80, 80, 80, 80, 1, 1, 1, 80, 80, 81.9},
    {32, 40, 40, 64, 3, 1, 1, 40, 40, 59.0},
    {80, 80, 80, 80, 1, 1, 1, 80, 80, 81.9},
    {192, 40, 40, 128, 1, 1, 1, 40, 40, 78.6},
    {128, 40, 40, 128, 3, 2, 1, 20, 20, 118.0},
    {128, 40, 40, 64, 3, 1, 1, 40, 40, 235.9},
    {128, 40, 40, 128, 3, 1, 128, 40, 40, 3.7},
    {64, 40, 40, 64, 3, 1, 1, 40, 40, 118.0},
    {128, 40, 40, 80, 1, 1, 1, 40, 40, 32.8},
    {384, 20, 20, 256, 1, 1, 1, 20, 20, 78.6},
    {64, 40, 40, 64, 1, 1, 1, 40, 40, 13.1},
    {80, 40, 40, 80, 3, 1, 80, 40, 40, 2.3},
    {128, 20, 20, 64, 1, 1, 1, 20, 20, 6.6},
    {128, 20, 20, 64, 1, 1, 1, 20, 20, 6.6},
    {80, 40, 40, 80, 1, 1, 1, 40, 40, 20.5},
    {64, 20, 20, 64, 3, 1, 1, 20, 20, 29.5},
    {80, 40, 40, 80, 1, 1, 1, 40, 40, 20.5},
    {64, 20, 20, 64, 3, 1, 1, 20, 20, 29.5},
    {64, 20, 20, 64, 3, 1, 1, 20, 20, 29.5},
    {64, 20, 20, 64, 3, 1, 1, 20, 20, 29.5},
    {128, 20, 20, 128, 1, 1, 1, 20, 20, 13.1},
    {384, 20, 20, 256, 1, 1, 1, 20, 20, 78.6},
    {256, 20, 20, 64, 3, 1, 1, 20, 20, 118.0},
    {256, 20, 20, 256, 3, 1, 256, 20, 20, 1.8},
    {64, 20, 20, 64, 3, 1, 1, 20, 20, 29.5},
    {256, 20, 20, 80, 1, 1, 1, 20, 20, 16.4},
    {64, 20, 20, 64, 1, 1, 1, 20, 20, 3.3},
    {80, 20, 20, 80, 3, 1, 80, 20, 20, 0.6},
    {80, 20, 20, 80, 1, 1, 1, 20, 20, 5.1},
    {80, 20, 20, 80, 1, 1, 1, 20, 20, 5.1}
};

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct Buffers {
  std::vector<float*> blocks;
  Workspace ws;
  Buffers(size_t bytes, int threads) {
    for (int t = 0; t < threads; ++t) {
      float* p = static_cast<float*>(std::aligned_alloc(64, std::max<size_t>(64, (bytes + 63) / 64 * 64)));
      std::memset(p, 0, bytes);
      blocks.push_back(p);
    }
    ws.per_thread = blocks.data();
    ws.bytes_per_thread = bytes;
  }
  ~Buffers() {
    for (float* p : blocks) std::free(p);
  }
};

float* alloc_floats(size_t n, float v) {
  float* p = static_cast<float*>(std::aligned_alloc(64, std::max<size_t>(64, (n * 4 + 63) / 64 * 64)));
  for (size_t i = 0; i < n; ++i) p[i] = v * static_cast<float>((i * 2654435761u) % 1000) / 1000.0f - 0.5f * v;
  return p;
}

// Returns the total of the per-layer medians (ms).
Act g_act = Act::SiLU;
double g_share = 0;  // --share: also time a clustered region of this share of the positions
double g_part_total = 0, g_ideal_total = 0;
// --cold: caches are flushed before every timed run (as in a network, where each layer's weights and
// inputs were last touched a frame ago), by writing a buffer larger than the last-level cache.
std::vector<char> g_flush;
void flush_caches() {
  for (size_t i = 0; i < g_flush.size(); i += 64) g_flush[i] = static_cast<char>(g_flush[i] + 1);
}

double bench_isa(CpuIsa isa, int threads, int runs, int warmup, int only, bool quiet) {
  ThreadPool pool(threads);
  std::printf("\n== %s, %d thread%s, median of %d run%s ==\n", isa_name(isa), threads, threads == 1 ? "" : "s", runs,
              runs == 1 ? "" : "s");
  if (!quiet)
    std::printf("%3s %5s %4s %4s %5s %2s %2s %4s %8s %9s %8s %9s\n", "#", "cin", "H", "W", "cout", "k", "s", "grp",
                "MFLOP", "ms", "GFLOP/s", "min ms");
  double total = 0, total_flop = 0, total_min = 0;
  const int n = static_cast<int>(sizeof(kLayers) / sizeof(kLayers[0]));
  for (int i = 0; i < n; ++i) {
    if (only >= 0 && i != only) continue;
    const Layer& L = kLayers[i];
    ConvParams p;
    p.cin = L.cin;
    p.cout = L.cout;
    p.kh = p.kw = L.k;
    p.sh = p.sw = L.s;
    p.pad_t = p.pad_l = p.pad_b = p.pad_r = L.k / 2;
    p.group = L.group;
    p.act = g_act;
    const size_t wn = static_cast<size_t>(L.cout) * (L.cin / L.group) * L.k * L.k;
    float* w = alloc_floats(wn, 0.1f);
    float* b = alloc_floats(L.cout, 0.1f);
    float* in = alloc_floats(static_cast<size_t>(L.h) * L.w * L.cin, 2.0f);
    float* out = alloc_floats(static_cast<size_t>(L.oh) * L.ow * L.cout, 0.0f);
    Conv2d conv(p, w, b, isa);
    Buffers ws(conv.workspace_bytes(), threads);
    FullSpans fs(L.oh, L.ow);
    const SpanList spans = fs.list(L.oh, L.ow);
    const MapView iv = dense_map(in, L.h, L.w, L.cin), ov = dense_map(out, L.oh, L.ow, L.cout);
    auto time = [&](const SpanList& sl) {
      for (int r = 0; r < warmup; ++r) conv.run(iv, ov, nullptr, sl, pool, ws.ws);
      std::vector<double> t;
      for (int r = 0; r < runs; ++r) {
        flush_caches();
        const double t0 = now_ms();
        conv.run(iv, ov, nullptr, sl, pool, ws.ws);
        t.push_back(now_ms() - t0);
      }
      std::sort(t.begin(), t.end());
      return t;
    };
    const std::vector<double> t = time(spans);
    const double med = t[t.size() / 2];
    total += med;
    total_min += t[0];
    total_flop += L.mflop;
    if (!quiet)
      std::printf("%3d %5d %4d %4d %5d %2d %2d %4d %8.1f %9.3f %8.1f %9.3f\n", i, L.cin, L.h, L.w, L.cout, L.k, L.s,
                  L.group, L.mflop, med, L.mflop / med, t[0]);
    if (g_share > 0) {
      const int rh = std::max(1, std::min(L.oh, static_cast<int>(std::ceil(L.oh * std::sqrt(g_share)))));
      const int rw = std::max(1, std::min(L.ow, static_cast<int>(std::ceil(L.ow * std::sqrt(g_share)))));
      std::vector<Span> region;
      for (int y = 0; y < rh; ++y) region.push_back({y, 0, rw});
      const std::vector<double> tr = time(make_span_list(region));
      const double share = static_cast<double>(rh) * rw / (static_cast<double>(L.oh) * L.ow);
      const double part = tr[tr.size() / 2];
      g_part_total += part;
      g_ideal_total += med * share;
      if (!quiet)
        std::printf("    region %dx%d (%.1f%%): %.3f ms, per position %.2fx the whole map's\n", rh, rw, 100 * share,
                    part, part / (med * share));
    }
    std::free(w);
    std::free(b);
    std::free(in);
    std::free(out);
  }
  std::printf("total %s %d thread%s: %.2f ms (sum of medians; %.0f MFLOP, %.1f GFLOP/s), sum of minima %.2f ms\n",
              isa_name(isa), threads, threads == 1 ? "" : "s", total, total_flop, total_flop / total, total_min);
  if (g_share > 0)
    std::printf("regions of %.0f%%: %.2f ms, %.2fx the whole maps' time at that share (%.2f ms)\n", 100 * g_share,
                g_part_total, g_part_total / g_ideal_total, g_ideal_total);
  g_part_total = g_ideal_total = 0;
  if (only < 0) {
    // YOLO11-seg's upsampler: ConvTranspose2d k2 s2 p0, 64 -> 64, 80x80 -> 160x160 (not in the total).
    ConvTransposeParams p;
    p.cin = p.cout = 64;
    p.kh = p.kw = p.sh = p.sw = 2;
    p.act = g_act;
    float* w = alloc_floats(64 * 64 * 4, 0.1f);
    float* b = alloc_floats(64, 0.1f);
    float* in = alloc_floats(80 * 80 * 64, 2.0f);
    float* out = alloc_floats(160 * 160 * 64, 0.0f);
    ConvTranspose2d op(p, w, b, isa);
    Buffers ws(op.workspace_bytes(), threads);
    FullSpans fs(160, 160);
    const MapView iv = dense_map(in, 80, 80, 64), ov = dense_map(out, 160, 160, 64);
    for (int r = 0; r < warmup; ++r) op.run(iv, ov, fs.list(160, 160), pool, ws.ws);
    std::vector<double> t;
    for (int r = 0; r < runs; ++r) {
      const double t0 = now_ms();
      op.run(iv, ov, fs.list(160, 160), pool, ws.ws);
      t.push_back(now_ms() - t0);
    }
    std::sort(t.begin(), t.end());
    const double mflop = 160.0 * 160 * 64 * 64 * 2 / 1e6;
    std::printf("ConvTranspose2d k2 s2 64->64 80x80->160x160 (%.1f MFLOP): %.3f ms, %.1f GFLOP/s (min %.3f ms)\n",
                mflop, t[t.size() / 2], mflop / t[t.size() / 2], t[0]);
    std::free(w);
    std::free(b);
    std::free(in);
    std::free(out);
  }
  return total;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2, runs = 15, generic_runs = 1, only = -1;
  std::string isa_arg = "default";
  bool quiet = false;
  int repeat = 1;
  long kblock = 0, achunk = 0;  // blocking overrides (bytes; 0 = default), for tuning
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--threads") threads = std::atoi(next());
    else if (a == "--runs") runs = std::atoi(next());
    else if (a == "--generic-runs") generic_runs = std::atoi(next());
    else if (a == "--isa") isa_arg = next();
    else if (a == "--layer") only = std::atoi(next());
    else if (a == "--quiet") quiet = true;
    else if (a == "--repeat") repeat = std::max(1, std::atoi(next()));
    else if (a == "--kblock") kblock = std::atol(next());
    else if (a == "--achunk") achunk = std::atol(next());
    else if (a == "--share") g_share = std::atof(next());
    else if (a == "--cold") g_flush.assign(size_t{256} << 20, 0);
    else if (a == "--act") {
      std::string v = next();
      g_act = v == "none" ? Act::None : v == "sigmoid" ? Act::Sigmoid : Act::SiLU;
    }
    else {
      std::fprintf(stderr,
                   "usage: %s [--threads N] [--runs N] [--isa avx512|avx2|generic|best|all|default] [--generic-runs N] "
                   "[--layer I] [--quiet] [--repeat N] [--act silu|none|sigmoid] [--kblock BYTES] [--achunk BYTES] "
                   "[--share F] [--cold]\n",
                   argv[0]);
      return 2;
    }
  }
  conv_detail::set_conv_blocking(kblock, achunk);
  const CpuFeatures& f = cpu_features();
  std::printf("CPU: avx2+fma=%d avx512=%d; best ISA %s\n", f.avx2_fma, f.avx512, isa_name(best_isa()));
  std::vector<std::pair<CpuIsa, int>> todo;
  if (isa_arg == "default") {
    todo.push_back({best_isa(), runs});
    if (generic_runs > 0 && best_isa() != CpuIsa::Generic) todo.push_back({CpuIsa::Generic, generic_runs});
  } else if (isa_arg == "all") {
    if (f.avx512) todo.push_back({CpuIsa::Avx512, runs});
    if (f.avx2_fma) todo.push_back({CpuIsa::Avx2, runs});
    if (generic_runs > 0) todo.push_back({CpuIsa::Generic, generic_runs});
  } else if (isa_arg == "best") {
    todo.push_back({best_isa(), runs});
  } else if (isa_arg == "avx512") {
    todo.push_back({CpuIsa::Avx512, runs});
  } else if (isa_arg == "avx2") {
    todo.push_back({CpuIsa::Avx2, runs});
  } else if (isa_arg == "generic") {
    todo.push_back({CpuIsa::Generic, runs});
  } else {
    std::fprintf(stderr, "unknown --isa %s\n", isa_arg.c_str());
    return 2;
  }
  for (auto [isa, r] : todo) {
    // On a shared machine, whole passes can be disturbed: --repeat N reports the best of N passes.
    double best = 1e300;
    const int passes = isa == CpuIsa::Generic ? 1 : repeat;
    for (int i = 0; i < passes; ++i)
      best = std::min(best, bench_isa(isa, threads, std::max(1, r), r > 1 ? 2 : 0, only, quiet || i > 0));
    if (passes > 1)
      std::printf("best of %d passes, %s %d thread%s: %.2f ms\n", passes, isa_name(isa), threads,
                  threads == 1 ? "" : "s", best);
  }
  return 0;
}
