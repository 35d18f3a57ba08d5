// ConvTranspose2d against the gather-form reference: random shapes, every ISA, 1 and 3 threads.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <cstring>
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


constexpr float kFill = -777.25f;

struct TCase {
  ConvTransposeParams p;
  int ih = 1, iw = 1;
  bool bias = true;
  int in_extra = 0, in_first = 0, out_extra = 0, out_first = 0;
  int oh() const {
    return static_cast<int>(conv_transpose_out_size(ih, p.kh, p.sh, p.pad_t, p.pad_b, p.dh, p.out_pad_h));
  }
  int ow() const {
    return static_cast<int>(conv_transpose_out_size(iw, p.kw, p.sw, p.pad_l, p.pad_r, p.dw, p.out_pad_w));
  }
  std::string str() const {
    std::ostringstream s;
    s << "cin=" << p.cin << " cout=" << p.cout << " k=" << p.kh << "x" << p.kw << " s=" << p.sh << "x" << p.sw
      << " pad=" << p.pad_t << "," << p.pad_l << "," << p.pad_b << "," << p.pad_r << " d=" << p.dh << "x" << p.dw
      << " opad=" << p.out_pad_h << "," << p.out_pad_w << " g=" << p.group << " in=" << ih << "x" << iw
      << " bias=" << bias << " extra=" << in_extra << "," << out_extra;
    return s.str();
  }
};

void check_case(const TCase& tc, CpuIsa isa, int threads, uint32_t seed) {
  INFO(tc.str() << " isa=" << isa_name(isa) << " threads=" << threads);
  const ConvTransposeParams& p0 = tc.p;
  const int oh = tc.oh(), ow = tc.ow();
  REQUIRE(oh >= 1);
  REQUIRE(ow >= 1);
  const int cout_g = p0.cout / p0.group;
  const size_t wn = static_cast<size_t>(p0.cin) * cout_g * p0.kh * p0.kw;
  std::vector<float> weight = random_vector(wn, seed * 5 + 1, -0.3f, 0.3f);
  std::vector<float> bias = random_vector(p0.cout, seed * 5 + 2);
  const float* bptr = tc.bias ? bias.data() : nullptr;
  TestMap in(tc.ih, tc.iw, p0.cin, tc.in_extra, tc.in_first, 5.0f);
  in.randomize(seed * 5 + 3);
  ThreadPool pool(threads);
  std::vector<Span> dense = full_spans(oh, ow);
  const SpanList dense_list = make_span_list(dense);

  ConvTransposeParams pn = p0;
  pn.act = Act::None;
  TestMap ref(oh, ow, p0.cout, tc.out_extra, tc.out_first, kFill);
  conv_transpose2d_reference(pn, weight.data(), bptr, in.view(), ref.view(), dense_list);
  const std::vector<float> ref_none = ref.packed();

  ConvTranspose2d op(pn, weight.data(), bptr, isa);
  TestWorkspace tws(op.workspace_bytes(), threads);
  {
    TestMap out(oh, ow, p0.cout, tc.out_extra, tc.out_first, kFill);
    op.run(in.view(), out.view(), dense_list, pool, tws.ws);
    const std::vector<float> got = out.packed();
    size_t bad = 0;
    for (size_t i = 0; i < got.size(); ++i)
      if (!same_bits(got[i], ref_none[i])) ++bad;
    CHECK(bad == 0);
    CHECK(out.others_untouched(kFill));
    CHECK(out.buf.guards_intact());
  }
  {
    std::vector<Span> sp = random_spans(oh, ow, seed * 5 + 4, 0.4);
    TestMap out(oh, ow, p0.cout, tc.out_extra, tc.out_first, kFill);
    op.run(in.view(), out.view(), make_span_list(sp), pool, tws.ws);
    CHECK(span_mismatches(out.packed(), ref_none, sp, oh, ow, p0.cout, kFill) == 0);
    CHECK(out.others_untouched(kFill));
    CHECK(out.buf.guards_intact());
  }
  for (Act act : {Act::SiLU, Act::Sigmoid}) {
    ConvTransposeParams pa = p0;
    pa.act = act;
    ConvTranspose2d opa(pa, weight.data(), bptr, isa);
    REQUIRE(opa.workspace_bytes() <= tws.ws.bytes_per_thread);
    TestMap out(oh, ow, p0.cout, tc.out_extra, tc.out_first, kFill);
    opa.run(in.view(), out.view(), dense_list, pool, tws.ws);
    TestMap aref(oh, ow, p0.cout, tc.out_extra, tc.out_first, kFill);
    conv_transpose2d_reference(pa, weight.data(), bptr, in.view(), aref.view(), dense_list);
    std::vector<float> expect = ref_none;
    conv_detail::apply_activation_isa(isa, act, expect.data(), static_cast<int>(expect.size()));
    const std::vector<float> got = out.packed(), want = aref.packed();
    size_t bad_bits = 0, bad_tol = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      if (!same_bits(got[i], expect[i])) ++bad_bits;
      if (std::fabs(static_cast<double>(got[i]) - want[i]) > 1e-5 * std::fabs(want[i]) + 1e-6) ++bad_tol;
    }
    CHECK(bad_bits == 0);
    CHECK(bad_tol == 0);
    CHECK(nmse(got.data(), want.data(), got.size()) < 1e-10);
    CHECK(out.buf.guards_intact());
  }
}

int pick(std::mt19937& rng, std::initializer_list<int> v) {
  std::uniform_int_distribution<size_t> d(0, v.size() - 1);
  return *(v.begin() + d(rng));
}

TCase random_case(std::mt19937& rng) {
  std::uniform_int_distribution<int> u01(0, 1);
  for (;;) {
    TCase tc;
    ConvTransposeParams& p = tc.p;
    p.kh = pick(rng, {1, 2, 2, 3, 4, 5});
    p.kw = u01(rng) ? p.kh : pick(rng, {1, 2, 3});
    p.sh = pick(rng, {1, 2, 2, 3});
    p.sw = u01(rng) ? p.sh : pick(rng, {1, 2, 3});
    p.dh = pick(rng, {1, 1, 2});
    p.dw = pick(rng, {1, 1, 2});
    p.pad_t = std::uniform_int_distribution<int>(0, p.kh - 1)(rng);
    p.pad_b = std::uniform_int_distribution<int>(0, p.kh - 1)(rng);
    p.pad_l = std::uniform_int_distribution<int>(0, p.kw - 1)(rng);
    p.pad_r = std::uniform_int_distribution<int>(0, p.kw - 1)(rng);
    p.out_pad_h = std::uniform_int_distribution<int>(0, std::max(p.sh, p.dh) - 1)(rng);
    p.out_pad_w = std::uniform_int_distribution<int>(0, std::max(p.sw, p.dw) - 1)(rng);
    const int kind = std::uniform_int_distribution<int>(0, 5)(rng);
    if (kind < 4) {
      p.group = 1;
      p.cin = pick(rng, {1, 3, 5, 16, 17, 33, 64});
      p.cout = pick(rng, {1, 3, 8, 16, 17, 33, 64, 80});
    } else if (kind == 4) {
      p.cin = p.cout = p.group = pick(rng, {3, 16, 17});
    } else {
      p.group = pick(rng, {2, 3});
      p.cin = p.group * pick(rng, {1, 4, 7});
      p.cout = p.group * pick(rng, {2, 5, 16});
    }
    tc.ih = std::uniform_int_distribution<int>(1, 11)(rng);
    tc.iw = std::uniform_int_distribution<int>(1, 13)(rng);
    tc.bias = u01(rng) || u01(rng);
    if (u01(rng)) {
      tc.in_extra = pick(rng, {1, 7});
      tc.in_first = std::uniform_int_distribution<int>(0, tc.in_extra)(rng);
    }
    if (u01(rng)) {
      tc.out_extra = pick(rng, {2, 16});
      tc.out_first = std::uniform_int_distribution<int>(0, tc.out_extra)(rng);
    }
    if (tc.oh() < 1 || tc.ow() < 1) continue;
    const double macs = static_cast<double>(tc.ih) * tc.iw * p.cin * (p.cout / p.group) * p.kh * p.kw;
    if (macs > 1e6) continue;
    return tc;
  }
}

}  // namespace

TEST_CASE("conv_transpose2d: YOLO11-seg upsampler (k2 s2 p0, 64 -> 64)", "[conv_transpose]") {
  TCase tc;
  tc.p.cin = tc.p.cout = 64;
  tc.p.kh = tc.p.kw = 2;
  tc.p.sh = tc.p.sw = 2;
  tc.ih = 9;
  tc.iw = 13;
  uint32_t seed = 1;
  for (CpuIsa isa : isas())
    for (int threads : {1, 3}) check_case(tc, isa, threads, seed++);
  tc.out_extra = 32;  // written into a concat buffer
  tc.out_first = 16;
  tc.in_extra = 8;
  for (CpuIsa isa : isas()) check_case(tc, isa, 2, seed++);
}

TEST_CASE("conv_transpose2d: common upsampling shapes", "[conv_transpose]") {
  std::vector<TCase> cases;
  {
    TCase t;  // k3 s2 p1 op1 (exact 2x)
    t.p.cin = 17;
    t.p.cout = 33;
    t.p.kh = t.p.kw = 3;
    t.p.sh = t.p.sw = 2;
    t.p.pad_t = t.p.pad_l = t.p.pad_b = t.p.pad_r = 1;
    t.p.out_pad_h = t.p.out_pad_w = 1;
    t.ih = 7;
    t.iw = 6;
    cases.push_back(t);
    t.p.kh = t.p.kw = 4;  // k4 s2 p1
    t.p.out_pad_h = t.p.out_pad_w = 0;
    cases.push_back(t);
  }
  uint32_t seed = 100;
  for (const TCase& t : cases)
    for (CpuIsa isa : isas())
      for (int threads : {1, 3}) check_case(t, isa, threads, seed++);
}

TEST_CASE("conv_transpose2d: random shapes", "[conv_transpose]") {
  std::mt19937 rng(777);
  for (int i = 0; i < 150; ++i) {
    TCase tc = random_case(rng);
    for (CpuIsa isa : isas()) check_case(tc, isa, (i % 2) ? 3 : 1, 1000 + i);
  }
}
