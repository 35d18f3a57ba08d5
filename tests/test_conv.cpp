// Conv2d kernels against the reference, test-backend-ops style: many random shapes, every ISA this CPU
// has, 1 and 3 threads. Pre-activation results must equal the reference bit for bit, sparse (span
// subset) runs must equal dense runs bit for bit, and nothing outside the view / the spans may change.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "op_harness.h"
#include "op_test_common.h"
#include "ops/conv/conv.h"
#include "ops/conv/conv_internal.h"

using namespace fx;
using namespace fx::test;

namespace {


constexpr float kFill = 12345.5f;  // what untouched outputs hold

struct ConvCase {
  ConvParams p;
  int ih = 1, iw = 1;
  bool bias = true;
  int in_extra = 0, in_first = 0, out_extra = 0, out_first = 0;
  std::string str() const {
    std::ostringstream s;
    s << "cin=" << p.cin << " cout=" << p.cout << " k=" << p.kh << "x" << p.kw << " s=" << p.sh << "x" << p.sw
      << " pad=" << p.pad_t << "," << p.pad_l << "," << p.pad_b << "," << p.pad_r << " d=" << p.dh << "x" << p.dw
      << " g=" << p.group << " in=" << ih << "x" << iw << " bias=" << bias << " in_extra=" << in_extra
      << " out_extra=" << out_extra;
    return s.str();
  }
  int oh() const { return static_cast<int>(conv_out_size(ih, p.kh, p.sh, p.pad_t, p.pad_b, p.dh)); }
  int ow() const { return static_cast<int>(conv_out_size(iw, p.kw, p.sw, p.pad_l, p.pad_r, p.dw)); }
};

// Checks one case on one ISA with one thread count. Returns through Catch2 assertions.
void check_case(const ConvCase& cc, CpuIsa isa, int threads, uint32_t seed) {
  INFO(cc.str() << " isa=" << isa_name(isa) << " threads=" << threads << " seed=" << seed);
  const ConvParams& p0 = cc.p;
  const int oh = cc.oh(), ow = cc.ow();
  REQUIRE(oh >= 1);
  REQUIRE(ow >= 1);
  const int cin_g = p0.cin / p0.group;
  const size_t wn = static_cast<size_t>(p0.cout) * cin_g * p0.kh * p0.kw;
  const float wscale = 1.0f / std::sqrt(static_cast<float>(cin_g * p0.kh * p0.kw));
  std::vector<float> weight = random_vector(wn, seed * 7 + 1, -wscale, wscale);
  std::vector<float> bias = random_vector(p0.cout, seed * 7 + 2);
  const float* bptr = cc.bias ? bias.data() : nullptr;

  TestMap in(cc.ih, cc.iw, p0.cin, cc.in_extra, cc.in_first, 3.0f);
  in.randomize(seed * 7 + 3);
  TestMap res(oh, ow, p0.cout, 3, 1, 0.0f);
  res.randomize(seed * 7 + 4);
  const MapView res_view = res.view();
  ThreadPool pool(threads);
  std::vector<Span> dense = full_spans(oh, ow);
  SpanList dense_list = make_span_list(dense);

  // Reference, no activation.
  ConvParams pn = p0;
  pn.act = Act::None;
  TestMap ref(oh, ow, p0.cout, cc.out_extra, cc.out_first, kFill);
  conv2d_reference(pn, weight.data(), bptr, in.view(), ref.view(), nullptr, dense_list);
  const std::vector<float> ref_none = ref.packed();
  REQUIRE(all_finite(ref_none.data(), ref_none.size()));

  // 1. Dense, no activation: bit-exact.
  Conv2d conv(pn, weight.data(), bptr, isa);
  TestWorkspace tws(conv.workspace_bytes(), threads);
  TestMap out(oh, ow, p0.cout, cc.out_extra, cc.out_first, kFill);
  conv.run(in.view(), out.view(), nullptr, dense_list, pool, tws.ws);
  {
    const std::vector<float> got = out.packed();
    size_t bad = 0, first_bad = 0;
    for (size_t i = 0; i < got.size(); ++i)
      if (!same_bits(got[i], ref_none[i])) {
        if (bad++ == 0) first_bad = i;
      }
    INFO("first mismatch at " << first_bad << ": got " << got[first_bad] << " want " << ref_none[first_bad]);
    CHECK(bad == 0);
    CHECK(out.others_untouched(kFill));
    CHECK(out.buf.guards_intact());
    CHECK(in.buf.guards_intact());
  }

  // 2. Span subset: same bits at the spans, everything else untouched.
  {
    std::vector<Span> sp = random_spans(oh, ow, seed * 7 + 5, 0.4);
    TestMap sout(oh, ow, p0.cout, cc.out_extra, cc.out_first, kFill);
    conv.run(in.view(), sout.view(), nullptr, make_span_list(sp), pool, tws.ws);
    CHECK(span_mismatches(sout.packed(), ref_none, sp, oh, ow, p0.cout, kFill) == 0);
    CHECK(sout.others_untouched(kFill));
    CHECK(sout.buf.guards_intact());
  }

  // 3. Activation + residual: equal to apply_activation(reference pre-activation) + residual bit for bit,
  //    and close to the double-precision reference activation.
  for (Act act : {Act::SiLU, Act::Sigmoid}) {
    INFO("act=" << static_cast<int>(act));
    ConvParams pa = p0;
    pa.act = act;
    const bool with_res = act == Act::SiLU;
    Conv2d conva(pa, weight.data(), bptr, isa);
    REQUIRE(conva.workspace_bytes() <= tws.ws.bytes_per_thread);
    std::vector<Span> sp = random_spans(oh, ow, seed * 7 + 6, 0.5);
    SpanList list = (seed % 2) ? make_span_list(sp) : dense_list;
    TestMap aout(oh, ow, p0.cout, cc.out_extra, cc.out_first, kFill);
    conva.run(in.view(), aout.view(), with_res ? &res_view : nullptr, list, pool, tws.ws);
    TestMap aref(oh, ow, p0.cout, cc.out_extra, cc.out_first, kFill);
    conv2d_reference(pa, weight.data(), bptr, in.view(), aref.view(), with_res ? &res_view : nullptr, list);

    std::vector<float> expect = ref_none;
    conv_detail::apply_activation_isa(isa, act, expect.data(), static_cast<int>(expect.size()));
    const std::vector<float> rv = res.packed();
    if (with_res)
      for (size_t i = 0; i < expect.size(); ++i) expect[i] += rv[i];
    std::vector<char> covered(static_cast<size_t>(oh) * ow, 0);
    for (int s = 0; s < list.count; ++s)
      for (int x = list.spans[s].x0; x < list.spans[s].x1; ++x)
        covered[static_cast<size_t>(list.spans[s].y) * ow + x] = 1;
    const std::vector<float> got = aout.packed();
    const std::vector<float> want = aref.packed();
    size_t bad_bits = 0, bad_tol = 0;
    double max_rel = 0;
    std::vector<float> g2, w2;
    for (size_t pos = 0; pos < covered.size(); ++pos)
      for (int c = 0; c < p0.cout; ++c) {
        const size_t i = pos * p0.cout + c;
        if (!covered[pos]) {
          if (!same_bits(got[i], kFill)) ++bad_bits;
          continue;
        }
        if (!same_bits(got[i], expect[i])) ++bad_bits;
        g2.push_back(got[i]);
        w2.push_back(want[i]);
        const double d = std::fabs(static_cast<double>(got[i]) - want[i]);
        const double rel = d / std::max(1e-6, std::fabs(static_cast<double>(want[i])));
        max_rel = std::max(max_rel, rel);
        if (d > 1e-5 * std::fabs(want[i]) + 1e-6) ++bad_tol;
      }
    CHECK(bad_bits == 0);
    CHECK(bad_tol == 0);
    CHECK(all_finite(g2.data(), g2.size()));
    CHECK(nmse(g2.data(), w2.data(), g2.size()) < 1e-10);
    CHECK(aout.others_untouched(kFill));
    CHECK(aout.buf.guards_intact());
  }
}

int pick(std::mt19937& rng, std::initializer_list<int> v) {
  std::uniform_int_distribution<size_t> d(0, v.size() - 1);
  return *(v.begin() + d(rng));
}

ConvCase random_case(std::mt19937& rng) {
  std::uniform_int_distribution<int> u01(0, 1);
  for (;;) {
    ConvCase cc;
    ConvParams& p = cc.p;
    const int kind = std::uniform_int_distribution<int>(0, 9)(rng);
    p.kh = pick(rng, {1, 1, 3, 3, 3, 5, 7, 2});
    p.kw = u01(rng) ? p.kh : pick(rng, {1, 3, 5});
    p.sh = pick(rng, {1, 1, 1, 2, 2, 3});
    p.sw = u01(rng) ? p.sh : pick(rng, {1, 2, 3});
    p.dh = pick(rng, {1, 1, 1, 2});
    p.dw = pick(rng, {1, 1, 2});
    p.pad_t = std::uniform_int_distribution<int>(0, p.kh - 1)(rng);
    p.pad_b = std::uniform_int_distribution<int>(0, p.kh - 1)(rng);
    p.pad_l = std::uniform_int_distribution<int>(0, p.kw - 1)(rng);
    p.pad_r = std::uniform_int_distribution<int>(0, p.kw - 1)(rng);
    if (kind < 6) {
      p.group = 1;
      p.cin = pick(rng, {1, 3, 5, 8, 16, 17, 32, 33, 64});
      p.cout = pick(rng, {1, 3, 5, 8, 16, 17, 32, 33, 48, 64, 80, 96, 130});
    } else if (kind < 8) {  // depthwise
      p.cin = p.cout = p.group = pick(rng, {1, 3, 5, 16, 17, 33, 64, 80});
    } else {  // general grouped
      p.group = pick(rng, {2, 3, 4});
      p.cin = p.group * pick(rng, {1, 2, 5, 8, 16});
      p.cout = p.group * pick(rng, {1, 3, 8, 17, 32});
    }
    cc.ih = std::uniform_int_distribution<int>(1, 19)(rng);
    cc.iw = std::uniform_int_distribution<int>(1, 23)(rng);
    cc.bias = std::uniform_int_distribution<int>(0, 4)(rng) != 0;
    if (u01(rng)) {
      cc.in_extra = pick(rng, {1, 3, 16});
      cc.in_first = std::uniform_int_distribution<int>(0, cc.in_extra)(rng);
    }
    if (u01(rng)) {
      cc.out_extra = pick(rng, {1, 5, 16});
      cc.out_first = std::uniform_int_distribution<int>(0, cc.out_extra)(rng);
    }
    if (cc.oh() < 1 || cc.ow() < 1) continue;
    const double macs = static_cast<double>(cc.oh()) * cc.ow() * p.cout * (p.cin / p.group) * p.kh * p.kw;
    if (macs > 1.5e6) continue;
    return cc;
  }
}

ConvCase make_case(int cin, int cout, int k, int s, int pad, int ih, int iw, int group = 1) {
  ConvCase cc;
  cc.p.cin = cin;
  cc.p.cout = cout;
  cc.p.kh = cc.p.kw = k;
  cc.p.sh = cc.p.sw = s;
  cc.p.pad_t = cc.p.pad_l = cc.p.pad_b = cc.p.pad_r = pad;
  cc.p.group = group;
  cc.ih = ih;
  cc.iw = iw;
  return cc;
}

}  // namespace

TEST_CASE("conv2d: YOLO-like shapes match the reference bit for bit", "[conv]") {
  std::vector<ConvCase> cases = {
      make_case(3, 16, 3, 2, 1, 17, 22),       // stem
      make_case(16, 32, 3, 2, 1, 12, 13),      // downsample
      make_case(32, 32, 1, 1, 0, 9, 11),       // 1x1
      make_case(48, 64, 1, 1, 0, 7, 9),        // 1x1, 4-vector panel
      make_case(64, 80, 1, 1, 0, 6, 7),        // 80 = 48 + 32
      make_case(64, 64, 3, 1, 1, 9, 10),       // K = 576: several K blocks
      make_case(128, 64, 3, 1, 1, 5, 6),       // K = 1152
      make_case(512, 256, 1, 1, 0, 3, 5),      // K = 512, 4 panels
      make_case(80, 80, 3, 1, 1, 7, 9, 80),    // depthwise
      make_case(64, 64, 3, 2, 1, 9, 9, 64),    // depthwise stride 2
      make_case(32, 16, 3, 1, 1, 8, 8),        // cout 16
      make_case(16, 8, 3, 1, 1, 8, 8),         // cout 8
      make_case(64, 64, 5, 1, 2, 7, 7, 64),    // depthwise 5x5
  };
  cases[2].out_extra = 32;  // a channel slice of a concat
  cases[2].out_first = 16;
  cases[3].in_extra = 16;
  cases[3].in_first = 8;
  uint32_t seed = 1;
  for (const ConvCase& cc : cases)
    for (CpuIsa isa : isas())
      for (int threads : {1, 3}) check_case(cc, isa, threads, seed++);
}

// Forces small K blocks (partial sums carried through the tile) and small chunks while alive.
struct SmallBlocking {
  SmallBlocking() { conv_detail::set_conv_blocking(1024, 2048); }
  ~SmallBlocking() { conv_detail::set_conv_blocking(0, 0); }
};

TEST_CASE("conv2d: random shapes match the reference bit for bit", "[conv]") {
  std::mt19937 rng(20240611);
  const int n = 300;
  for (int i = 0; i < n; ++i) {
    ConvCase cc = random_case(rng);
    std::unique_ptr<SmallBlocking> blocking;
    if (i % 3 == 2) blocking = std::make_unique<SmallBlocking>();
    for (CpuIsa isa : isas()) check_case(cc, isa, (i % 2) ? 3 : 1, 1000 + i);
  }
}

TEST_CASE("conv2d: K blocking carries the chain (bit for bit)", "[conv]") {
  SmallBlocking blocking;
  std::vector<ConvCase> cases = {
      make_case(64, 64, 3, 1, 1, 9, 10),    // K = 576 in blocks of 16
      make_case(33, 80, 3, 2, 1, 11, 9),    // 80 = 48 + 32: two panel widths
      make_case(128, 40, 1, 1, 0, 5, 7),    // 1x1, direct A
      make_case(17, 8, 5, 1, 2, 6, 7),      // 5x5, cout 8
  };
  cases[2].in_extra = 16;
  uint32_t seed = 500;
  for (const ConvCase& cc : cases)
    for (CpuIsa isa : isas())
      for (int threads : {1, 3}) check_case(cc, isa, threads, seed++);
}

TEST_CASE("conv2d: results do not depend on the thread count", "[conv]") {
  ConvCase cc = make_case(33, 70, 3, 1, 1, 13, 15);
  cc.p.act = Act::SiLU;
  std::vector<float> weight = random_vector(static_cast<size_t>(70) * 33 * 9, 5, -0.2f, 0.2f);
  std::vector<float> bias = random_vector(70, 6);
  TestMap in(13, 15, 33);
  in.randomize(7);
  for (CpuIsa isa : isas()) {
    Conv2d conv(cc.p, weight.data(), bias.data(), isa);
    std::vector<std::vector<float>> results;
    for (int threads : {1, 2, 3}) {
      ThreadPool pool(threads);
      TestWorkspace tws(conv.workspace_bytes(), threads);
      TestMap out(13, 15, 70);
      std::vector<Span> sp = full_spans(13, 15);
      conv.run(in.view(), out.view(), nullptr, make_span_list(sp), pool, tws.ws);
      results.push_back(out.packed());
    }
    CHECK(std::memcmp(results[0].data(), results[1].data(), results[0].size() * 4) == 0);
    CHECK(std::memcmp(results[0].data(), results[2].data(), results[0].size() * 4) == 0);
  }
}

TEST_CASE("conv2d: many short spans on many threads equal the dense result", "[conv]") {
  for (int k : {1, 3}) {
    ConvParams p;
    p.cin = 24;
    p.cout = 40;
    p.kh = p.kw = k;
    p.pad_t = p.pad_l = p.pad_b = p.pad_r = k / 2;
    p.act = Act::SiLU;
    std::vector<float> weight = random_vector(static_cast<size_t>(40) * 24 * k * k, 41, -0.3f, 0.3f);
    std::vector<float> bias = random_vector(40, 42);
    TestMap in(61, 67, 24);
    in.randomize(43);
    std::vector<Span> dense = full_spans(61, 67);
    std::vector<Span> sparse;
    std::mt19937 rng(44);
    for (int y = 0; y < 61; ++y)
      for (int x = 0; x < 67;) {
        const int len = 1 + static_cast<int>(rng() % 4);
        if (rng() % 3) sparse.push_back({y, x, std::min(67, x + len)});
        x += len + static_cast<int>(rng() % 3);
      }
    for (CpuIsa isa : isas()) {
      INFO("isa=" << isa_name(isa) << " k=" << k << " spans=" << sparse.size());
      Conv2d conv(p, weight.data(), bias.data(), isa);
      ThreadPool pool(4);
      TestWorkspace tws(conv.workspace_bytes(), 4);
      TestMap a(61, 67, 40, 0, 0, kFill), b(61, 67, 40, 0, 0, kFill);
      conv.run(in.view(), a.view(), nullptr, make_span_list(dense), pool, tws.ws);
      conv.run(in.view(), b.view(), nullptr, make_span_list(sparse), pool, tws.ws);
      CHECK(span_mismatches(b.packed(), a.packed(), sparse, 61, 67, 40, kFill) == 0);
      CHECK(b.buf.guards_intact());
    }
  }
}

TEST_CASE("conv2d: every ISA gives the same bits, activations included", "[conv]") {
  ConvParams p;
  p.cin = 19;
  p.cout = 45;
  p.kh = p.kw = 3;
  p.pad_t = p.pad_l = p.pad_b = p.pad_r = 1;
  p.act = Act::SiLU;
  std::vector<float> weight = random_vector(static_cast<size_t>(45) * 19 * 9, 11, -0.3f, 0.3f);
  std::vector<float> bias = random_vector(45, 12);
  TestMap in(11, 12, 19);
  in.randomize(13, -3.f, 3.f);
  std::vector<std::vector<float>> results;
  for (CpuIsa isa : isas()) {
    Conv2d conv(p, weight.data(), bias.data(), isa);
    ThreadPool pool(2);
    TestWorkspace tws(conv.workspace_bytes(), 2);
    TestMap out(11, 12, 45);
    std::vector<Span> sp = full_spans(11, 12);
    conv.run(in.view(), out.view(), nullptr, make_span_list(sp), pool, tws.ws);
    results.push_back(out.packed());
  }
  for (size_t i = 1; i < results.size(); ++i)
    CHECK(std::memcmp(results[0].data(), results[i].data(), results[0].size() * 4) == 0);
}

TEST_CASE("conv2d: NaN and Inf propagate like the reference", "[conv]") {
  for (int group : {1, 8}) {
    ConvParams p;
    p.cin = 8;
    p.cout = group == 1 ? 20 : 8;
    p.group = group;
    p.kh = p.kw = 3;
    p.pad_t = p.pad_l = p.pad_b = p.pad_r = 1;
    const int cin_g = p.cin / group;
    std::vector<float> weight = random_vector(static_cast<size_t>(p.cout) * cin_g * 9, 21, -0.3f, 0.3f);
    std::vector<float> bias = random_vector(p.cout, 22);
    TestMap in(9, 10, 8);
    in.randomize(23);
    in.view().at(4, 5)[3] = std::nanf("");
    in.view().at(0, 0)[1] = INFINITY;
    TestMap ref(9, 10, p.cout);
    std::vector<Span> sp = full_spans(9, 10);
    conv2d_reference(p, weight.data(), bias.data(), in.view(), ref.view(), nullptr, make_span_list(sp));
    const std::vector<float> want = ref.packed();
    for (CpuIsa isa : isas()) {
      INFO("isa=" << isa_name(isa) << " group=" << group);
      Conv2d conv(p, weight.data(), bias.data(), isa);
      ThreadPool pool(1);
      TestWorkspace tws(conv.workspace_bytes(), 1);
      TestMap out(9, 10, p.cout);
      conv.run(in.view(), out.view(), nullptr, make_span_list(sp), pool, tws.ws);
      const std::vector<float> got = out.packed();
      size_t bad = 0, nans = 0;
      for (size_t i = 0; i < got.size(); ++i) {
        if (std::isnan(want[i])) {
          ++nans;
          if (!std::isnan(got[i])) ++bad;
        } else if (!same_bits(got[i], want[i])) {
          ++bad;
        }
      }
      CHECK(nans > 0);
      CHECK(bad == 0);
    }
  }
}

TEST_CASE("apply_activation: accurate, position independent, same bits on every ISA", "[conv][act]") {
  std::vector<float> x = random_vector(1000, 31, -30.f, 30.f);
  std::vector<float> more = random_vector(200, 32, -200.f, 200.f);
  x.insert(x.end(), more.begin(), more.end());
  for (float v : {0.0f, -0.0f, 1e-30f, -1e-30f, 1e-8f, 87.0f, -87.0f, 88.5f, -88.5f, 89.f, -89.f, 100.f, -100.f,
                  1e30f, -1e30f, INFINITY, -INFINITY, 3.4e38f, -3.4e38f, 80.f, 80.5f, -80.f, -88.7f, -88.72f,
                  -88.73f, 1e-40f, -1e-40f})
    x.push_back(v);
  for (float v = -95.f; v < 95.f; v += 0.0137f) x.push_back(v);  // a dense sweep
  const size_t n_special_nan = x.size();
  x.push_back(std::nanf(""));
  for (Act act : {Act::SiLU, Act::Sigmoid}) {
    INFO("act=" << static_cast<int>(act));
    std::vector<std::vector<float>> per_isa;
    for (CpuIsa isa : isas()) {
      std::vector<float> y = x;
      conv_detail::apply_activation_isa(isa, act, y.data(), static_cast<int>(y.size()));
      per_isa.push_back(y);
      // Position independence: every offset and length gives the same bits.
      for (int off : {0, 1, 3, 7, 13}) {
        for (int len : {1, 5, 15, 16, 17, 33}) {
          std::vector<float> z(x.begin() + off, x.begin() + off + len);
          conv_detail::apply_activation_isa(isa, act, z.data(), len);
          for (int i = 0; i < len; ++i) CHECK(same_bits(z[i], y[off + i]));
        }
      }
      CHECK(std::isnan(y[n_special_nan]));
    }
    for (size_t i = 1; i < per_isa.size(); ++i)
      for (size_t j = 0; j < n_special_nan; ++j) {
        INFO("x=" << x[j] << " isa " << i);
        CHECK(same_bits(per_isa[0][j], per_isa[i][j]));
      }
    // Accuracy against double precision.
    const std::vector<float>& y = per_isa.back();
    double max_rel = 0;
    std::vector<float> got, want;
    for (size_t j = 0; j < n_special_nan; ++j) {
      const double xd = x[j];
      double r = act == Act::SiLU ? xd / (1.0 + std::exp(-xd)) : 1.0 / (1.0 + std::exp(-xd));
      if (std::isnan(r)) continue;
      const double d = y[j] == r ? 0.0 : std::fabs(y[j] - r);
      INFO("x=" << x[j] << " got=" << y[j] << " want=" << r);
      CHECK(d <= 1e-5 * std::fabs(r) + 1e-30);
      if (std::fabs(r) > 1e-30) max_rel = std::max(max_rel, d / std::fabs(r));
      if (std::isfinite(r)) {
        got.push_back(y[j]);
        want.push_back(static_cast<float>(r));
      }
    }
    CHECK(max_rel < 1e-6);
    CHECK(nmse(got.data(), want.data(), got.size()) < 1e-12);
  }
  // apply_activation (the public entry) agrees with the best ISA.
  std::vector<float> a = x, b = x;
  apply_activation(Act::SiLU, a.data(), static_cast<int>(a.size()));
  conv_detail::apply_activation_isa(best_isa(), Act::SiLU, b.data(), static_cast<int>(b.size()));
  for (size_t j = 0; j < n_special_nan; ++j) CHECK(same_bits(a[j], b[j]));
}
