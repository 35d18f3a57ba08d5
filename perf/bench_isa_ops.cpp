// Per-op speed of the best vector ISA against the portable kernels, measured in the same run: each op
// on YOLO11n-320-sized shapes, median of N runs per ISA, one thread. Natively this is AVX-512 (or AVX2)
// vs portable. Under qemu-user on the aarch64 cross build (qemu-aarch64 build-aarch64/bin/bench_isa_ops)
// it is NEON vs portable *as emulated*: qemu translates each instruction into host code of its own cost,
// so those ratios say how much work the NEON path saves the emulator, not how fast an ARM core runs it.
//
//   bench_isa_ops [--runs N] [--op I] [--isa generic|vector]
// --runs: timed runs per op and ISA after one warm-up (default 5); --op: only the I-th op of the table;
// --isa: only that side. perf/qemu_insn_count.sh uses the last two to count guest instructions per op.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <vector>

#include "ops/conv/conv.h"
#include "ops/cpu_features.h"
#include "ops/elementwise/elementwise.h"
#include "ops/matmul/matmul.h"
#include "ops/motion/sad.h"
#include "ops/pool/maxpool.h"
#include "ops/softmax/softmax.h"
#include "ops/thread_pool.h"
#include "ops/workspace.h"

using namespace fx;

namespace {

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::vector<float> values(size_t n, float scale) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = scale * (static_cast<float>((i * 2654435761u) % 1000) / 1000.0f - 0.5f);
  return v;
}

// Ops without an ISA argument take best_isa(), which FLUXSHARD_ISA lowers.
void force_isa(CpuIsa isa) {
  if (isa == CpuIsa::Generic) setenv("FLUXSHARD_ISA", "generic", 1);
  else unsetenv("FLUXSHARD_ISA");
}

double median_ms(int runs, const std::function<void()>& f) {
  f();  // warm-up
  std::vector<double> t;
  for (int r = 0; r < runs; ++r) {
    const double t0 = now_ms();
    f();
    t.push_back(now_ms() - t0);
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

struct ConvShape {
  const char* name;
  int cin, h, w, cout, k, s, group;
};

double bench_conv(const ConvShape& c, CpuIsa isa, ThreadPool& pool, int runs) {
  ConvParams p;
  p.cin = c.cin, p.cout = c.cout, p.kh = p.kw = c.k, p.sh = p.sw = c.s;
  p.pad_t = p.pad_l = p.pad_b = p.pad_r = c.k / 2;
  p.group = c.group;
  p.act = Act::SiLU;
  const int oh = static_cast<int>(conv_out_size(c.h, c.k, c.s, c.k / 2, c.k / 2, 1));
  const int ow = static_cast<int>(conv_out_size(c.w, c.k, c.s, c.k / 2, c.k / 2, 1));
  const std::vector<float> w = values(static_cast<size_t>(c.cout) * (c.cin / c.group) * c.k * c.k, 0.2f);
  const std::vector<float> b = values(static_cast<size_t>(c.cout), 0.2f);
  std::vector<float> in = values(static_cast<size_t>(c.h) * c.w * c.cin, 2.f);
  std::vector<float> out(static_cast<size_t>(oh) * ow * c.cout);
  const Conv2d conv(p, w.data(), b.data(), isa);
  std::vector<float> scratch(conv.workspace_bytes() / sizeof(float) + 16);
  float* block = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(scratch.data()) + 63) & ~uintptr_t{63});
  Workspace ws;
  ws.per_thread = &block;
  ws.bytes_per_thread = conv.workspace_bytes();
  const FullSpans spans(oh, ow);
  const MapView iv = dense_map(in.data(), c.h, c.w, c.cin), ov = dense_map(out.data(), oh, ow, c.cout);
  return median_ms(runs, [&] { conv.run(iv, ov, nullptr, spans.list(oh, ow), pool, ws); });
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 5, only = -1;
  bool do_generic = true, do_vector = true;
  for (int i = 1; i < argc; ++i) {
    const bool has_value = i + 1 < argc;
    if (std::strcmp(argv[i], "--runs") == 0 && has_value) {
      runs = std::max(1, std::atoi(argv[++i]));
    } else if (std::strcmp(argv[i], "--op") == 0 && has_value) {
      only = std::atoi(argv[++i]);
    } else if (std::strcmp(argv[i], "--isa") == 0 && has_value && std::strcmp(argv[i + 1], "generic") == 0) {
      do_vector = false, ++i;
    } else if (std::strcmp(argv[i], "--isa") == 0 && has_value && std::strcmp(argv[i + 1], "vector") == 0) {
      do_generic = false, ++i;
    } else {
      std::fprintf(stderr, "usage: %s [--runs N] [--op I] [--isa generic|vector]\n", argv[0]);
      return 2;
    }
  }
  unsetenv("FLUXSHARD_ISA");
  const CpuIsa best = best_isa();
  if (best == CpuIsa::Generic) {
    std::fprintf(stderr, "error: this CPU has no vector ISA the kernels use; nothing to compare\n");
    return 1;
  }
  ThreadPool pool(1);
  struct Row {
    const char* name;
    std::function<double(CpuIsa)> time;
  };
  std::vector<Row> rows;

  // Convolutions of YOLO11n at 320x320 (SiLU fused): the stem, a 1x1 and a 3x3 of a C3k2 at 40x40, a
  // depthwise head convolution.
  static const ConvShape convs[] = {{"conv 3x3/2 3->16 320x320", 3, 320, 320, 16, 3, 2, 1},
                                    {"conv 1x1 64->64 40x40", 64, 40, 40, 64, 1, 1, 1},
                                    {"conv 3x3 64->64 40x40", 64, 40, 40, 64, 3, 1, 1},
                                    {"conv dw3x3 64 40x40", 64, 40, 40, 64, 3, 1, 64}};
  for (const ConvShape& c : convs)
    rows.push_back({c.name, [&c, &pool, runs](CpuIsa isa) { return bench_conv(c, isa, pool, runs); }});

  // Element-wise: a residual add and SiLU over a 64-channel 80x80 map.
  const int eh = 80, ew = 80, ec = 64;
  std::vector<float> ea = values(static_cast<size_t>(eh) * ew * ec, 4.f), eb = values(ea.size(), 3.f), eo(ea.size());
  const FullSpans espans(eh, ew);
  rows.push_back({"add 64x80x80", [&](CpuIsa isa) {
                    force_isa(isa);
                    LocalOperand a, b;
                    a.map = dense_map(ea.data(), eh, ew, ec);
                    b.map = dense_map(eb.data(), eh, ew, ec);
                    return median_ms(runs, [&] {
                      binary_local(BinaryOp::Add, a, b, dense_map(eo.data(), eh, ew, ec), espans.list(eh, ew), pool);
                    });
                  }});
  rows.push_back({"silu 64x80x80", [&](CpuIsa isa) {
                    force_isa(isa);
                    return median_ms(runs, [&] {
                      unary_local(UnaryOp::SiLU, dense_map(ea.data(), eh, ew, ec), dense_map(eo.data(), eh, ew, ec),
                                  espans.list(eh, ew), pool);
                    });
                  }});

  // Max-pool: SPPF's 5x5 stride-1 pool on 128 channels at 10x10 (YOLO11n-320's P5).
  const int ph = 10, pw = 10, pc = 128;
  std::vector<float> pin = values(static_cast<size_t>(ph) * pw * pc, 4.f), pout(pin.size());
  const FullSpans pspans(ph, pw);
  rows.push_back({"maxpool 5x5 128x10x10", [&](CpuIsa isa) {
                    force_isa(isa);
                    PoolParams p;
                    p.kh = p.kw = 5;
                    p.pad_t = p.pad_l = p.pad_b = p.pad_r = 2;
                    return median_ms(runs, [&] {
                      maxpool2d(p, dense_map(pin.data(), ph, pw, pc), dense_map(pout.data(), ph, pw, pc),
                                pspans.list(ph, pw), pool);
                    });
                  }});

  // Attention at P5 (C2PSA, 100 positions, 2 heads of 32 channels): QK^T and the softmax over keys.
  const int heads = 2, npos = 100, hd = 32;
  std::vector<float> q = values(static_cast<size_t>(heads) * npos * hd, 1.f), k = values(q.size(), 1.f),
                     s(static_cast<size_t>(heads) * npos * npos), sm(s.size());
  const Shape qs{heads, npos, hd}, ks{heads, hd, npos}, ss{heads, npos, npos};
  rows.push_back({"matmul 2x(100x32 @ 32x100)", [&](CpuIsa isa) {
                    force_isa(isa);
                    return median_ms(runs, [&] { matmul(q.data(), qs, k.data(), ks, s.data(), ss, pool); });
                  }});
  rows.push_back({"softmax 2x100x100 (rows)", [&](CpuIsa isa) {
                    force_isa(isa);
                    return median_ms(runs, [&] { softmax(s.data(), ss, 2, sm.data(), pool); });
                  }});

  // Motion search: 16-px block SADs, 25 candidates per block, every block of a 320x192 RGB frame.
  const int fw = 320, fh = 192, stride = fw * 3;
  std::vector<uint8_t> cur(static_cast<size_t>(stride) * fh), ref(cur.size());
  for (size_t i = 0; i < cur.size(); ++i) {
    cur[i] = static_cast<uint8_t>((i * 2654435761u) >> 13);
    ref[i] = static_cast<uint8_t>((i * 40503u) >> 7);
  }
  std::vector<ptrdiff_t> offs;
  for (int dy = -2; dy <= 2; ++dy)
    for (int dx = -2; dx <= 2; ++dx) offs.push_back(static_cast<ptrdiff_t>(dy) * stride + dx * 3);
  std::vector<uint32_t> sads(offs.size());
  rows.push_back({"SAD 16px x25 candidates 320x192", [&](CpuIsa isa) {
                    const BlockSadMultiFn fn = block_sad_rgb_multi_fn(isa);
                    return median_ms(runs, [&] {
                      for (int by = 16; by + 32 <= fh; by += 16)
                        for (int bx = 16; bx + 32 <= fw; bx += 16) {
                          const size_t o = static_cast<size_t>(by) * stride + bx * 3;
                          fn(&cur[o], stride, &ref[o], stride, 16, offs.data(), static_cast<int>(offs.size()),
                             sads.data(), kSadExact);
                        }
                    });
                  }});

  if (only >= static_cast<int>(rows.size())) {
    std::fprintf(stderr, "error: --op %d: there are %zu ops\n", only, rows.size());
    return 2;
  }
  std::printf("portable vs %s, 1 thread, median of %d runs\n", isa_name(best), runs);
  std::printf("%-3s %-34s %12s %12s %8s\n", "#", "op", "generic ms", "vector ms", "ratio");
  for (size_t i = 0; i < rows.size(); ++i) {
    if (only >= 0 && static_cast<int>(i) != only) continue;
    const double g = do_generic ? rows[i].time(CpuIsa::Generic) : 0;
    const double v = do_vector ? rows[i].time(best) : 0;
    std::printf("%-3zu %-34s %12.3f %12.3f %7.2fx\n", i, rows[i].name, g, v, v > 0 ? g / v : 0.0);
  }
  unsetenv("FLUXSHARD_ISA");
  return 0;
}
