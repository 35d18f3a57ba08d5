// MaxPool (ops/pool/maxpool.h): hand-computed cases for the reference, then the optimised kernel
// against it bit for bit on random shapes and parameters, for every ISA this CPU has, 1 and 3 threads,
// dense and random span subsets, channel-slice views and guard zones.
#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "op_harness.h"
#include "op_test_common.h"
#include "ops/cpu_features.h"
#include "ops/elementwise/parallel.h"
#include "ops/pool/maxpool.h"

using namespace fx;
using fx::test::Guarded;
using fx::test::TestMap;

namespace {

using fx::test::IsaScope;
using fx::test::isas;
using fx::test::pool;
using fx::test::same_bits;


int out_size(int in, int k, int s, int pb, int pe, int d) { return (in + pb + pe - d * (k - 1) - 1) / s + 1; }

const float kFill = 7.25f;  // what positions outside the span list must keep

// Runs the optimised kernel against the reference on one configuration.
void check_config(const PoolParams& p, int h, int w, int c, uint32_t seed, bool special_values = false) {
  const int oh = out_size(h, p.kh, p.sh, p.pad_t, p.pad_b, p.dh);
  const int ow = out_size(w, p.kw, p.sw, p.pad_l, p.pad_r, p.dw);
  REQUIRE(oh >= 1);
  REQUIRE(ow >= 1);
  std::mt19937 rng(seed);
  const int in_extra = static_cast<int>(rng() % 3) * 5, out_extra = static_cast<int>(rng() % 3) * 3;
  TestMap in(h, w, c, in_extra, in_extra ? 2 : 0);
  in.randomize(seed);
  if (special_values) {
    // Ties, signed zeros, infinities and NaNs: the order contract makes even these bit-identical.
    MapView v = in.view();
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        for (int ch = 0; ch < c; ++ch) {
          uint32_t r = rng() % 16;
          float* q = v.at(y, x) + ch;
          if (r == 0) *q = 0.f;
          else if (r == 1) *q = -0.f;
          else if (r == 2) *q = std::numeric_limits<float>::quiet_NaN();
          else if (r == 3) *q = -std::numeric_limits<float>::infinity();
          else if (r < 8) *q = std::round(*q * 2.f) / 2.f;  // many ties
        }
  }
  const int out_first = out_extra ? 1 : 0;
  TestMap ref(oh, ow, c, out_extra, out_first, kFill);
  auto full = test::full_spans(oh, ow);
  maxpool2d_reference(p, in.view(), ref.view(), make_span_list(full));
  const std::vector<float> expect = ref.packed();

  auto sub = test::random_spans(oh, ow, seed + 1, 0.4);
  for (CpuIsa isa : isas()) {
    IsaScope scope(isa);
    for (int threads : {1, 3}) {
      INFO("isa " << isa_name(isa) << " threads " << threads << " h " << h << " w " << w << " c " << c << " k "
                  << p.kh << "x" << p.kw << " s " << p.sh << "," << p.sw << " d " << p.dh << "," << p.dw
                  << " pads " << p.pad_t << "," << p.pad_l << "," << p.pad_b << "," << p.pad_r);
      TestMap out(oh, ow, c, out_extra, out_first, kFill);
      maxpool2d(p, in.view(), out.view(), make_span_list(full), pool(threads));
      REQUIRE(same_bits(out.packed(), expect));
      REQUIRE(out.buf.guards_intact());
      REQUIRE(out.others_untouched(kFill));

      TestMap part(oh, ow, c, out_extra, out_first, kFill);
      maxpool2d(p, in.view(), part.view(), make_span_list(sub), pool(threads));
      std::vector<char> in_span(static_cast<size_t>(oh) * ow, 0);
      for (const Span& s : sub)
        for (int x = s.x0; x < s.x1; ++x) in_span[static_cast<size_t>(s.y) * ow + x] = 1;
      const std::vector<float> got = part.packed();
      bool ok = true;
      for (size_t px = 0; px < in_span.size() && ok; ++px)
        for (int ch = 0; ch < c; ++ch) {
          float want = in_span[px] ? expect[px * c + ch] : kFill;
          if (!Guarded::same_bits(got[px * c + ch], want)) ok = false;
        }
      REQUIRE(ok);
      REQUIRE(part.buf.guards_intact());
      REQUIRE(part.others_untouched(kFill));
    }
  }
}

}  // namespace

TEST_CASE("maxpool reference: hand-computed windows", "[maxpool]") {
  // 3 x 3 map, one channel, values -1 .. -9: padding (-inf) must never win, even over negatives.
  std::vector<float> in(9);
  for (int i = 0; i < 9; ++i) in[i] = -static_cast<float>(i + 1);
  MapView iv = dense_map(in.data(), 3, 3, 1);
  PoolParams p;
  p.kh = p.kw = 3;
  p.pad_t = p.pad_l = p.pad_b = p.pad_r = 1;
  std::vector<float> out(9, 0.f);
  auto spans = test::full_spans(3, 3);
  maxpool2d_reference(p, iv, dense_map(out.data(), 3, 3, 1), make_span_list(spans));
  const float want[9] = {-1, -1, -2, -1, -1, -2, -4, -4, -5};
  for (int i = 0; i < 9; ++i) CHECK(out[i] == want[i]);

  // 2 x 2 stride 2 on a 4 x 4 map, two channels (the second is the negated first).
  std::vector<float> in2(32);
  for (int i = 0; i < 16; ++i) {
    in2[i * 2] = static_cast<float>((i * 7) % 16);
    in2[i * 2 + 1] = -in2[i * 2];
  }
  PoolParams q;
  q.kh = q.kw = 2;
  q.sh = q.sw = 2;
  std::vector<float> out2(8);
  auto spans2 = test::full_spans(2, 2);
  maxpool2d_reference(q, dense_map(in2.data(), 4, 4, 2), dense_map(out2.data(), 2, 2, 2), make_span_list(spans2));
  // Values (i*7)%16 laid out row-major: rows {0,7,14,5},{12,3,10,1},{8,15,6,13},{4,11,2,9}.
  const float max_want[4] = {12, 14, 15, 13}, min_want[4] = {0, 1, 4, 2};
  for (int i = 0; i < 4; ++i) {
    CHECK(out2[i * 2] == max_want[i]);
    CHECK(out2[i * 2 + 1] == -min_want[i]);
  }

  // Dilation 2, asymmetric padding: out(0, 0) reads input rows/cols {-1, 1} -> only (1, 1).
  PoolParams d;
  d.kh = d.kw = 2;
  d.dh = d.dw = 2;
  d.pad_t = d.pad_l = 1;
  std::vector<float> out3(4);
  auto spans3 = test::full_spans(2, 2);
  maxpool2d_reference(d, iv, dense_map(out3.data(), 2, 2, 1), make_span_list(spans3));
  CHECK(out3[0] == -5.f);  // (1,1)
  CHECK(out3[1] == -4.f);  // cols {0,2}, rows {1}: max(-4, -6)
  CHECK(out3[2] == -2.f);  // rows {0,2}, cols {1}: max(-2, -8)
  CHECK(out3[3] == -1.f);  // rows {0,2}, cols {0,2}

  // A window entirely in the padding is -inf.
  PoolParams e;
  e.kh = e.kw = 1;
  e.pad_t = 1;
  std::vector<float> out4(3);
  auto spans4 = std::vector<Span>{{0, 0, 3}};
  maxpool2d_reference(e, iv, dense_map(out4.data(), 1, 3, 1), make_span_list(spans4));
  for (float v : out4) CHECK(v == -std::numeric_limits<float>::infinity());

  // Ties of signed zeros: the later element (kx-major, then ky) wins, like MAXPS.
  std::vector<float> z = {0.f, -0.f};
  PoolParams zz;
  zz.kw = 2;
  float zo = 1.f;
  std::vector<Span> s1{{0, 0, 1}};
  maxpool2d_reference(zz, dense_map(z.data(), 1, 2, 1), dense_map(&zo, 1, 1, 1), make_span_list(s1));
  CHECK(std::signbit(zo));
}

TEST_CASE("maxpool: SPPF 5x5 stride 1 pad 2", "[maxpool]") {
  PoolParams p;
  p.kh = p.kw = 5;
  p.pad_t = p.pad_l = p.pad_b = p.pad_r = 2;
  const int channels[] = {1, 3, 17, 33, 64, 130};
  uint32_t seed = 100;
  for (int c : channels)
    for (int hw : {1, 2, 5, 7, 20}) { check_config(p, hw, hw + static_cast<int>(seed % 3), c, seed); ++seed; }
  check_config(p, 40, 40, 64, 7);
  PoolParams q = p;  // no padding: every output is interior
  q.pad_t = q.pad_l = q.pad_b = q.pad_r = 0;
  check_config(q, 9, 12, 40, 8);
  PoolParams r;  // 3x3 stride 1 pad 1 (the other sliding kernel), and a 5-wide window 3 rows high
  r.kh = r.kw = 3;
  r.pad_t = r.pad_l = r.pad_b = r.pad_r = 1;
  for (int c : {1, 16, 33, 130}) check_config(r, 6, 11, c, 9 + c);
  PoolParams t = p;
  t.kh = 3;
  t.pad_t = t.pad_b = 1;
  check_config(t, 7, 13, 50, 10);
}

TEST_CASE("maxpool: random kernels, strides, dilations, pads", "[maxpool]") {
  std::mt19937 rng(1234);
  const int channels[] = {1, 3, 5, 16, 17, 33, 64};
  for (int iter = 0; iter < 60; ++iter) {
    PoolParams p;
    p.kh = 1 + rng() % 4;
    p.kw = 1 + rng() % 4;
    p.sh = 1 + rng() % 3;
    p.sw = 1 + rng() % 3;
    p.dh = 1 + rng() % 2;
    p.dw = 1 + rng() % 2;
    p.pad_t = rng() % p.kh;
    p.pad_b = rng() % p.kh;
    p.pad_l = rng() % p.kw;
    p.pad_r = rng() % p.kw;
    int h = 1 + rng() % 13, w = 1 + rng() % 13;
    h = std::max(h, (p.kh - 1) * p.dh + 1 - p.pad_t - p.pad_b);
    w = std::max(w, (p.kw - 1) * p.dw + 1 - p.pad_l - p.pad_r);
    check_config(p, h, w, channels[rng() % 7], 5000 + iter);
  }
}

TEST_CASE("maxpool: ties, signed zeros, NaN and -inf stay bit-identical", "[maxpool]") {
  PoolParams p;
  p.kh = p.kw = 5;
  p.pad_t = p.pad_l = p.pad_b = p.pad_r = 2;
  check_config(p, 9, 11, 19, 77, true);
  PoolParams q;
  q.kh = 3;
  q.kw = 2;
  q.sh = 2;
  q.sw = 1;
  q.pad_t = 1;
  q.pad_r = 1;
  check_config(q, 8, 7, 40, 78, true);
}

TEST_CASE("maxpool: windows wider than the column buffer", "[maxpool]") {
  PoolParams p;
  p.kh = 2;
  p.kw = 3;
  p.dw = 70;  // spans 141 input columns: the unbuffered path
  p.pad_l = 60;
  p.pad_r = 60;
  check_config(p, 3, 150, 20, 99);
  PoolParams q;
  q.kw = 130;  // 130 taps
  q.sw = 7;
  check_config(q, 2, 200, 9, 98);
}

TEST_CASE("maxpool: SPPF chain timing", "[maxpool][timing]") {
  // Not an assertion on speed: prints what three chained 5x5 pools cost on a P5-sized map.
  PoolParams p;
  p.kh = p.kw = 5;
  p.pad_t = p.pad_l = p.pad_b = p.pad_r = 2;
  const int h = 40, w = 40, c = 128;
  auto a = test::random_vector(static_cast<size_t>(h) * w * c, 3);
  std::vector<float> b(a.size()), d(a.size()), e(a.size());
  auto spans = test::full_spans(h, w);
  SpanList sl = make_span_list(spans);
  auto t0 = std::chrono::steady_clock::now();
  const int reps = 20;
  for (int r = 0; r < reps; ++r) {
    maxpool2d(p, dense_map(a.data(), h, w, c), dense_map(b.data(), h, w, c), sl, pool(1));
    maxpool2d(p, dense_map(b.data(), h, w, c), dense_map(d.data(), h, w, c), sl, pool(1));
    maxpool2d(p, dense_map(d.data(), h, w, c), dense_map(e.data(), h, w, c), sl, pool(1));
  }
  double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / reps;
  WARN("SPPF 3 x maxpool 5x5 on 40x40x128, 1 thread, " << isa_name(best_isa()) << ": " << us << " us");
  std::vector<float> ref(a.size());
  maxpool2d_reference(p, dense_map(d.data(), h, w, c), dense_map(ref.data(), h, w, c), sl);
  REQUIRE(same_bits(ref, e));
}
