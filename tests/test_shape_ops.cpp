// Data movement (ops/shape/shape_ops.h): transpose, slice, concat / split, NCHW <-> NHWC. All exact:
// compared bit for bit with the references (transpose_reference, and plain index loops written here),
// for every ISA this CPU has and 1 and 3 threads, with guard zones; hand-computed cases pin the
// semantics (ONNX Slice with negative steps, permutation convention).
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "op_harness.h"
#include "op_test_common.h"
#include "ops/cpu_features.h"
#include "ops/elementwise/parallel.h"
#include "ops/shape/shape_ops.h"

using namespace fx;
using fx::test::Guarded;
using fx::test::TestMap;

namespace {

using fx::test::IsaScope;
using fx::test::isas;
using fx::test::pool;
using fx::test::same_bits;


std::vector<float> iota_vector(size_t n) {
  std::vector<float> v(n);
  std::iota(v.begin(), v.end(), 0.f);
  return v;
}

void check_transpose(const Shape& s, const int* perm, uint32_t seed) {
  const int64_t n = s.numel();
  std::vector<float> in = test::random_vector(n, seed);
  std::vector<float> ref(n);
  transpose_reference(in.data(), s, perm, ref.data());
  for (CpuIsa isa : isas()) {
    IsaScope scope(isa);
    for (int threads : {1, 3}) {
      std::string dims, ps;
      for (int i = 0; i < s.rank; ++i) {
        dims += std::to_string(s.d[i]) + " ";
        ps += std::to_string(perm[i]) + " ";
      }
      INFO(isa_name(isa) << " threads " << threads << " shape " << dims << "perm " << ps);
      Guarded out(n);
      transpose(in.data(), s, perm, out.data(), pool(threads));
      REQUIRE(same_bits(out.data(), ref.data(), n));
      REQUIRE(out.guards_intact());
    }
  }
}

// Plain index-loop slice used as the reference.
void slice_naive(const float* in, const Shape& in_shape, const int64_t* starts, const int64_t* steps, float* out,
                 const Shape& out_shape) {
  const int R = in_shape.rank;
  int64_t st[Shape::kMaxRank];
  int64_t s = 1;
  for (int i = R - 1; i >= 0; --i) {
    st[i] = s;
    s *= in_shape.d[i];
  }
  const int64_t n = out_shape.numel();
  for (int64_t f = 0; f < n; ++f) {
    int64_t rem = f, src = 0;
    for (int i = R - 1; i >= 0; --i) {
      int64_t idx = rem % out_shape.d[i];
      rem /= out_shape.d[i];
      src += (starts[i] + idx * steps[i]) * st[i];
    }
    out[f] = in[src];
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// Transpose

TEST_CASE("transpose reference: hand-computed", "[shape]") {
  // [2,3] -> [3,2].
  std::vector<float> in = {0, 1, 2, 3, 4, 5}, out(6);
  int p2[] = {1, 0};
  transpose_reference(in.data(), Shape{2, 3}, p2, out.data());
  CHECK(out == std::vector<float>{0, 3, 1, 4, 2, 5});
  // [2,3,4] perm [2,0,1]: out[k][i][j] = in[i][j][k], out shape [4,2,3].
  std::vector<float> a = iota_vector(24), b(24);
  int p3[] = {2, 0, 1};
  transpose_reference(a.data(), Shape{2, 3, 4}, p3, b.data());
  for (int k = 0; k < 4; ++k)
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 3; ++j) CHECK(b[(k * 2 + i) * 3 + j] == a[(i * 3 + j) * 4 + k]);
}

TEST_CASE("transpose: the attention island's 4-D permutations", "[shape]") {
  const int perms[4][4] = {{0, 1, 3, 2}, {0, 2, 1, 3}, {0, 3, 1, 2}, {0, 2, 3, 1}};
  const Shape shapes[] = {Shape{1, 2, 40, 32}, Shape{1, 4, 33, 17}, Shape{2, 3, 5, 7}, Shape{1, 1, 9, 130},
                          Shape{1, 64, 20, 20}, Shape{1, 2, 1, 8}};
  uint32_t seed = 1;
  for (const Shape& s : shapes)
    for (const auto& p : perms) check_transpose(s, p, seed++);
}

TEST_CASE("transpose: random shapes and permutations up to 8-D", "[shape]") {
  std::mt19937 rng(3);
  for (int iter = 0; iter < 120; ++iter) {
    Shape s;
    s.rank = 1 + static_cast<int>(rng() % 8);
    int64_t budget = 6000;
    for (int i = 0; i < s.rank; ++i) {
      int64_t lim = std::max<int64_t>(1, std::min<int64_t>(12, budget));
      s.d[i] = 1 + static_cast<int64_t>(rng() % lim);
      budget /= s.d[i];
    }
    int perm[Shape::kMaxRank];
    std::iota(perm, perm + s.rank, 0);
    std::shuffle(perm, perm + s.rank, rng);
    check_transpose(s, perm, 100 + iter);
  }
  // Identity and a large 2-D transpose (blocked kernel edges).
  int id[] = {0, 1, 2};
  check_transpose(Shape{3, 5, 7}, id, 7);
  int t2[] = {1, 0};
  check_transpose(Shape{133, 77}, t2, 8);
  check_transpose(Shape{8400, 5}, t2, 9);
}

// ---------------------------------------------------------------------------------------------------
// Slice

TEST_CASE("slice: ONNX examples with negative steps", "[shape]") {
  // data = [[1,2,3,4],[5,6,7,8]]; ONNX starts=[1,-1]... normalised: start row 1, start column 3, steps
  // [1,-2] -> [[8,6]].
  std::vector<float> data = {1, 2, 3, 4, 5, 6, 7, 8};
  int64_t starts[] = {1, 3}, steps[] = {1, -2};
  std::vector<float> out(2);
  slice(data.data(), Shape{2, 4}, starts, steps, out.data(), Shape{1, 2}, pool(1));
  CHECK(out == std::vector<float>{8, 6});
  // Reverse both axes: [[8,7,6,5],[4,3,2,1]].
  int64_t s2[] = {1, 3}, st2[] = {-1, -1};
  std::vector<float> out2(8);
  slice(data.data(), Shape{2, 4}, s2, st2, out2.data(), Shape{2, 4}, pool(3));
  CHECK(out2 == std::vector<float>{8, 7, 6, 5, 4, 3, 2, 1});
  // Every second column from 0: [[1,3],[5,7]].
  int64_t s3[] = {0, 0}, st3[] = {1, 2};
  std::vector<float> out3(4);
  slice(data.data(), Shape{2, 4}, s3, st3, out3.data(), Shape{2, 2}, pool(1));
  CHECK(out3 == std::vector<float>{1, 3, 5, 7});
  // The naive reference agrees on the same cases.
  std::vector<float> n1(2);
  slice_naive(data.data(), Shape{2, 4}, starts, steps, n1.data(), Shape{1, 2});
  CHECK(n1 == out);
}

TEST_CASE("slice: random shapes, starts and steps", "[shape]") {
  std::mt19937 rng(11);
  for (int iter = 0; iter < 150; ++iter) {
    Shape in;
    in.rank = 1 + static_cast<int>(rng() % 6);
    for (int i = 0; i < in.rank; ++i) in.d[i] = 1 + rng() % (i == in.rank - 1 ? 60 : 6);
    Shape out;
    out.rank = in.rank;
    int64_t starts[Shape::kMaxRank], steps[Shape::kMaxRank];
    for (int i = 0; i < in.rank; ++i) {
      int64_t step = static_cast<int64_t>(rng() % 7) - 3;
      if (step == 0) step = 1;
      const int64_t dim = in.d[i];
      int64_t start = static_cast<int64_t>(rng() % dim);
      int64_t max_count = step > 0 ? (dim - 1 - start) / step + 1 : start / (-step) + 1;
      starts[i] = start;
      steps[i] = step;
      out.d[i] = 1 + static_cast<int64_t>(rng() % max_count);
    }
    const int64_t n = out.numel();
    std::vector<float> data = test::random_vector(in.numel(), iter);
    std::vector<float> ref(n);
    slice_naive(data.data(), in, starts, steps, ref.data(), out);
    for (int threads : {1, 3}) {
      INFO("iter " << iter << " threads " << threads);
      Guarded got(n);
      slice(data.data(), in, starts, steps, got.data(), out, pool(threads));
      REQUIRE(same_bits(got.data(), ref.data(), n));
      REQUIRE(got.guards_intact());
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Concat / split

TEST_CASE("concat / split: hand-computed", "[shape]") {
  // [2,2] ++ [2,1] along axis 1 -> [[1,2,9],[3,4,8]].
  std::vector<float> a = {1, 2, 3, 4}, b = {9, 8};
  const float* ins[] = {a.data(), b.data()};
  Shape shapes[] = {Shape{2, 2}, Shape{2, 1}};
  std::vector<float> out(6);
  concat_plain(ins, shapes, 2, 1, out.data(), pool(1));
  CHECK(out == std::vector<float>{1, 2, 9, 3, 4, 8});
  // Negative axis means the same axis.
  std::vector<float> out_neg(6);
  concat_plain(ins, shapes, 2, -1, out_neg.data(), pool(1));
  CHECK(out_neg == out);
  // Split it back.
  std::vector<float> ra(4), rb(2);
  float* outs[] = {ra.data(), rb.data()};
  int64_t sizes[] = {2, 1};
  split_plain(out.data(), Shape{2, 3}, 1, outs, sizes, 2, pool(3));
  CHECK(ra == a);
  CHECK(rb == b);
}

TEST_CASE("concat / split: random shapes and axes", "[shape]") {
  std::mt19937 rng(21);
  for (int iter = 0; iter < 100; ++iter) {
    const int rank = 1 + static_cast<int>(rng() % 5);
    const int axis = static_cast<int>(rng() % rank);
    const int count = 1 + static_cast<int>(rng() % 4);
    Shape base;
    base.rank = rank;
    for (int i = 0; i < rank; ++i) base.d[i] = 1 + rng() % (iter % 10 == 0 && i == rank - 1 ? 300 : 7);
    std::vector<Shape> shapes(count, base);
    std::vector<std::vector<float>> data(count);
    std::vector<const float*> ptrs(count);
    std::vector<int64_t> sizes(count);
    Shape out = base;
    out.d[axis] = 0;
    for (int t = 0; t < count; ++t) {
      shapes[t].d[axis] = rng() % 5;  // includes empty inputs
      sizes[t] = shapes[t].d[axis];
      out.d[axis] += shapes[t].d[axis];
      data[t] = test::random_vector(shapes[t].numel(), iter * 10 + t);
      ptrs[t] = data[t].data();
    }
    const int64_t n = out.numel();
    // Naive reference: out index -> (input, index).
    std::vector<float> ref(n);
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < axis; ++i) outer *= base.d[i];
    for (int i = axis + 1; i < rank; ++i) inner *= base.d[i];
    for (int64_t o = 0; o < outer; ++o) {
      int64_t a_out = 0;
      for (int t = 0; t < count; ++t)
        for (int64_t a = 0; a < sizes[t]; ++a, ++a_out)
          for (int64_t in_i = 0; in_i < inner; ++in_i)
            ref[(o * out.d[axis] + a_out) * inner + in_i] = data[t][(o * sizes[t] + a) * inner + in_i];
    }
    for (int threads : {1, 3}) {
      INFO("iter " << iter << " threads " << threads << " axis " << axis << " count " << count);
      Guarded got(n);
      concat_plain(ptrs.data(), shapes.data(), count, axis, got.data(), pool(threads));
      REQUIRE(same_bits(got.data(), ref.data(), n));
      REQUIRE(got.guards_intact());
      std::vector<Guarded> parts;
      std::vector<float*> outs;
      for (int t = 0; t < count; ++t) parts.emplace_back(static_cast<size_t>(shapes[t].numel()));
      for (auto& g : parts) outs.push_back(g.data());
      split_plain(ref.data(), out, axis, outs.data(), sizes.data(), count, pool(threads));
      for (int t = 0; t < count; ++t) {
        REQUIRE(same_bits(parts[t].data(), data[t].data(), data[t].size()));
        REQUIRE(parts[t].guards_intact());
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// NCHW <-> NHWC

TEST_CASE("nhwc <-> nchw: random maps, channel-slice views", "[shape]") {
  struct Dims {
    int h, w, c;
  };
  const Dims dims[] = {{1, 1, 1}, {3, 5, 1}, {7, 9, 3}, {4, 6, 4}, {5, 5, 17}, {6, 7, 33}, {8, 8, 64},
                       {3, 11, 130}, {20, 20, 144}, {2, 3, 9}};
  uint32_t seed = 31;
  for (const Dims& d : dims)
    for (int extra : {0, 5}) {
      const int64_t hw = static_cast<int64_t>(d.h) * d.w;
      TestMap m(d.h, d.w, d.c, extra, extra ? 2 : 0, 1.5f);
      m.randomize(seed);
      std::vector<float> packed = m.packed();
      std::vector<float> ref(packed.size());
      for (int64_t p = 0; p < hw; ++p)
        for (int ch = 0; ch < d.c; ++ch) ref[ch * hw + p] = packed[p * d.c + ch];
      for (CpuIsa isa : isas()) {
        IsaScope scope(isa);
        for (int threads : {1, 3}) {
          INFO(isa_name(isa) << " threads " << threads << " map " << d.h << "x" << d.w << "x" << d.c << " extra "
                             << extra);
          Guarded nchw(ref.size());
          nhwc_to_nchw(m.view(), nchw.data(), pool(threads));
          REQUIRE(same_bits(nchw.data(), ref.data(), ref.size()));
          REQUIRE(nchw.guards_intact());
          TestMap back(d.h, d.w, d.c, extra, extra ? 2 : 0, 1.5f);
          nchw_to_nhwc(nchw.data(), back.view(), pool(threads));
          std::vector<float> round = back.packed();
          REQUIRE(same_bits(round.data(), packed.data(), packed.size()));
          REQUIRE(back.others_untouched(1.5f));
          REQUIRE(back.buf.guards_intact());
        }
      }
      ++seed;
    }
}

TEST_CASE("nchw -> nhwc: a 640x640x3 input image", "[shape]") {
  const int h = 640, w = 640, c = 3;
  const int64_t hw = static_cast<int64_t>(h) * w;
  std::vector<float> nchw = test::random_vector(static_cast<size_t>(hw * c), 5);
  std::vector<float> nhwc(nchw.size()), back(nchw.size());
  auto t0 = std::chrono::steady_clock::now();
  nchw_to_nhwc(nchw.data(), dense_map(nhwc.data(), h, w, c), pool(1));
  double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
  WARN("nchw_to_nhwc 640x640x3, 1 thread, " << isa_name(best_isa()) << ": " << us << " us");
  bool ok = true;
  for (int64_t p = 0; p < hw && ok; ++p)
    for (int ch = 0; ch < c; ++ch)
      if (nhwc[p * c + ch] != nchw[ch * hw + p]) ok = false;
  REQUIRE(ok);
  nhwc_to_nchw(dense_map(nhwc.data(), h, w, c), back.data(), pool(3));
  REQUIRE(same_bits(back.data(), nchw.data(), nchw.size()));
}
