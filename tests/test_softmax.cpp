// Softmax (ops/softmax/softmax.h): hand-computed values for the reference, then the optimised kernel
// against it by normalised MSE (< 1e-13) and per-element relative error (5e-6) on random shapes and every
// axis, for every ISA this CPU has; bits identical across ISAs and for 1 and 3 threads; numerical
// stability (large inputs), -inf entries, NaN rows; guard zones.
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
#include "ops/softmax/softmax.h"

using namespace fx;
using fx::test::Guarded;

namespace {

using fx::test::IsaScope;
using fx::test::isas;
using fx::test::pool;
using fx::test::same_bits;


// Optimised vs reference on one shape / axis; returns the optimised output.
std::vector<float> check_softmax(const std::vector<float>& in, const Shape& s, int axis) {
  const size_t n = in.size();
  std::vector<float> ref(n);
  softmax_reference(in.data(), s, axis, ref.data());
  std::vector<float> first;
  for (CpuIsa isa : isas()) {
    IsaScope scope(isa);
    for (int threads : {1, 3}) {
      std::string dims;
      for (int i = 0; i < s.rank; ++i) dims += std::to_string(s.d[i]) + " ";
      INFO(isa_name(isa) << " threads " << threads << " shape " << dims << "axis " << axis);
      Guarded out(n);
      softmax(in.data(), s, axis, out.data(), pool(threads));
      REQUIRE(out.guards_intact());
      REQUIRE(test::all_finite(out.data(), n));
      REQUIRE(test::nmse(out.data(), ref.data(), n) < 1e-13);
      // Per element: float rounding of x - max alone costs |x - max| * 2^-24 relative in exp (inputs
      // here span at most 40), plus a few ulp of exp, sum and scaling.
      bool close = true;
      for (size_t i = 0; i < n; ++i)
        if (std::fabs(out.data()[i] - ref[i]) > 5e-6 * ref[i] + 1e-38) close = false;
      REQUIRE(close);
      if (first.empty()) first.assign(out.data(), out.data() + n);
      else REQUIRE(same_bits(first.data(), out.data(), n));  // every ISA, every thread count
    }
  }
  return first;
}

}  // namespace

TEST_CASE("softmax reference: hand-computed", "[softmax]") {
  std::vector<float> x = {1, 2, 3}, y(3);
  softmax_reference(x.data(), Shape{3}, 0, y.data());
  const double e1 = std::exp(-2.0), e2 = std::exp(-1.0), sum = e1 + e2 + 1;
  CHECK(y[0] == Approx(e1 / sum).epsilon(1e-7));
  CHECK(y[1] == Approx(e2 / sum).epsilon(1e-7));
  CHECK(y[2] == Approx(1 / sum).epsilon(1e-7));
  // Axis 0 of a [2,2]: columns normalise.
  std::vector<float> m = {0, 5, 0, 5}, my(4);
  softmax_reference(m.data(), Shape{2, 2}, 0, my.data());
  CHECK(my == std::vector<float>{0.5f, 0.5f, 0.5f, 0.5f});
  // Negative axis = last axis; stable with huge inputs.
  std::vector<float> big = {1000, 1000, 1000, 1000}, by(4);
  softmax_reference(big.data(), Shape{2, 2}, -1, by.data());
  CHECK(by == std::vector<float>{0.5f, 0.5f, 0.5f, 0.5f});
}

TEST_CASE("softmax: random shapes, every axis", "[softmax]") {
  std::mt19937 rng(41);
  for (int iter = 0; iter < 60; ++iter) {
    Shape s;
    s.rank = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < s.rank; ++i) s.d[i] = 1 + rng() % 20;
    if (iter % 7 == 0) s.d[s.rank - 1] = 100 + rng() % 500;
    const int axis = static_cast<int>(rng() % s.rank) - (iter % 2 ? s.rank : 0);  // negative axes too
    std::vector<float> in = test::random_vector(s.numel(), iter, -8.f, 8.f);
    std::vector<float> out = check_softmax(in, s, axis);
    // Sums along the axis are 1.
    int ax = axis < 0 ? axis + s.rank : axis;
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < ax; ++i) outer *= s.d[i];
    for (int i = ax + 1; i < s.rank; ++i) inner *= s.d[i];
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t j = 0; j < inner; ++j) {
        double sum = 0;
        for (int64_t l = 0; l < s.d[ax]; ++l) sum += out[(o * s.d[ax] + l) * inner + j];
        REQUIRE(sum == Approx(1.0).epsilon(1e-5));
      }
  }
}

TEST_CASE("softmax: the model's shapes", "[softmax]") {
  // Attention scores [1,2,400,400] along the last axis; DFL [1,4,16,N] along axis 2.
  std::vector<float> att = test::random_vector(2 * 400 * 400, 1, -20.f, 20.f);
  check_softmax(att, Shape{1, 2, 400, 400}, -1);
  std::vector<float> dfl = test::random_vector(4 * 16 * 2100, 2, -10.f, 10.f);
  check_softmax(dfl, Shape{1, 4, 16, 2100}, 2);
}

TEST_CASE("softmax: large inputs, -inf entries, NaN rows, in place", "[softmax]") {
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> x = {1e30f, 1e30f, -inf, 0.f, 5000.f, 4999.f, -inf, -inf, 88.f, -88.f, 0.f, 1.f};
  for (CpuIsa isa : isas()) {
    IsaScope scope(isa);
    INFO(isa_name(isa));
    std::vector<float> y(x.size());
    softmax(x.data(), Shape{3, 4}, 1, y.data(), pool(1));
    CHECK(y[0] == 0.5f);
    CHECK(y[1] == 0.5f);
    CHECK(y[2] == 0.f);
    CHECK(y[3] == 0.f);
    CHECK(y[4] == Approx(1 / (1 + std::exp(-1.0))).epsilon(1e-6));
    CHECK(y[6] == 0.f);
    CHECK(y[7] == 0.f);
    std::vector<float> r(x.size());
    softmax_reference(x.data(), Shape{3, 4}, 1, r.data());
    CHECK(test::nmse(y.data(), r.data(), y.size()) < 1e-13);
    // A NaN anywhere in a row makes that row NaN, and only that row.
    std::vector<float> xn = x;
    xn[9] = std::numeric_limits<float>::quiet_NaN();
    softmax(xn.data(), Shape{3, 4}, 1, y.data(), pool(1));
    for (int i = 8; i < 12; ++i) CHECK(std::isnan(y[i]));
    for (int i = 0; i < 8; ++i) CHECK(!std::isnan(y[i]));
    // In place.
    std::vector<float> io = test::random_vector(7 * 33, 3);
    std::vector<float> want(io.size());
    softmax(io.data(), Shape{7, 33}, 1, want.data(), pool(1));
    softmax(io.data(), Shape{7, 33}, 1, io.data(), pool(3));
    CHECK(same_bits(io.data(), want.data(), io.size()));
    std::vector<float> io2 = test::random_vector(7 * 33, 4);
    softmax(io2.data(), Shape{7, 33}, 0, want.data(), pool(1));
    softmax(io2.data(), Shape{7, 33}, 0, io2.data(), pool(3));
    CHECK(same_bits(io2.data(), want.data(), io2.size()));
  }
}
