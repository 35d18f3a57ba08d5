// Batched MatMul (ops/matmul/matmul.h): hand-computed products and broadcasts for the reference
// (double accumulation), then the optimised kernel against it by normalised MSE (< 1e-11 for inputs in
// [-1, 1]) on random shapes with broadcast batch axes, for every ISA this CPU has; results are
// bit-identical for 1 and 3 threads; guard zones; the attention island's sizes.
#include <catch2/catch.hpp>

#include <algorithm>
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
#include "ops/matmul/matmul.h"

using namespace fx;
using fx::test::Guarded;

namespace {

using fx::test::IsaScope;
using fx::test::isas;
using fx::test::pool;
using fx::test::same_bits;


// out shape of a broadcast matmul.
Shape out_shape(const Shape& a, const Shape& b) {
  Shape o;
  o.rank = std::max(a.rank, b.rank);
  const int br = o.rank - 2;
  for (int i = 0; i < br; ++i) {
    int ai = i - (br - (a.rank - 2)), bi = i - (br - (b.rank - 2));
    int64_t da = ai >= 0 ? a.d[ai] : 1, db = bi >= 0 ? b.d[bi] : 1;
    o.d[i] = da == 1 ? db : da;
  }
  o.d[o.rank - 2] = a.d[a.rank - 2];
  o.d[o.rank - 1] = b.d[b.rank - 1];
  return o;
}

void check_matmul(const Shape& as, const Shape& bs, uint32_t seed, double tol = 1e-11) {
  const Shape os = out_shape(as, bs);
  std::vector<float> a = test::random_vector(as.numel(), seed), b = test::random_vector(bs.numel(), seed + 1);
  std::vector<float> ref(os.numel());
  matmul_reference(a.data(), as, b.data(), bs, ref.data(), os);
  const size_t n = ref.size();
  for (CpuIsa isa : isas()) {
    IsaScope scope(isa);
    std::vector<float> first;
    for (int threads : {1, 3}) {
      std::string sa, sb;
      for (int i = 0; i < as.rank; ++i) sa += std::to_string(as.d[i]) + " ";
      for (int i = 0; i < bs.rank; ++i) sb += std::to_string(bs.d[i]) + " ";
      INFO(isa_name(isa) << " threads " << threads << " a " << sa << "b " << sb);
      Guarded out(n);
      matmul(a.data(), as, b.data(), bs, out.data(), os, pool(threads));
      REQUIRE(out.guards_intact());
      REQUIRE(test::all_finite(out.data(), n));
      REQUIRE(test::nmse(out.data(), ref.data(), n) < tol);
      if (first.empty()) first.assign(out.data(), out.data() + n);
      else REQUIRE(same_bits(first.data(), out.data(), n));
    }
  }
}

}  // namespace

TEST_CASE("matmul reference: hand-computed", "[matmul]") {
  // [2,3] x [3,2].
  std::vector<float> a = {1, 2, 3, 4, 5, 6}, b = {7, 8, 9, 10, 11, 12}, c(4);
  matmul_reference(a.data(), Shape{2, 3}, b.data(), Shape{3, 2}, c.data(), Shape{2, 2});
  CHECK(c == std::vector<float>{58, 64, 139, 154});
  // Broadcast: a [2,1,2] (two 1x2 matrices) x b [2,1] -> [2,1,1].
  std::vector<float> a2 = {1, 2, 3, 4}, b2 = {10, 1}, c2(2);
  matmul_reference(a2.data(), Shape{2, 1, 2}, b2.data(), Shape{2, 1}, c2.data(), Shape{2, 1, 1});
  CHECK(c2 == std::vector<float>{12, 34});
  // Broadcast of b's batch: a [1,2,2] x b [3,2,1] -> [3,2,1].
  std::vector<float> a3 = {1, 0, 0, 1}, b3 = {1, 2, 3, 4, 5, 6}, c3(6);
  matmul_reference(a3.data(), Shape{1, 2, 2}, b3.data(), Shape{3, 2, 1}, c3.data(), Shape{3, 2, 1});
  CHECK(c3 == b3);
  for (CpuIsa isa : isas()) {
    IsaScope scope(isa);
    std::vector<float> o(4), o3(6);
    matmul(a.data(), Shape{2, 3}, b.data(), Shape{3, 2}, o.data(), Shape{2, 2}, pool(3));
    CHECK(o == c);
    matmul(a3.data(), Shape{1, 2, 2}, b3.data(), Shape{3, 2, 1}, o3.data(), Shape{3, 2, 1}, pool(1));
    CHECK(o3 == b3);
  }
}

TEST_CASE("matmul: random shapes with broadcast batch axes", "[matmul]") {
  std::mt19937 rng(17);
  for (int iter = 0; iter < 60; ++iter) {
    const int64_t m = 1 + rng() % 40, k = 1 + rng() % 70, n = 1 + rng() % 70;
    const int batch_rank = static_cast<int>(rng() % 3);
    Shape full;
    full.rank = batch_rank;
    for (int i = 0; i < batch_rank; ++i) full.d[i] = 1 + rng() % 3;
    auto make = [&](int64_t r, int64_t c) {
      Shape s;
      s.rank = static_cast<int>(rng() % (batch_rank + 1));
      for (int i = 0; i < s.rank; ++i) s.d[i] = rng() % 2 ? full.d[batch_rank - s.rank + i] : 1;
      s.d[s.rank] = r;
      s.d[s.rank + 1] = c;
      s.rank += 2;
      return s;
    };
    Shape as = make(m, k), bs = make(k, n);
    check_matmul(as, bs, 100 + iter);
  }
}

TEST_CASE("matmul: attention island sizes", "[matmul]") {
  check_matmul(Shape{1, 2, 400, 32}, Shape{1, 2, 32, 400}, 1);
  check_matmul(Shape{1, 2, 64, 400}, Shape{1, 2, 400, 400}, 2);
  check_matmul(Shape{1, 2, 32, 100}, Shape{1, 2, 100, 100}, 3);
  // Timing (printed, not asserted).
  std::vector<float> a = test::random_vector(2 * 64 * 400, 4), b = test::random_vector(2 * 400 * 400, 5),
                     c(2 * 64 * 400);
  auto t0 = std::chrono::steady_clock::now();
  const int reps = 10;
  for (int r = 0; r < reps; ++r)
    matmul(a.data(), Shape{1, 2, 64, 400}, b.data(), Shape{1, 2, 400, 400}, c.data(), Shape{1, 2, 64, 400}, pool(1));
  double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / reps;
  WARN("matmul [1,2,64,400] x [1,2,400,400], 1 thread, " << isa_name(best_isa()) << ": " << us << " us");
}

TEST_CASE("matmul: NaN and Inf propagate", "[matmul]") {
  std::vector<float> a = {1, 2, 3, 4}, b = {1, 0, 0, 1}, c(4);
  a[1] = std::numeric_limits<float>::quiet_NaN();
  b[3] = std::numeric_limits<float>::infinity();
  for (CpuIsa isa : isas()) {
    IsaScope scope(isa);
    matmul(a.data(), Shape{2, 2}, b.data(), Shape{2, 2}, c.data(), Shape{2, 2}, pool(1));
    CHECK(std::isnan(c[0]));  // 1*1 + NaN*0
    CHECK(std::isnan(c[1]));
    CHECK(c[2] == 3.f);
    CHECK(c[3] == std::numeric_limits<float>::infinity());
  }
}

// Every ISA computes each output as one fused multiply-add chain from 0 in k order: the same bits on
// every ISA, and those of the CUDA built-in GEMM (ops/matmul/matmul_cuda.cu), replayed here on the host
// with std::fma. (A non-fused portable path, or a k-split, fails this.)
TEST_CASE("matmul: every ISA equals the scalar fma chain bit for bit (the CUDA built-in GEMM's order)", "[matmul]") {
  std::mt19937 rng(29);
  for (int iter = 0; iter < 12; ++iter) {
    const int64_t m = 1 + rng() % 30, k = 1 + rng() % 300, n = 1 + rng() % 50;
    const Shape as{2, m, k}, bs{2, k, n}, ys{2, m, n};
    const std::vector<float> a = test::random_vector(static_cast<size_t>(as.numel()), 40 + iter),
                             b = test::random_vector(static_cast<size_t>(bs.numel()), 80 + iter);
    std::vector<float> chain(static_cast<size_t>(ys.numel()));
    for (int64_t bt = 0; bt < 2; ++bt)
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
          float acc = 0.f;
          for (int64_t kk = 0; kk < k; ++kk) acc = std::fma(a[(bt * m + i) * k + kk], b[(bt * k + kk) * n + j], acc);
          chain[(bt * m + i) * n + j] = acc;
        }
    for (CpuIsa isa : isas()) {
      IsaScope scope(isa);
      std::vector<float> y(chain.size());
      matmul(a.data(), as, b.data(), bs, y.data(), ys, pool(2));
      INFO(isa_name(isa) << " " << m << "x" << k << "x" << n);
      CHECK(same_bits(y, chain));
    }
  }
}
