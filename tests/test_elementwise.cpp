// Element-wise ops (ops/elementwise/elementwise.h):
//  - binary Add/Sub/Mul/Div on NHWC maps (map / per-channel / scalar operands) and on plain tensors
//    with numpy broadcasting: bit-equal to the reference (IEEE operations, same operand order);
//  - Sigmoid / SiLU: within 2e-6 relative (plus a tiny absolute floor) of the std::exp reference, and
//    bit-identical across ISAs, thread counts and span lists;
//  - copy_channels: exact;
// every ISA this CPU has, 1 and 3 threads, span subsets, channel-slice views, guard zones, NaN/Inf.
#include <catch2/catch.hpp>

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
#include "ops/elementwise/elementwise.h"

using namespace fx;
using fx::test::Guarded;
using fx::test::TestMap;

namespace {

using fx::test::IsaScope;
using fx::test::isas;
using fx::test::pool;
using fx::test::same_bits;


const float kFill = 42.5f;
const BinaryOp kOps[] = {BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div};
const char* op_name(BinaryOp op) {
  switch (op) {
    case BinaryOp::Add: return "add";
    case BinaryOp::Sub: return "sub";
    case BinaryOp::Mul: return "mul";
    case BinaryOp::Div: return "div";
  }
  return "?";
}

std::vector<char> span_mask(const std::vector<Span>& spans, int h, int w) {
  std::vector<char> m(static_cast<size_t>(h) * w, 0);
  for (const Span& s : spans)
    for (int x = s.x0; x < s.x1; ++x) m[static_cast<size_t>(s.y) * w + x] = 1;
  return m;
}

// Positions in the mask hold `expect`, the others kFill.
bool matches_masked(const std::vector<float>& got, const std::vector<float>& expect, const std::vector<char>& mask,
                    int c) {
  for (size_t px = 0; px < mask.size(); ++px)
    for (int ch = 0; ch < c; ++ch)
      if (!Guarded::same_bits(got[px * c + ch], mask[px] ? expect[px * c + ch] : kFill)) return false;
  return true;
}

// Operands of one local binary test.
struct LocalCase {
  TestMap a, b;
  std::vector<float> ca, cb;  // per-channel / scalar values
  LocalOperand oa, ob;
  LocalCase(int h, int w, int c, LocalOperand::Kind ka, LocalOperand::Kind kb, uint32_t seed)
      : a(h, w, c, seed % 2 ? 5 : 0, seed % 2 ? 4 : 0), b(h, w, c, seed % 3 ? 0 : 2, 0), ca(c), cb(c) {
    a.randomize(seed, -2.f, 2.f);
    b.randomize(seed + 1, 0.25f, 2.f);  // keep divisors away from 0
    test::fill_uniform(ca.data(), ca.size(), seed + 2, -2.f, 2.f);
    test::fill_uniform(cb.data(), cb.size(), seed + 3, 0.5f, 2.f);
    oa = make(ka, a, ca);
    ob = make(kb, b, cb);
  }
  static LocalOperand make(LocalOperand::Kind k, TestMap& m, std::vector<float>& v) {
    LocalOperand o;
    o.kind = k;
    if (k == LocalOperand::Map) o.map = m.view();
    else o.values = v.data();
    return o;
  }
};

void check_local_binary(int h, int w, int c, uint32_t seed) {
  const LocalOperand::Kind kinds[] = {LocalOperand::Map, LocalOperand::Channels, LocalOperand::Scalar};
  auto full = test::full_spans(h, w);
  auto sub = test::random_spans(h, w, seed + 7, 0.4);
  const auto mask = span_mask(sub, h, w);
  const int out_extra = seed % 2 ? 3 : 0;
  for (auto ka : kinds)
    for (auto kb : kinds) {
      if (ka != LocalOperand::Map && kb != LocalOperand::Map) continue;
      LocalCase lc(h, w, c, ka, kb, seed);
      for (BinaryOp op : kOps) {
        TestMap ref(h, w, c, out_extra, out_extra ? 1 : 0, kFill);
        binary_local_reference(op, lc.oa, lc.ob, ref.view(), make_span_list(full));
        const std::vector<float> expect = ref.packed();
        REQUIRE(test::all_finite(expect.data(), expect.size()));
        for (CpuIsa isa : isas()) {
          IsaScope scope(isa);
          for (int threads : {1, 3}) {
            INFO(isa_name(isa) << " threads " << threads << " " << op_name(op) << " kinds " << int(ka) << ","
                               << int(kb) << " map " << h << "x" << w << "x" << c);
            TestMap out(h, w, c, out_extra, out_extra ? 1 : 0, kFill);
            binary_local(op, lc.oa, lc.ob, out.view(), make_span_list(full), pool(threads));
            std::vector<float> got = out.packed();
            REQUIRE(same_bits(got.data(), expect.data(), got.size()));
            REQUIRE(out.buf.guards_intact());
            REQUIRE(out.others_untouched(kFill));
            TestMap part(h, w, c, out_extra, out_extra ? 1 : 0, kFill);
            binary_local(op, lc.oa, lc.ob, part.view(), make_span_list(sub), pool(threads));
            REQUIRE(matches_masked(part.packed(), expect, mask, c));
            REQUIRE(part.buf.guards_intact());
            REQUIRE(part.others_untouched(kFill));
          }
        }
      }
    }
}

float sigmoid_ref(float x) { return 1.f / (1.f + std::exp(-x)); }

// |got - ref| <= 2e-6 |ref| + 1e-40 for every element (the floor covers subnormal rounding).
bool close_rel(const float* got, const float* ref, size_t n, double* worst = nullptr) {
  double w = 0;
  bool ok = true;
  for (size_t i = 0; i < n; ++i) {
    double d = std::fabs(static_cast<double>(got[i]) - ref[i]);
    double r = d / (std::fabs(static_cast<double>(ref[i])) + 1e-30);
    if (std::fabs(ref[i]) > 1e-30 && r > w) w = r;
    // Kernels run with denormals flushed to zero (see ops/thread_pool.h): a result whose computation
    // passes through the subnormal range (sigmoid below -87, SiLU there) may come out as 0.
    if (d > 2e-6 * std::fabs(static_cast<double>(ref[i])) + 1e-30) ok = false;
  }
  if (worst) *worst = w;
  return ok;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// Binary, local

TEST_CASE("binary_local reference: hand-computed operands", "[elementwise]") {
  // 1 x 2 map, 3 channels.
  std::vector<float> a = {1, 2, 3, 4, 5, 6}, b = {6, 5, 4, 3, 2, 1};
  std::vector<float> chan = {10, 20, 40};
  float scalar = 2.f;
  std::vector<float> out(6);
  auto spans = test::full_spans(1, 2);
  LocalOperand oa;
  oa.map = dense_map(a.data(), 1, 2, 3);
  LocalOperand ob;
  ob.map = dense_map(b.data(), 1, 2, 3);
  LocalOperand oc;
  oc.kind = LocalOperand::Channels;
  oc.values = chan.data();
  LocalOperand os;
  os.kind = LocalOperand::Scalar;
  os.values = &scalar;
  MapView ov = dense_map(out.data(), 1, 2, 3);
  binary_local_reference(BinaryOp::Sub, oa, ob, ov, make_span_list(spans));
  CHECK(out == std::vector<float>{-5, -3, -1, 1, 3, 5});
  binary_local_reference(BinaryOp::Div, oc, oa, ov, make_span_list(spans));  // channels / map
  CHECK(out == std::vector<float>{10.f / 1, 20.f / 2, 40.f / 3, 10.f / 4, 20.f / 5, 40.f / 6});
  binary_local_reference(BinaryOp::Mul, oa, os, ov, make_span_list(spans));
  CHECK(out == std::vector<float>{2, 4, 6, 8, 10, 12});
  binary_local_reference(BinaryOp::Add, os, ob, ov, make_span_list(spans));
  CHECK(out == std::vector<float>{8, 7, 6, 5, 4, 3});
}

TEST_CASE("binary_local: random maps, every operand kind and op", "[elementwise]") {
  uint32_t seed = 10;
  for (int c : {1, 3, 17, 33, 64, 130}) {
    check_local_binary(5, 7, c, seed++);
    check_local_binary(1, 3, c, seed++);
  }
  check_local_binary(20, 20, 64, 99);
}

TEST_CASE("binary_local: in place (out aliases an operand)", "[elementwise]") {
  const int h = 6, w = 9, c = 37;
  TestMap a(h, w, c, 3, 1), b(h, w, c);
  a.randomize(1);
  b.randomize(2);
  const std::vector<float> a0 = a.packed(), b0 = b.packed();
  std::vector<float> expect(a0.size());
  for (size_t i = 0; i < a0.size(); ++i) expect[i] = a0[i] + b0[i];
  auto full = test::full_spans(h, w);
  for (CpuIsa isa : isas()) {
    IsaScope scope(isa);
    TestMap x(h, w, c, 3, 1);
    x.randomize(1);
    LocalOperand oa, ob;
    oa.map = x.view();
    ob.map = b.view();
    binary_local(BinaryOp::Add, oa, ob, x.view(), make_span_list(full), pool(3));
    std::vector<float> got = x.packed();
    REQUIRE(same_bits(got.data(), expect.data(), got.size()));
  }
}

TEST_CASE("binary_local: NaN, Inf and division by zero follow IEEE like the reference", "[elementwise]") {
  const int h = 3, w = 4, c = 19;
  TestMap a(h, w, c), b(h, w, c);
  a.randomize(3);
  b.randomize(4);
  MapView av = a.view(), bv = b.view();
  const float specials[] = {0.f, -0.f, std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN()};
  std::mt19937 rng(5);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int ch = 0; ch < c; ++ch) {
        if (rng() % 3 == 0) av.at(y, x)[ch] = specials[rng() % 5];
        if (rng() % 3 == 0) bv.at(y, x)[ch] = specials[rng() % 5];
      }
  LocalOperand oa, ob;
  oa.map = av;
  ob.map = bv;
  auto full = test::full_spans(h, w);
  for (BinaryOp op : kOps) {
    TestMap ref(h, w, c);
    binary_local_reference(op, oa, ob, ref.view(), make_span_list(full));
    std::vector<float> expect = ref.packed();
    for (CpuIsa isa : isas()) {
      IsaScope scope(isa);
      TestMap out(h, w, c);
      binary_local(op, oa, ob, out.view(), make_span_list(full), pool(1));
      std::vector<float> got = out.packed();
      for (size_t i = 0; i < got.size(); ++i) {
        INFO(isa_name(isa) << " " << op_name(op) << " element " << i);
        if (std::isnan(expect[i])) REQUIRE(std::isnan(got[i]));
        else REQUIRE(Guarded::same_bits(got[i], expect[i]));
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Unary

TEST_CASE("unary reference: hand values", "[elementwise]") {
  float in[5] = {0.f, 1.f, -1.f, 100.f, -100.f}, out[5];
  unary_plain_reference(UnaryOp::Sigmoid, in, out, 5);
  CHECK(out[0] == 0.5f);
  CHECK(out[1] == Approx(0.7310585786).epsilon(1e-7));
  CHECK(out[2] == Approx(0.2689414214).epsilon(1e-7));
  CHECK(out[3] == 1.f);
  CHECK(out[4] > 3.5e-44);  // e^-100 (27 x 2^-149), subnormal: the reference keeps the far tail
  CHECK(out[4] < 3.9e-44);
  unary_plain_reference(UnaryOp::SiLU, in, out, 5);
  CHECK(out[0] == 0.f);
  CHECK(out[1] == Approx(0.7310585786).epsilon(1e-7));
  CHECK(out[2] == Approx(-0.2689414214).epsilon(1e-7));
  CHECK(out[3] == 100.f);
  CHECK(out[4] < -3.6e-42);
  CHECK(out[4] > -3.9e-42);
}

TEST_CASE("unary_plain: accuracy, ISA- and thread-independent bits", "[elementwise]") {
  const size_t n = 200003;
  std::vector<float> x(n);
  test::fill_uniform(x.data(), n, 9, -30.f, 30.f);
  for (size_t i = 4000; i < 6000; ++i) x[i] = -80.f - (static_cast<float>(i) - 4000.f) * 0.015f;  // tail
  for (size_t i = 0; i < 2000; ++i) x[i] = (static_cast<float>(i) - 1000.f) * 0.1f;  // a dense grid
  for (size_t i = 2000; i < 4000; ++i) x[i] = (static_cast<float>(i) - 3000.f) * 1e-4f;
  for (UnaryOp op : {UnaryOp::Sigmoid, UnaryOp::SiLU}) {
    std::vector<float> ref(n);
    unary_plain_reference(op, x.data(), ref.data(), n);
    std::vector<float> first;
    for (CpuIsa isa : isas()) {
      IsaScope scope(isa);
      for (int threads : {1, 3}) {
        INFO(isa_name(isa) << " threads " << threads << " op " << int(op));
        Guarded out(n);
        unary_plain(op, x.data(), out.data(), n, pool(threads));
        REQUIRE(out.guards_intact());
        double worst = 0;
        REQUIRE(close_rel(out.data(), ref.data(), n, &worst));
        REQUIRE(test::nmse(out.data(), ref.data(), n) < 1e-13);
        if (first.empty()) first.assign(out.data(), out.data() + n);
        else REQUIRE(same_bits(first.data(), out.data(), n));  // identical on every ISA and thread count
        // Unaligned starts and odd lengths (tails) give the same bits per element.
        for (size_t off : {size_t{1}, size_t{7}, size_t{13}}) {
          std::vector<float> part(45);
          unary_plain(op, x.data() + off, part.data(), 45, pool(threads));
          REQUIRE(same_bits(part.data(), first.data() + off, 45));
        }
      }
    }
  }
}

TEST_CASE("unary: extreme inputs, NaN and Inf", "[elementwise]") {
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> x = {-200.f, -88.f, -87.f, -50.f, -1e-30f, -0.f, 0.f, 1e-30f, 17.f, 50.f, 88.f, 200.f,
                          inf,    -inf,  std::numeric_limits<float>::quiet_NaN()};
  for (CpuIsa isa : isas()) {
    IsaScope scope(isa);
    std::vector<float> s(x.size()), si(x.size());
    unary_plain(UnaryOp::Sigmoid, x.data(), s.data(), static_cast<int64_t>(x.size()), pool(1));
    unary_plain(UnaryOp::SiLU, x.data(), si.data(), static_cast<int64_t>(x.size()), pool(1));
    INFO(isa_name(isa));
    CHECK(s[0] == 0.f);
    CHECK(si[0] == 0.f);
    CHECK(s[1] == 0.f);  // e^-88 is subnormal: kernels run with denormals flushed to zero
    CHECK(s[2] == Approx(sigmoid_ref(-87.f)).epsilon(1e-5));
    CHECK(s[3] == Approx(sigmoid_ref(-50.f)).epsilon(2e-6));
    CHECK(s[4] == 0.5f);
    CHECK(s[5] == 0.5f);
    CHECK(s[6] == 0.5f);
    CHECK(si[5] == 0.f);
    CHECK(s[8] == Approx(sigmoid_ref(17.f)).epsilon(1e-7));
    CHECK(s[9] == 1.f);
    CHECK(si[11] == 200.f);
    CHECK(s[12] == 1.f);
    CHECK(si[12] == inf);
    CHECK(s[13] == 0.f);
    CHECK(std::isnan(si[13]));  // -inf * 0, as in the reference
    CHECK(std::isnan(s[14]));
    CHECK(std::isnan(si[14]));
    for (size_t i = 0; i + 3 < x.size(); ++i) CHECK(std::isfinite(s[i]));
  }
}

TEST_CASE("unary_local: views, spans, guards", "[elementwise]") {
  uint32_t seed = 50;
  for (int c : {1, 3, 17, 33, 64, 130})
    for (UnaryOp op : {UnaryOp::Sigmoid, UnaryOp::SiLU}) {
      const int h = 4 + seed % 3, w = 5 + seed % 4;
      TestMap in(h, w, c, seed % 2 ? 6 : 0, seed % 2 ? 2 : 0);
      in.randomize(seed, -8.f, 8.f);
      const int oe = seed % 3 ? 1 : 0;
      TestMap ref(h, w, c, oe, 0, kFill);
      auto full = test::full_spans(h, w);
      auto sub = test::random_spans(h, w, seed + 1, 0.4);
      auto mask = span_mask(sub, h, w);
      unary_local_reference(op, in.view(), ref.view(), make_span_list(full));
      std::vector<float> expect = ref.packed();
      std::vector<float> first;
      for (CpuIsa isa : isas()) {
        IsaScope scope(isa);
        for (int threads : {1, 3}) {
          INFO(isa_name(isa) << " threads " << threads << " c " << c);
          TestMap out(h, w, c, oe, 0, kFill);
          unary_local(op, in.view(), out.view(), make_span_list(full), pool(threads));
          std::vector<float> got = out.packed();
          REQUIRE(close_rel(got.data(), expect.data(), got.size()));
          REQUIRE(out.buf.guards_intact());
          REQUIRE(out.others_untouched(kFill));
          if (first.empty()) first = got;
          else REQUIRE(same_bits(first.data(), got.data(), got.size()));
          TestMap part(h, w, c, oe, 0, kFill);
          unary_local(op, in.view(), part.view(), make_span_list(sub), pool(threads));
          REQUIRE(matches_masked(part.packed(), first, mask, c));
          REQUIRE(part.others_untouched(kFill));
          REQUIRE(part.buf.guards_intact());
        }
      }
      // In place.
      TestMap io(h, w, c, seed % 2 ? 6 : 0, seed % 2 ? 2 : 0);
      io.randomize(seed, -8.f, 8.f);
      unary_local(op, io.view(), io.view(), make_span_list(full), pool(3));
      std::vector<float> got = io.packed();
      REQUIRE(same_bits(got.data(), first.data(), got.size()));
      ++seed;
    }
}

// ---------------------------------------------------------------------------------------------------
// copy_channels

TEST_CASE("copy_channels: concat / split on channel slices", "[elementwise]") {
  uint32_t seed = 70;
  for (int c : {1, 3, 4, 17, 64, 130}) {
    const int h = 5, w = 6;
    // in: a channel slice of a wider map; out: a slice of another (a concat target).
    TestMap in(h, w, c, 5, 2);
    in.randomize(seed);
    const std::vector<float> expect = in.packed();
    auto full = test::full_spans(h, w);
    auto sub = test::random_spans(h, w, seed + 1, 0.5);
    auto mask = span_mask(sub, h, w);
    for (int threads : {1, 3}) {
      for (int extra : {0, 9}) {
        TestMap out(h, w, c, extra, extra ? 4 : 0, kFill);
        copy_channels(in.view(), out.view(), make_span_list(full), pool(threads));
        std::vector<float> got = out.packed();
        REQUIRE(same_bits(got.data(), expect.data(), got.size()));
        REQUIRE(out.others_untouched(kFill));
        REQUIRE(out.buf.guards_intact());
        TestMap part(h, w, c, extra, extra ? 4 : 0, kFill);
        copy_channels(in.view(), part.view(), make_span_list(sub), pool(threads));
        REQUIRE(matches_masked(part.packed(), expect, mask, c));
        REQUIRE(part.others_untouched(kFill));
        REQUIRE(part.buf.guards_intact());
      }
    }
    // Dense to dense (one contiguous run per span).
    TestMap d_in(h, w, c), d_out(h, w, c, 0, 0, kFill);
    d_in.randomize(seed + 5);
    copy_channels(d_in.view(), d_out.view(), make_span_list(full), pool(1));
    std::vector<float> a = d_in.packed(), b = d_out.packed();
    REQUIRE(same_bits(a.data(), b.data(), a.size()));
    ++seed;
  }
}

// ---------------------------------------------------------------------------------------------------
// Binary, plain (numpy broadcasting)

TEST_CASE("binary_plain reference: numpy broadcasting by hand", "[elementwise]") {
  // [2,1,3] + [4,1] -> [2,4,3]: out[i][j][k] = a[i][0][k] + b[j][0].
  std::vector<float> a = {1, 2, 3, 4, 5, 6};
  std::vector<float> b = {10, 20, 30, 40};
  std::vector<float> out(24);
  binary_plain_reference(BinaryOp::Add, a.data(), Shape{2, 1, 3}, b.data(), Shape{4, 1}, out.data(),
                         Shape{2, 4, 3});
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 4; ++j)
      for (int k = 0; k < 3; ++k) CHECK(out[(i * 4 + j) * 3 + k] == a[i * 3 + k] + b[j]);
  // Scalar (rank 0) divided by a vector, operand order kept.
  float s = 1.f;
  std::vector<float> v = {2, 4, 8};
  std::vector<float> o3(3);
  binary_plain_reference(BinaryOp::Div, &s, Shape{}, v.data(), Shape{3}, o3.data(), Shape{3});
  CHECK(o3 == std::vector<float>{0.5f, 0.25f, 0.125f});
  binary_plain_reference(BinaryOp::Sub, v.data(), Shape{3}, &s, Shape{1}, o3.data(), Shape{3});
  CHECK(o3 == std::vector<float>{1, 3, 7});

  // The optimised version on the same cases, every ISA.
  for (CpuIsa isa : isas()) {
    IsaScope scope(isa);
    std::vector<float> o(24);
    binary_plain(BinaryOp::Add, a.data(), Shape{2, 1, 3}, b.data(), Shape{4, 1}, o.data(), Shape{2, 4, 3}, pool(3));
    CHECK(o == out);
  }
}

TEST_CASE("binary_plain: random broadcasts", "[elementwise]") {
  std::mt19937 rng(77);
  for (int iter = 0; iter < 150; ++iter) {
    const int rank = static_cast<int>(rng() % 6);
    Shape out;
    out.rank = rank;
    for (int i = 0; i < rank; ++i) out.d[i] = 1 + rng() % (i == rank - 1 ? 40 : 5);
    if (iter % 10 == 0 && rank > 0) out.d[rank - 1] = 1000 + rng() % 100;  // long rows
    // Each operand: a right-aligned suffix of out, axes randomly kept or set to 1.
    auto make = [&](Shape& s) {
      s.rank = rank == 0 ? 0 : static_cast<int>(rng() % (rank + 1));
      for (int i = 0; i < s.rank; ++i) {
        int oi = rank - s.rank + i;
        s.d[i] = rng() % 3 == 0 ? 1 : out.d[oi];
      }
    };
    Shape as, bs;
    make(as);
    make(bs);
    const int64_t n = out.numel(), na = as.numel(), nb = bs.numel();
    std::vector<float> a = test::random_vector(na, iter, -2, 2), b = test::random_vector(nb, iter + 1000, 0.5f, 2);
    for (BinaryOp op : kOps) {
      std::vector<float> ref(n);
      binary_plain_reference(op, a.data(), as, b.data(), bs, ref.data(), out);
      for (CpuIsa isa : isas()) {
        IsaScope scope(isa);
        for (int threads : {1, 3}) {
          INFO("iter " << iter << " " << isa_name(isa) << " threads " << threads << " " << op_name(op));
          Guarded got(n);
          binary_plain(op, a.data(), as, b.data(), bs, got.data(), out, pool(threads));
          REQUIRE(same_bits(got.data(), ref.data(), n));
          REQUIRE(got.guards_intact());
        }
      }
    }
  }
}
