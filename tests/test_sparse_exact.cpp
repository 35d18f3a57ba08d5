// The exact-mode invariant of the sparse executor (DESIGN 5): after every frame, every cached feature map
// equals, bit for bit, dense inference on the reference image R_t, on random sequences of block edits
// and per-block shifts (stride multiples and not), for a small network with every local op kind and for
// yolo11n-320. Also: approximate mode with zero thresholds equals exact mode, and its error grows with
// the thresholds but stays bounded.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <tuple>

#include "compiled_model.h"
#include "compiler/compile.h"
#include "compiler/onnx_builder.h"
#include "runtime/dense_executor.h"
#include "runtime/io/letterbox.h"
#include "runtime/io/video_reader.h"
#include "runtime/sparse/column_tail.h"
#include "runtime/sparse/sparse_executor.h"
#include "runtime/sparse/truncation.h"
#include "runtime/util/test_pattern.h"
#include "test_util.h"

using namespace fx;

namespace {

std::vector<float> rnd(size_t n, unsigned seed, float scale) {
  std::mt19937 r(seed);
  std::uniform_real_distribution<float> d(-scale, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(r);
  return v;
}

// Every local op kind (3x3 and strided convs, depthwise, residual add, split/concat in place, maxpool,
// nearest resize, transposed conv, element-wise with constants), an attention-like dense island and
// an epilogue, on a 96x128 input.
std::string small_network(bool anchor_softmax = false, bool island = true) {
  OnnxBuilder b(17);
  unsigned seed = 1;
  std::string x = b.input("images", {1, 3, 96, 128});
  auto conv = [&](const std::string& n, const std::string& in, int cin, int cout, int k, int s, int group = 1,
                  bool act = true) {
    std::string y = b.op("Conv", n,
                         {in,
                          b.initializer(n + ".w", {cout, cin / group, k, k},
                                        rnd(static_cast<size_t>(cout * (cin / group) * k * k), seed++,
                                            1.5f / std::sqrt(float(cin / group * k * k)))),
                          b.initializer(n + ".b", {cout}, rnd(cout, seed++, 0.1f))},
                         {OnnxAttr::integers("pads", {k / 2, k / 2, k / 2, k / 2}),
                          OnnxAttr::integers("strides", {s, s}), OnnxAttr::integer("group", group)});
    return act ? b.op("Mul", n + ".silu", {y, b.op("Sigmoid", n + ".sig", {y})}) : y;
  };
  std::string c0 = conv("c0", x, 3, 8, 3, 2);        // stride 2
  std::string c1 = conv("c1", c0, 8, 16, 3, 2);      // stride 4
  auto parts = b.node("Split", "split", {c1, b.initializer_ints("sz", {2}, {8, 8})}, {OnnxAttr::integer("axis", 1)}, 2);
  std::string bott = conv("b1", conv("b0", parts[1], 8, 8, 3, 1), 8, 8, 3, 1);
  std::string res = b.op("Add", "res", {parts[1], bott});
  std::string cat = b.op("Concat", "cat", {parts[0], parts[1], res}, {OnnxAttr::integer("axis", 1)});
  std::string c2 = conv("c2", cat, 24, 16, 1, 1);
  std::string dw = conv("dw", c2, 16, 16, 5, 1, 16);  // depthwise 5x5
  std::string c3 = conv("c3", dw, 16, 32, 3, 2);      // stride 8
  std::string pool = b.op("MaxPool", "pool", {c3},
                          {OnnxAttr::integers("kernel_shape", {5, 5}), OnnxAttr::integers("pads", {2, 2, 2, 2})});
  std::string c4 = conv("c4", pool, 32, 32, 3, 2);    // stride 16 (6x8)
  // Dense island: flatten the positions, attention-like mixing, back to a map.
  std::string flat = b.op("Reshape", "att.flat", {c4, b.initializer_ints("att.s", {3}, {1, 32, 48})});
  std::string tr = b.op("Transpose", "att.t", {flat}, {OnnxAttr::integers("perm", {0, 2, 1})});
  std::string sc =
      b.op("Mul", "att.scale", {b.op("MatMul", "att.qk", {tr, flat}), b.initializer("att.k", {}, {0.05f})});
  std::string sm = b.op("Softmax", "att.sm", {sc}, {OnnxAttr::integer("axis", -1)});
  std::string mixed = b.op("MatMul", "att.av", {flat, sm});
  std::string back = b.op("Reshape", "att.back", {mixed, b.initializer_ints("att.s2", {4}, {1, 32, 6, 8})});
  std::string c5 = island ? b.op("Add", "att.res", {c4, back}) : c4;
  std::string up = b.op(
      "Resize", "up", {c5, "", b.initializer("sc", {4}, {1, 1, 2, 2})},
      {OnnxAttr::string("coordinate_transformation_mode", "asymmetric"), OnnxAttr::string("nearest_mode", "floor")});
  std::string cat2 = b.op("Concat", "cat2", {up, c3}, {OnnxAttr::integer("axis", 1)});
  std::string c6 = conv("c6", cat2, 64, 16, 3, 1);
  std::string ct = b.op("ConvTranspose", "ct", {c6, b.initializer("ct.w", {16, 8, 2, 2}, rnd(16 * 8 * 4, seed++, 0.3f)),
                                                b.initializer("ct.b", {8}, rnd(8, seed++, 0.1f))},
                        {OnnxAttr::integers("strides", {2, 2}), OnnxAttr::integers("kernel_shape", {2, 2})});
  std::string sub = b.op("Sub", "sub", {ct, b.initializer("k", {1, 8, 1, 1}, rnd(8, seed++, 0.5f))});
  std::string head = conv("head", sub, 8, 6, 1, 1, 1, false);
  // Epilogue: flatten and sigmoid part of it, like a detect head.
  std::string hf = b.op("Reshape", "hf", {head, b.initializer_ints("hs", {3}, {1, 6, 24 * 32})});
  auto hp = b.node("Split", "hsplit", {hf, b.initializer_ints("hsz", {2}, {4, 2})}, {OnnxAttr::integer("axis", 1)}, 2);
  std::string hs = b.op("Sigmoid", "hsig", {hp[1]});
  if (anchor_softmax) hs = b.op("Softmax", "hsm", {hs}, {OnnxAttr::integer("axis", -1)});  // mixes anchors
  b.node("Concat", "out", {hp[0], hs}, {OnnxAttr::integer("axis", 1)}, 1, {"output0"});
  b.output("output0");
  b.metadata("task", "detect");
  return b.serialize();
}

std::shared_ptr<const Plan> compile_bytes(const std::string& model, const std::string& name) {
  auto bytes = compile_onnx(model.data(), model.size(), name);
  return Plan::from_bytes(bytes.data(), bytes.size(), name);
}


// Random frame update: blocks fresh with probability p_fresh, otherwise moved by a per-region or
// per-block shift (stride multiples and not) that stays inside the image.
std::vector<Label> random_update(int cols, int rows, int block, int W, int H, std::mt19937& rng, double p_fresh,
                                 int mode) {
  std::vector<Label> labels(static_cast<size_t>(cols) * rows);
  std::uniform_real_distribution<double> u(0, 1);
  static const int choices[] = {0, 0, 0, 1, -1, 2, -2, 3, 4, -4, 8, -8, 16, -16, 5, -7, 32, -32};
  int gdx = choices[rng() % 18], gdy = choices[rng() % 18];
  for (int by = 0; by < rows; ++by)
    for (int bx = 0; bx < cols; ++bx) {
      Label& l = labels[static_cast<size_t>(by) * cols + bx];
      if (u(rng) < p_fresh) {
        l = kInvalid;
        continue;
      }
      int dx = mode == 0 ? 0 : mode == 1 ? gdx : choices[rng() % 18];
      int dy = mode == 0 ? 0 : mode == 1 ? gdy : choices[rng() % 18];
      int x0 = bx * block + dx, y0 = by * block + dy;
      if (x0 < 0 || y0 < 0 || x0 + block > W || y0 + block > H) dx = dy = 0;
      l = pack_shift(dx, dy);
    }
  return labels;
}

// Runs the dense network on R_t op by op and compares every cached map right after its op ran (the
// dense arena reuses memory). Returns the number of maps compared; fails on the first difference.
int compare_with_dense(SparseExecutor& sp, DenseExecutor& dense, const Plan& plan, int frame) {
  rgb_to_planar_float(sp.reference_rgb(), plan.input_w(), plan.input_h(), dense.input_data());
  int compared = 0;
  for (int i = 0; i < plan.op_count(); ++i) {
    dense.run_ops(i, i + 1);
    const OpDesc& op = plan.op(i);
    for (int t : op.out) {
      if (!sp.has_cache(t)) continue;
      const TensorInfo& ti = plan.tensor(t);
      MapView a = sp.map_of(t), b = dense.map_of(t);
      bool equal = true;
      for (int y = 0; y < a.h && equal; ++y)
        for (int x = 0; x < a.w && equal; ++x) equal = std::memcmp(a.at(y, x), b.at(y, x), sizeof(float) * a.c) == 0;
      INFO("frame " << frame << ", op " << i << " (" << op_kind_name(op.kind) << " '" << op.name
                    << "'), tensor '" << ti.name << "'");
      REQUIRE(equal);
      ++compared;
    }
  }
  for (size_t o = 0; o < plan.outputs().size(); ++o) {
    const TensorInfo& ti = plan.tensor(plan.outputs()[o]);
    INFO("frame " << frame << ", output " << ti.name);
    REQUIRE(std::memcmp(sp.output_data(o), dense.output_data(o), static_cast<size_t>(ti.bytes())) == 0);
  }
  return compared;
}

// The statistics of an exact-mode frame against what the labels left behind: every local op recomputed
// exactly its output positions without a label, so the positions, the recomputed ones and the hit ratio
// follow from the label maps; the fresh blocks from the block labels.
void check_stats(SparseExecutor& sp, const Plan& plan, const SparseStats& st, const std::vector<Label>& blocks) {
  int64_t positions = 0, invalid = 0;
  for (int i = 0; i < plan.op_count(); ++i) {
    const OpDesc& op = plan.op(i);
    if (op.region != PlanRegion::Local) continue;
    const LabelMap* L = sp.labels(op.out[0]);
    REQUIRE(L);
    positions += static_cast<int64_t>(L->h) * L->w;
    invalid += std::count(L->v.begin(), L->v.end(), kInvalid);
  }
  CHECK(st.local_positions == positions);
  CHECK(st.recomputed_positions == invalid);
  CHECK(st.hit_ratio() == Approx(1.0 - static_cast<double>(invalid) / static_cast<double>(positions)));
  CHECK(st.fresh_blocks == std::count(blocks.begin(), blocks.end(), kInvalid));
}

void run_invariant(std::shared_ptr<const Plan> plan, const std::vector<uint8_t>& first, int frames, unsigned seed,
                   int threads) {
  auto pool = std::make_shared<ThreadPool>(threads);
  auto runner = std::make_shared<OpRunner>(plan);
  SparseExecutor sp(plan, pool, 16, runner);
  DenseExecutor dense(plan, pool, runner);
  int W = plan->input_w(), H = plan->input_h();
  sp.reset(first.data());
  compare_with_dense(sp, dense, *plan, 0);
  std::mt19937 rng(seed);
  double recomputed = 0;
  for (int f = 1; f <= frames; ++f) {
    int mode = f % 3;  // static, global shift, per-block shifts
    double p_fresh = (f % 4 == 0) ? 0.0 : 0.1;
    std::vector<Label> labels = random_update(sp.block_cols(), sp.block_rows(), 16, W, H, rng, p_fresh, mode);
    std::vector<uint8_t> frame = test_pattern_rgb(W, H, seed * 1000 + static_cast<unsigned>(f));
    const SparseStats& st = sp.run(labels, frame.data(), SparseParams{});
    recomputed += st.recomputed_positions;
    check_stats(sp, *plan, st, labels);
    CHECK(compare_with_dense(sp, dense, *plan, f) > 10);
  }
  CHECK(recomputed > 0);
}

}  // namespace

TEST_CASE("exact mode: every cached map equals dense inference on R_t (small network, every local op)",
          "[sparse][exact]") {
  auto plan = compile_bytes(small_network(), "small.onnx");
  for (unsigned seed : {1u, 2u, 3u}) {
    INFO("seed " << seed);
    run_invariant(plan, test_pattern_rgb(plan->input_w(), plan->input_h(), seed), 12, seed, seed == 2 ? 3 : 1);
  }
}

TEST_CASE("exact mode: yolo11n-320 caches equal dense inference on R_t", "[sparse][exact][model]") {
  auto plan = test::compiled_model(test::source_path("assets/yolo11n-320.onnx")).plan;
  VideoReader reader(test::source_path("assets/bedroom.mp4"));
  Frame f;
  REQUIRE(reader.read(f));
  std::vector<uint8_t> first(320 * 320 * 3);
  letterbox_rgb(f.rgb.data(), f.width, f.height, 320, 320, first.data());
  run_invariant(plan, first, 6, 7, 2);
}

TEST_CASE("a static frame recomputes nothing; a fully fresh frame recomputes everything", "[sparse]") {
  auto plan = compile_bytes(small_network(), "small.onnx");
  auto pool = std::make_shared<ThreadPool>(2);
  SparseExecutor sp(plan, pool, 16);
  auto img = test_pattern_rgb(plan->input_w(), plan->input_h(), 5);
  sp.reset(img.data());
  std::vector<Label> still(static_cast<size_t>(sp.block_cols()) * sp.block_rows(), 0);
  const SparseStats& s1 = sp.run(still, img.data(), SparseParams{});
  CHECK(s1.recomputed_positions == 0);
  CHECK(s1.hit_ratio() == 1.0);
  CHECK(s1.flop_hit_ratio() == 1.0);
  CHECK(s1.islands_run == 0);
  CHECK(s1.epilogue_run == 0);
  std::vector<Label> fresh(still.size(), kInvalid);
  auto other = test_pattern_rgb(plan->input_w(), plan->input_h(), 6);
  const SparseStats& s2 = sp.run(fresh, other.data(), SparseParams{});
  CHECK(s2.flop_hit_ratio() < 0.05);
  CHECK(s2.islands_run > 0);
}

namespace {

// The small network with a sparse executor reset on a texture and a dense executor beside it.
struct SmallNetwork {
  std::shared_ptr<const Plan> plan = compile_bytes(small_network(), "small.onnx");
  std::shared_ptr<ThreadPool> pool = std::make_shared<ThreadPool>(2);
  std::shared_ptr<OpRunner> runner = std::make_shared<OpRunner>(plan);
  SparseExecutor sp{plan, pool, 16, runner};
  DenseExecutor dense{plan, pool, runner};
  explicit SmallNetwork(unsigned seed) { sp.reset(test_pattern_rgb(plan->input_w(), plan->input_h(), seed).data()); }
  std::tuple<std::shared_ptr<const Plan>&, SparseExecutor&, DenseExecutor&, int, int> parts() {
    return {plan, sp, dense, plan->input_w(), plan->input_h()};
  }
};

}  // namespace

TEST_CASE("freshness: a full pass of refresh slices brings approximate caches back to dense on R_t",
          "[sparse][freshness]") {
  SmallNetwork net(21);
  auto [plan, sp, dense, W, H] = net.parts();
  // Loose thresholds everywhere, nearest-offset reuse, footprint recompute: the caches drift.
  std::vector<float> eps(static_cast<size_t>(plan->op_count()));
  for (size_t i = 0; i < eps.size(); ++i) eps[i] = 0.5f * sp.op_scale()[i];
  std::mt19937 rng(5);
  for (int f = 1; f <= 6; ++f) {
    auto labels = random_update(sp.block_cols(), sp.block_rows(), 16, W, H, rng, 0.2, 2);
    auto frame = test_pattern_rgb(W, H, 100 + static_cast<unsigned>(f));
    SparseParams p;
    p.eps = &eps;
    p.round_offsets = true;
    p.footprint_only = true;
    sp.run(labels, frame.data(), p);
  }
  // Then a few fresh blocks at a time, thresholds on the island only: the column tail runs on columns,
  // its intermediates go stale.
  const std::vector<float> island_eps = default_eps(*plan, sp, 0.2f);
  int column_frames = 0;
  for (int f = 7; f <= 9; ++f) {
    std::vector<Label> labels(static_cast<size_t>(sp.block_cols()) * sp.block_rows(), 0);
    for (int k = 0; k < 3; ++k) labels[static_cast<size_t>(f * 29 + k * 5) % labels.size()] = kInvalid;
    auto frame = test_pattern_rgb(W, H, 100 + static_cast<unsigned>(f));
    SparseParams p;
    p.eps = &island_eps;
    p.round_offsets = true;
    p.footprint_only = true;
    column_frames += sp.run(labels, frame.data(), p).tail_columns > 0;
  }
  CHECK(column_frames > 0);
  rgb_to_planar_float(sp.reference_rgb(), W, H, dense.input_data());
  dense.invoke();
  const size_t n = static_cast<size_t>(plan->tensor(plan->outputs()[0]).numel);
  bool drifted = std::memcmp(sp.output_data(0), dense.output_data(0), n * 4) != 0;
  CHECK(drifted);  // the approximations did change something
  // Slices, one op at a time, in plan order (what the updater does between frames).
  for (int i = 0; i < plan->op_count(); ++i) sp.refresh_op(i);
  compare_with_dense(sp, dense, *plan, 99);
}

namespace {

// A camera pan: every block moves by (dx, dy) pixels; blocks whose source leaves the image are fresh.
std::vector<Label> pan_update(int cols, int rows, int block, int dx, int dy) {
  std::vector<Label> labels(static_cast<size_t>(cols) * rows);
  for (int by = 0; by < rows; ++by)
    for (int bx = 0; bx < cols; ++bx) {
      int x0 = bx * block + dx, y0 = by * block + dy;
      bool inside = x0 >= 0 && y0 >= 0 && x0 + block <= cols * block && y0 + block <= rows * block;
      labels[static_cast<size_t>(by) * cols + bx] = inside ? pack_shift(dx, dy) : kInvalid;
    }
  return labels;
}

// Every cached map and every output of two executors of one plan, bit for bit.
void require_same_caches(SparseExecutor& a, SparseExecutor& b, const Plan& plan, int frame) {
  for (int t = 0; t < static_cast<int>(plan.tensors().size()); ++t) {
    if (!a.has_cache(t)) continue;
    MapView x = a.map_of(t), y = b.map_of(t);
    bool equal = true;
    for (int r = 0; r < x.h && equal; ++r)
      for (int c = 0; c < x.w && equal; ++c) equal = std::memcmp(x.at(r, c), y.at(r, c), sizeof(float) * x.c) == 0;
    INFO("frame " << frame << ", tensor '" << plan.tensor(t).name << "'");
    REQUIRE(equal);
  }
  for (size_t o = 0; o < plan.outputs().size(); ++o) {
    INFO("frame " << frame << ", output " << o);
    REQUIRE(std::memcmp(a.output_data(o), b.output_data(o),
                        static_cast<size_t>(plan.tensor(plan.outputs()[o]).bytes())) == 0);
  }
}

}  // namespace

TEST_CASE("exact mode: a sustained pan moves cache origins instead of copying and stays exact", "[sparse][exact]") {
  SmallNetwork net(31);
  auto [plan, sp, dense, W, H] = net.parts();
  // Long enough one way to use up every map's slack (the copy path then re-centres the buffer), then
  // back, then sideways.
  const int pans[][2] = {{16, 16}, {16, 16}, {16, 16}, {16, 16}, {16, 16}, {-32, -16}, {-32, -16}, {32, 0}, {-16, 32}};
  int moves = 0, f = 0;
  for (const auto& v : pans) {
    ++f;
    auto labels = pan_update(sp.block_cols(), sp.block_rows(), 16, v[0], v[1]);
    auto frame = test_pattern_rgb(W, H, 300 + static_cast<unsigned>(f));
    const SparseStats& st = sp.run(labels, frame.data(), SparseParams{});
    moves += st.origin_moves;
    compare_with_dense(sp, dense, *plan, f);
  }
  CHECK(moves > 10);
}

TEST_CASE("exact mode: a root whose origin moved and that then swaps buffers stays exact", "[sparse][exact]") {
  // Three column bands moving apart: the left third by (+16, 0), the right third by (-16, 0), the middle
  // still. A map's most common non-zero offset (one band's) beats the zero offset, so its origin moves by
  // it; the other band and the still middle then differ from the move on more than half the positions,
  // so the root switches to its other buffer and copies them from the moved one (the previous frame's
  // values, read back through the move: begin_write's dy -= sy, dx -= sx). Alternating with fresh-block
  // frames and a pan, so moves and swaps meet buffers whose origins are already off centre.
  SmallNetwork net(53);
  auto [plan, sp, dense, W, H] = net.parts();
  const int cols = sp.block_cols(), rows = sp.block_rows(), width = W;
  REQUIRE(cols == 8);
  auto bands = [&](int shift) {
    std::vector<Label> l(static_cast<size_t>(cols) * rows);
    for (int by = 0; by < rows; ++by)
      for (int bx = 0; bx < cols; ++bx) {
        const int dx = bx < 3 ? shift : bx >= 5 ? -shift : 0, x0 = bx * 16 + dx;
        l[static_cast<size_t>(by) * cols + bx] = x0 >= 0 && x0 + 16 <= width ? pack_shift(dx, 0) : kInvalid;
      }
    return l;
  };
  std::mt19937 rng(5);
  const std::vector<std::vector<Label>> frames = {bands(16),
                                                  bands(16),
                                                  random_update(cols, rows, 16, W, H, rng, 0.2, 0),
                                                  bands(-16),
                                                  pan_update(cols, rows, 16, 16, 0),
                                                  bands(16),
                                                  bands(32),
                                                  bands(16)};
  int moves = 0, f = 0;
  for (const auto& labels : frames) {
    ++f;
    auto frame = test_pattern_rgb(W, H, 500 + static_cast<unsigned>(f));
    moves += sp.run(labels, frame.data(), SparseParams{}).origin_moves;
    compare_with_dense(sp, dense, *plan, f);
  }
  CHECK(moves > 5);
}

// A concat whose first part is a chain of 3x3 convolutions and whose second, computed after it, a 1x1
// convolution of the same map: under the same motion the second part keeps more labels than the first.
std::string late_swap_network() {
  OnnxBuilder b(17);
  unsigned seed = 70;
  auto conv = [&](const std::string& n, const std::string& in, int cin, int cout, int k, int s) {
    return b.op(
        "Conv", n,
        {in, b.initializer(n + ".w", {cout, cin, k, k}, rnd(static_cast<size_t>(cout * cin * k * k), seed++, 0.5f)),
         b.initializer(n + ".b", {cout}, rnd(cout, seed++, 0.1f))},
        {OnnxAttr::integers("pads", {k / 2, k / 2, k / 2, k / 2}), OnnxAttr::integers("strides", {s, s})});
  };
  std::string x = b.input("images", {1, 3, 96, 128});
  std::string c0 = conv("c0", x, 3, 8, 3, 2);
  std::string a = c0;
  for (int i = 0; i < 4; ++i) a = conv("a" + std::to_string(i), a, 8, 8, 3, 1);
  std::string one = conv("one", c0, 8, 8, 1, 1);
  std::string cat = b.op("Concat", "cat", {a, one}, {OnnxAttr::integer("axis", 1)});
  std::string head = conv("head", cat, 16, 6, 1, 1);
  b.node("Reshape", "out", {head, b.initializer_ints("hs", {3}, {1, 6, 48 * 64})}, {}, 1, {"output0"});
  b.output("output0");
  b.metadata("task", "detect");
  return b.serialize();
}

TEST_CASE("exact mode: a root written in place after an origin move, then swapped later in the frame",
          "[sparse][exact]") {
  // The bands of the previous case on late_swap_network: the concat's first part (the 3x3 chain) keeps
  // few labels off the move's offset, so its root moves its origin and is updated in place; the second
  // part (the 1x1 convolution) then has more than half its positions off the move, so the root switches
  // buffers in the middle of the frame: the part already written is copied over and the second part's
  // labelled positions are read back through the moved origin.
  auto plan = compile_bytes(late_swap_network(), "late_swap.onnx");
  auto pool = std::make_shared<ThreadPool>(2);
  auto runner = std::make_shared<OpRunner>(plan);
  SparseExecutor sp(plan, pool, 16, runner);
  DenseExecutor dense(plan, pool, runner);
  const int W = plan->input_w(), H = plan->input_h(), cols = sp.block_cols(), rows = sp.block_rows();
  sp.reset(test_pattern_rgb(W, H, 61).data());
  auto bands = [&](int shift) {
    std::vector<Label> l(static_cast<size_t>(cols) * rows);
    for (int by = 0; by < rows; ++by)
      for (int bx = 0; bx < cols; ++bx) {
        const int dx = bx < 3 ? shift : bx >= 5 ? -shift : 0, x0 = bx * 16 + dx;
        l[static_cast<size_t>(by) * cols + bx] = x0 >= 0 && x0 + 16 <= W ? pack_shift(dx, 0) : kInvalid;
      }
    return l;
  };
  int moves = 0, f = 0;
  for (int shift : {16, 16, 32, 16}) {
    ++f;
    moves += sp.run(bands(shift), test_pattern_rgb(W, H, 600 + static_cast<unsigned>(f)).data(), SparseParams{})
                 .origin_moves;
    compare_with_dense(sp, dense, *plan, f);
  }
  CHECK(moves > 0);
}

TEST_CASE("approximate mode: origin moves give bit for bit the caches of shifted copies", "[sparse]") {
  auto plan = compile_bytes(small_network(), "small.onnx");
  auto pool = std::make_shared<ThreadPool>(2);
  auto runner = std::make_shared<OpRunner>(plan);
  SparseExecutor moving(plan, pool, 16, runner), copying(plan, pool, 16, runner);
  int W = plan->input_w(), H = plan->input_h();
  auto first = test_pattern_rgb(W, H, 41);
  moving.reset(first.data());
  copying.reset(first.data());
  // Thresholds on the dense island, as the default session has (with thresholds on local ops, a moved
  // map compares a recomputed value with the value at the move's offset only, not the block's motion).
  std::vector<float> eps = default_eps(*plan, moving, 0.2f);
  REQUIRE(std::count_if(eps.begin(), eps.end(), [](float e) { return e > 0; }) > 0);
  std::mt19937 rng(9);
  int moves = 0;
  for (int f = 1; f <= 12; ++f) {
    // Pans by amounts that are not stride multiples (rounded to the nearest cell), plus random edits.
    std::vector<Label> labels =
        f % 3 ? pan_update(moving.block_cols(), moving.block_rows(), 16, f % 2 ? 7 : -12, f % 4 ? 5 : -20)
              : random_update(moving.block_cols(), moving.block_rows(), 16, W, H, rng, 0.1, 1);
    for (Label& l : labels)
      if (l != kInvalid && rng() % 10 == 0) l = kInvalid;
    auto frame = test_pattern_rgb(W, H, 400 + static_cast<unsigned>(f));
    SparseParams p;
    p.eps = &eps;
    p.round_offsets = true;
    p.footprint_only = true;
    p.block_motion = &labels;
    moves += moving.run(labels, frame.data(), p).origin_moves;
    p.move_origins = false;
    CHECK(copying.run(labels, frame.data(), p).origin_moves == 0);
    require_same_caches(moving, copying, *plan, f);
  }
  CHECK(moves > 10);
}

TEST_CASE("approximate mode: a fused residual whose labels round to the same cells keeps its positions",
          "[sparse][labels]") {
  // The small network's residual add fuses into conv b1 (window over b0, residual from the split at
  // stride 4). Blocks moved by 3 and 4 px both move a stride-2 and a stride-4 position by the same
  // whole cells, so the mixed frame must recompute exactly the positions of a uniform 4 px pan there.
  auto plan = compile_bytes(small_network(), "small.onnx");
  int residual_out = -1;
  for (int i = 0; i < plan->op_count(); ++i) {
    const OpDesc& op = plan->op(i);
    if (op.has_residual) residual_out = op.out[0];
  }
  REQUIRE(residual_out >= 0);
  auto pool = std::make_shared<ThreadPool>(2);
  auto runner = std::make_shared<OpRunner>(plan);
  SparseExecutor mixed(plan, pool, 16, runner), uniform(plan, pool, 16, runner);
  auto first = test_pattern_rgb(plan->input_w(), plan->input_h(), 51);
  mixed.reset(first.data());
  uniform.reset(first.data());
  const int cols = mixed.block_cols(), rows = mixed.block_rows();
  std::vector<Label> pan4 = pan_update(cols, rows, 16, 4, 0), pan3 = pan_update(cols, rows, 16, 3, 0);
  std::vector<Label> halves = pan4;
  for (int by = 0; by < rows; ++by)
    for (int bx = cols / 2; bx < cols; ++bx) halves[static_cast<size_t>(by) * cols + bx] = pan3[static_cast<size_t>(by) * cols + bx];
  auto frame = test_pattern_rgb(plan->input_w(), plan->input_h(), 52);
  SparseParams p;
  p.round_offsets = true;
  mixed.run(halves, frame.data(), p);
  uniform.run(pan4, frame.data(), p);
  const LabelMap& a = *mixed.labels(residual_out);
  const LabelMap& b = *uniform.labels(residual_out);
  REQUIRE(a.stride == 4);
  // Both moves reach the residual conv's output (it takes the first label a window gathers)...
  CHECK(std::count(a.v.begin(), a.v.end(), pack_shift(3, 0)) > 0);
  CHECK(std::count(a.v.begin(), a.v.end(), pack_shift(4, 0)) > 0);
  // ...and the positions it recomputes are those of the uniform pan (the image border ring only).
  CHECK(a.count_invalid() == b.count_invalid());
  CHECK(b.count_invalid() > 0);
  CHECK(b.count_invalid() < static_cast<int64_t>(b.v.size()) / 2);
}

TEST_CASE("labels from blocks: the same positions, runs and summary as labels set one by one", "[sparse][labels]") {
  const int cols = 7, rows = 5, block = 4;
  std::mt19937 rng(3);
  for (int pattern = 0; pattern < 4; ++pattern) {
    std::vector<Label> blocks(static_cast<size_t>(cols) * rows, 0);
    for (Label& l : blocks) {
      int r = static_cast<int>(rng() % 4);
      if (pattern == 0) l = 0;                                        // static
      else if (pattern == 1) l = r == 0 ? kInvalid : 0;               // edits
      else if (pattern == 2) l = pack_shift(3, -2);                   // a pan
      else l = r == 0 ? kInvalid : r == 1 ? 0 : pack_shift(r, -r);  // mixed
    }
    LabelMap a, b;
    a.resize(rows * block, cols * block, 1);
    b.resize(rows * block, cols * block, 1);
    a.fill_blocks(blocks.data(), cols, rows, block);
    for (int y = 0; y < rows * block; ++y)
      for (int x = 0; x < cols * block; ++x) b.row(y)[x] = blocks[static_cast<size_t>(y / block) * cols + x / block];
    b.summarize();
    INFO("pattern " << pattern);
    CHECK(a.v == b.v);
    CHECK(a.all_zero == b.all_zero);
    const std::vector<Span>& sa = a.invalid_spans();
    const std::vector<Span>& sb = b.invalid_spans();
    REQUIRE(sa.size() == sb.size());
    // Both list each row's runs left to right, rows in order.
    for (size_t k = 0; k < sa.size(); ++k) CHECK((sa[k].y == sb[k].y && sa[k].x0 == sb[k].x0 && sa[k].x1 == sb[k].x1));
    CHECK(a.shifted(false) == b.shifted(false));
    CHECK(a.shifted(true) == b.shifted(true));
  }
  LabelMap c;
  c.resize(20, 27, 1);
  std::vector<Label> blocks(35, 0);
  CHECK(test::error_of([&] { c.fill_blocks(blocks.data(), 7, 5, 4); }) ==
        "block labels 7x5 of 4 positions do not tile a 27x20 map");
}

namespace {

// The first frame of bedroom.mp4 letterboxed to the plan's input.
std::vector<uint8_t> bedroom_frame(const Plan& plan) {
  VideoReader reader(test::source_path("assets/bedroom.mp4"));
  Frame f;
  REQUIRE(reader.read(f));
  std::vector<uint8_t> img(static_cast<size_t>(plan.input_w()) * plan.input_h() * 3);
  letterbox_rgb(f.rgb.data(), f.width, f.height, plan.input_w(), plan.input_h(), img.data());
  return img;
}

// The sparse executor's epilogue against the whole epilogue run on its current maps: the dense executor
// runs R_t, takes every cached map the epilogue reads from the sparse executor, and runs the epilogue
// again. Outputs must be equal bit for bit, and so must every NCHW conversion of a cached map that the
// column tail does not replace (those are updated in place).
void require_epilogue_of_maps(SparseExecutor& sp, DenseExecutor& dense, const Plan& plan, const ColumnTail* tail,
                              int frame) {
  rgb_to_planar_float(sp.reference_rgb(), plan.input_w(), plan.input_h(), dense.input_data());
  dense.invoke();
  int first = -1;
  for (int i = 0; i < plan.op_count(); ++i) {
    const OpDesc& op = plan.op(i);
    if (op.region != PlanRegion::Epilogue) continue;
    if (first < 0) first = i;
    for (int t : op.in) {
      if (t < 0 || !sp.has_cache(t)) continue;
      MapView from = sp.map_of(t), to = dense.map_of(t);
      for (int y = 0; y < from.h; ++y)
        for (int x = 0; x < from.w; ++x) std::memcpy(to.at(y, x), from.at(y, x), sizeof(float) * from.c);
    }
  }
  REQUIRE(first >= 0);
  dense.run_ops(first, plan.op_count());
  for (size_t o = 0; o < plan.outputs().size(); ++o) {
    INFO("frame " << frame << ", output " << plan.tensor(plan.outputs()[o]).name);
    REQUIRE(std::memcmp(sp.output_data(o), dense.output_data(o),
                        static_cast<size_t>(plan.tensor(plan.outputs()[o]).bytes())) == 0);
  }
  for (int i = first; i < plan.op_count(); ++i) {
    const OpDesc& op = plan.op(i);
    int in = op.in[0], out = op.out[0];
    if (op.kind != OpKind::Relayout || !sp.has_cache(in) || (tail && tail->covers(i))) continue;
    const MapView m = sp.map_of(in);
    const float* d = sp.tensor_data(out);
    const int64_t hw = static_cast<int64_t>(m.h) * m.w;
    bool equal = true;
    for (int64_t k = 0; k < hw && equal; ++k)
      for (int c = 0; c < m.c && equal; ++c)
        equal = std::memcmp(&d[c * hw + k], &m.at(static_cast<int>(k / m.w), static_cast<int>(k % m.w))[c], 4) == 0;
    INFO("frame " << frame << ", op " << i << " '" << op.name << "'");
    REQUIRE(equal);
  }
}

// One fresh block a frame on a still picture (frame 3: all fresh), with the session's thresholds and
// footprint policy: few head positions change, so the column tail recomputes just their columns (and
// layout conversions it does not cover rewrite just those positions). Returns the frames the column
// path ran on.
int few_edits(const std::shared_ptr<const Plan>& plan, int frames) {
  auto pool = std::make_shared<ThreadPool>(2);
  auto runner = std::make_shared<OpRunner>(plan);
  SparseExecutor sp(plan, pool, 16, runner);
  DenseExecutor dense(plan, pool, runner);
  auto tail = ColumnTail::find(plan);
  REQUIRE(tail);
  sp.reset(bedroom_frame(*plan).data());
  std::vector<float> eps = default_eps(*plan, sp, 0.2f);
  int column_frames = 0;
  for (int frame = 1; frame <= frames; ++frame) {
    std::vector<Label> labels(static_cast<size_t>(sp.block_cols()) * sp.block_rows(), 0);
    if (frame == 3) labels.assign(labels.size(), kInvalid);  // the covered ops run whole once
    else labels[static_cast<size_t>(frame * 37 % labels.size())] = kInvalid;
    auto other = test_pattern_rgb(plan->input_w(), plan->input_h(), 500 + static_cast<unsigned>(frame));
    SparseParams p;
    p.eps = &eps;
    p.round_offsets = p.footprint_only = true;
    const SparseStats& st = sp.run(labels, other.data(), p);
    REQUIRE(st.epilogue_run > 0);
    CHECK(st.tail_columns <= tail->max_columns());
    column_frames += st.tail_columns > 0;
    require_epilogue_of_maps(sp, dense, *plan, tail.get(), frame);
  }
  return column_frames;
}

}  // namespace

TEST_CASE("the column tail of YOLO11 heads: found, and anything it cannot take refused", "[sparse][tail]") {
  // Ultralytics' 320 export flattens box and class maps apart (two gathers, six maps) and runs the DFL
  // softmax on a transposed view; the 640 export concatenates them first (one gather, three maps).
  auto tail320 = ColumnTail::find(test::compiled_model(test::source_path("assets/yolo11n-320.onnx")).plan);
  REQUIRE(tail320);
  CHECK(tail320->anchors() == 40 * 40 + 20 * 20 + 10 * 10);
  CHECK(tail320->sources().size() == 6);
  CHECK(tail320->max_columns() == 1575);  // three quarters
  auto tail640 = ColumnTail::find(test::compiled_model(test::source_path("assets/yolo11n-640.onnx")).plan);
  REQUIRE(tail640);
  CHECK(tail640->anchors() == 8400);
  CHECK(tail640->sources().size() == 3);
  // The small network's head: one map, flattened on its own (no concat).
  auto small = compile_bytes(small_network(), "small.onnx");
  auto tail_small = ColumnTail::find(small);
  REQUIRE(tail_small);
  CHECK(tail_small->anchors() == 24 * 32);
  CHECK(tail_small->sources().size() == 1);
  // A softmax across the anchors mixes columns: no column path.
  CHECK_FALSE(ColumnTail::find(compile_bytes(small_network(/*anchor_softmax=*/true), "small_softmax.onnx")));
}

TEST_CASE("exact mode: frames that recompute few anchor columns stay equal to dense inference",
          "[sparse][exact][tail]") {
  // Without a dense island (which recomputes everything in exact mode) a fresh block changes few head
  // positions: the column path. Between such frames, a fully fresh frame (the covered ops run whole
  // from stale conversions) and a pan by 32 px.
  auto plan = compile_bytes(small_network(false, /*island=*/false), "small_no_island.onnx");
  auto pool = std::make_shared<ThreadPool>(2);
  auto runner = std::make_shared<OpRunner>(plan);
  SparseExecutor sp(plan, pool, 16, runner);
  DenseExecutor dense(plan, pool, runner);
  const int W = plan->input_w(), H = plan->input_h();
  sp.reset(test_pattern_rgb(W, H, 70).data());
  const size_t nb = static_cast<size_t>(sp.block_cols()) * sp.block_rows(), cols = static_cast<size_t>(sp.block_cols());
  // A block in a corner: in exact mode a change spreads by every window's radius, here over less than
  // half the head.
  const size_t corners[4] = {0, cols - 1, nb - cols, nb - 1};
  int column_frames = 0, whole_frames = 0;
  for (int f = 1; f <= 9; ++f) {
    std::vector<Label> labels(nb, 0);
    if (f == 4) labels = std::vector<Label>(nb, kInvalid);
    else if (f == 5) labels = pan_update(sp.block_cols(), sp.block_rows(), 16, 32, 0);
    else if (f != 9) labels[corners[f % 4]] = kInvalid;  // frame 9: nothing changes
    const SparseStats& st =
        sp.run(labels, test_pattern_rgb(W, H, 80 + static_cast<unsigned>(f)).data(), SparseParams{});
    column_frames += st.tail_columns > 0;
    whole_frames += st.tail_columns == 0 && st.epilogue_run > 0;
    if (f == 9) CHECK(st.epilogue_run == 0);
    compare_with_dense(sp, dense, *plan, f);
  }
  CHECK(column_frames >= 5);
  CHECK(whole_frames >= 1);
}

TEST_CASE("few changed head positions: the column tail's outputs equal the whole epilogue on the maps",
          "[sparse][model][tail]") {
  CHECK(few_edits(test::compiled_model(test::source_path("assets/yolo11n-320.onnx")).plan, 5) >= 3);
}

TEST_CASE("segment head: mask coefficients by column, the prototypes' conversion in place", "[sparse][model][tail]") {
  CHECK(few_edits(test::compiled_model(test::source_path("assets/yolo11n-seg-640.onnx")).plan, 4) >= 2);
}

namespace {

// propagate_window by definition, position by position: the label every in-bounds input of the window
// agrees on (same_move; the first of them), then whole cells, zero padding untouched and the shifted position
// inside the map.
void naive_window(const LabelMap& in, AxisWindow wy, AxisWindow wx, bool round, LabelMap& out) {
  for (int y = 0; y < out.h; ++y)
    for (int x = 0; x < out.w; ++x) {
      Label l = 0;
      bool first = true, pad_y = false, pad_x = false;
      for (int i = 0; i < wy.kernel; ++i)
        for (int j = 0; j < wx.kernel; ++j) {
          int r = y * wy.stride - wy.pad + i * wy.dilation, c = x * wx.stride - wx.pad + j * wx.dilation;
          pad_y = pad_y || r < 0 || r >= in.h;
          pad_x = pad_x || c < 0 || c >= in.w;
          if (r < 0 || r >= in.h || c < 0 || c >= in.w) continue;
          Label v = in.row(r)[c];
          l = first ? v : (same_move(l, v, out.stride, round) ? l : kInvalid);
          first = false;
        }
      if (l != 0 && l != kInvalid) {
        int dy, dx;
        if (!cell_offset(shift_dy(l), out.stride, round, dy) || !cell_offset(shift_dx(l), out.stride, round, dx) ||
            (pad_y && dy) || (pad_x && dx) || y + dy < 0 || y + dy >= out.h || x + dx < 0 || x + dx >= out.w)
          l = kInvalid;
      }
      out.row(y)[x] = l;
    }
}

}  // namespace

TEST_CASE("label propagation through a window matches its definition", "[sparse][labels]") {
  std::mt19937 rng(17);
  std::vector<Label> scratch;
  // Shifts that differ but round to the same cells at some strides (3 / 4 / -1 px; -5 / -6 px).
  const Label choices[] = {0, 0, kInvalid, pack_shift(8, 0), pack_shift(-16, 8), pack_shift(3, -5), pack_shift(32, 32),
                           pack_shift(4, -6), pack_shift(-1, 0)};
  for (int trial = 0; trial < 300; ++trial) {
    AxisWindow wy{1 + static_cast<int>(rng() % 5), 1 + static_cast<int>(rng() % 2), static_cast<int>(rng() % 3),
                  1 + static_cast<int>(rng() % 2)};
    AxisWindow wx{1 + static_cast<int>(rng() % 5), 1 + static_cast<int>(rng() % 2), static_cast<int>(rng() % 3),
                  trial % 3 ? 1 : 2};
    if (trial % 5 == 0) wy = {2, 2, 0, 1};  // the footprint of a stride-2 layer (a fast path), per axis
    if (trial % 5 == 0 || trial % 5 == 1) wx = {2, 2, 0, 1};
    int ih = 4 + static_cast<int>(rng() % 20), iw = 4 + static_cast<int>(rng() % 20), s = 1 << (rng() % 4);
    int oh = (ih + 2 * wy.pad - wy.dilation * (wy.kernel - 1) - 1) / wy.stride + 1;
    int ow = (iw + 2 * wx.pad - wx.dilation * (wx.kernel - 1) - 1) / wx.stride + 1;
    if (oh <= 0 || ow <= 0) continue;
    LabelMap in, a, b;
    in.resize(ih, iw, s);
    // Runs of labels (as blocks make them), sometimes a uniform map.
    int run = 1 + static_cast<int>(rng() % 6);
    for (int y = 0; y < ih; ++y)
      for (int x = 0; x < iw; ++x)
        in.row(y)[x] = trial % 7 == 0 ? choices[3] : choices[(rng() % 9 + (x / run) * 3 + (y / run)) % 9];
    in.summarize();
    a.resize(oh, ow, s * wy.stride);
    b.resize(oh, ow, s * wy.stride);
    bool round = trial % 2 == 1;
    propagate_window(in, wy, wx, round, a, scratch);
    naive_window(in, wy, wx, round, b);
    INFO("trial " << trial << ": " << ih << "x" << iw << " kernel " << wy.kernel << "x" << wx.kernel << " stride "
                  << wy.stride << "x" << wx.stride << " pad " << wy.pad << "," << wx.pad << " dilation " << wy.dilation
                  << "," << wx.dilation);
    REQUIRE(a.v == b.v);
  }
}

TEST_CASE("label propagation: a footprint window over a map filled from blocks works per block", "[sparse][labels]") {
  // The first layer of a network in the approximate mode: a stride-2 (or 4) footprint over the input
  // map, which fill_blocks built. The per-block path must give the labels of the definition, and the
  // same runs, summary and shift flag as the map scanned position by position.
  std::mt19937 rng(23);
  std::vector<Label> scratch;
  const Label choices[] = {0, 0, 0, kInvalid, pack_shift(16, 0), pack_shift(-3, 5), pack_shift(2, -2), pack_shift(1, 0),
                           pack_shift(-16, -16), pack_shift(7, 9)};
  for (int trial = 0; trial < 200; ++trial) {
    const int block = trial % 3 == 0 ? 16 : (trial % 3 == 1 ? 8 : 4), s = trial % 4 == 3 ? 4 : 2;
    const int cols = 1 + static_cast<int>(rng() % 6), rows = 1 + static_cast<int>(rng() % 5);
    std::vector<Label> blocks(static_cast<size_t>(cols) * rows);
    for (Label& l : blocks) l = trial % 10 == 0 ? 0 : choices[rng() % 10];
    if (trial % 10 == 1) std::fill(blocks.begin(), blocks.end(), pack_shift(-16, -16));  // a pan: borders cut
    LabelMap in, plain, a, b;
    in.resize(rows * block, cols * block, 1);
    in.fill_blocks(blocks.data(), cols, rows, block);
    plain.resize(in.h, in.w, 1);
    plain.copy_from(in);  // the same labels without the blocks: the position-by-position path
    REQUIRE(plain.blocks == nullptr);
    const AxisWindow w{s, s, 0, 1};
    const bool round = trial % 2 == 1;
    a.resize(in.h / s, in.w / s, s);
    b.resize(in.h / s, in.w / s, s);
    propagate_window(in, w, w, round, a, scratch);
    propagate_window(plain, w, w, round, b, scratch);
    INFO("trial " << trial << ": " << cols << "x" << rows << " blocks of " << block << ", stride " << s);
    REQUIRE(a.v == b.v);
    CHECK(a.all_zero == b.all_zero);
    CHECK(a.blocks == nullptr);
    const std::vector<Span> sa = a.invalid_spans(), sb = b.invalid_spans();
    REQUIRE(sa.size() == sb.size());
    for (size_t k = 0; k < sa.size(); ++k) CHECK((sa[k].y == sb[k].y && sa[k].x0 == sb[k].x0 && sa[k].x1 == sb[k].x1));
    CHECK(a.shifted(round) == b.shifted(round));
  }
}

TEST_CASE("label propagation: point-wise ops and changed values round shifts to cells", "[sparse][labels]") {
  LabelMap a, b, out;
  a.resize(1, 4, 32);
  b.resize(1, 4, 32);
  out.resize(1, 4, 32);
  const Label la[] = {pack_shift(3, 0), pack_shift(-20, 0), 0, kInvalid};
  const Label lb[] = {pack_shift(4, 0), pack_shift(-12, 0), pack_shift(1, 1), 0};
  for (int x = 0; x < 4; ++x) a.row(0)[x] = la[x], b.row(0)[x] = lb[x];
  a.summarize();
  b.summarize();
  const LabelMap* maps[2] = {&a, &b};
  // Exact mode: only equal labels agree.
  propagate_pointwise(maps, 2, false, out);
  CHECK(out.v == std::vector<Label>{kInvalid, kInvalid, kInvalid, kInvalid});
  // Approximate mode at stride 32: 3 and 4 px both move by 0 cells (the first label stands for both),
  // -20 px by -1 cell but -12 px by 0, (0, 0) and (1, 1) px by 0.
  propagate_pointwise(maps, 2, true, out);
  CHECK(out.v == std::vector<Label>{pack_shift(3, 0), kInvalid, 0, kInvalid});

  CHECK_FALSE(changes_value(0, 32, true));
  CHECK(changes_value(kInvalid, 32, true));
  CHECK_FALSE(changes_value(pack_shift(3, -4), 32, true));  // stays in its cell
  CHECK(changes_value(pack_shift(3, -4), 2, true));         // moves by (2, -2) cells of 2 px
  CHECK(changes_value(pack_shift(-20, 0), 32, true));
  CHECK(changes_value(pack_shift(3, -4), 32, false));       // exact mode: any shift
}

TEST_CASE("approximate mode: island positions whose own inputs were reused keep the cache within the reused eps",
          "[sparse][island]") {
  // One corner of fresh blocks, everything else still; thresholds on the island only (a hundredth of
  // the default session's: this small attention's softmax is peaked, so its spread is small). With scale
  // 1 the attention spreads the corner's change to other positions; with an infinite scale only
  // positions whose own island input changed are recomputed. `rel`: the island threshold relative to
  // the output's mean |value|; `after` receives the island's output, `eps_out` the threshold used.
  auto run = [](float scale, std::vector<uint8_t>* dirty_out, std::vector<uint8_t>* dirty_in, bool* kept,
                float rel = 0.002f, std::vector<float>* after = nullptr, float* eps_out = nullptr) {
    SmallNetwork net(31);
    auto [plan, sp, dense, W, H] = net.parts();
    int out = -1;
    for (int i = 0; i < plan->op_count(); ++i) {
      const OpDesc& op = plan->op(i);
      const bool global = op.region == PlanRegion::Global;
      if (global && sp.has_cache(op.out[0])) out = op.out[0];
    }
    REQUIRE(out >= 0);
    const int entry = sp.island_entry(out);
    INFO("island output '" << plan->tensor(out).name << "'");
    REQUIRE(entry >= 0);
    CHECK(plan->tensor(entry).name == "c4.silu_out0");
    MapView m = sp.map_of(out);
    std::vector<float> before;
    for (int y = 0; y < m.h; ++y)
      for (int x = 0; x < m.w; ++x) before.insert(before.end(), m.at(y, x), m.at(y, x) + m.c);
    const std::vector<float> island_eps = default_eps(*plan, sp, rel);
    if (eps_out) *eps_out = island_eps.at(static_cast<size_t>(plan->tensor(out).producer));
    std::vector<Label> labels(static_cast<size_t>(sp.block_cols()) * sp.block_rows(), 0);
    for (int by = 0; by < 3; ++by)
      for (int bx = 0; bx < 3; ++bx) labels[static_cast<size_t>(by) * sp.block_cols() + bx] = kInvalid;
    auto frame = test_pattern_rgb(W, H, 77);
    SparseParams p;
    p.eps = &island_eps;
    p.round_offsets = true;
    p.footprint_only = true;
    p.island_reused_scale = scale;
    sp.run(labels, frame.data(), p);
    const LabelMap &O = *sp.labels(out), &E = *sp.labels(entry);
    m = sp.map_of(out);
    *kept = true;
    for (int y = 0; y < O.h; ++y)
      for (int x = 0; x < O.w; ++x) {
        dirty_out->push_back(O.row(y)[x] == kInvalid);
        dirty_in->push_back(E.row(y)[x] == kInvalid);
        if (O.row(y)[x] != kInvalid)
          *kept = *kept && std::memcmp(m.at(y, x), &before[(static_cast<size_t>(y) * O.w + x) * m.c], m.c * 4) == 0;
        if (after) after->insert(after->end(), m.at(y, x), m.at(y, x) + m.c);
      }
  };
  std::vector<uint8_t> o1, e1, oi, ei;
  bool kept1 = false, kepti = false;
  run(1.f, &o1, &e1, &kept1);
  run(std::numeric_limits<float>::infinity(), &oi, &ei, &kepti);
  REQUIRE(e1 == ei);
  int changed_in = 0, spread = 0, beyond = 0, lost = 0;
  for (size_t k = 0; k < e1.size(); ++k) {
    changed_in += e1[k];
    spread += o1[k] && !e1[k];  // scale 1: recomputed through the mixing alone
    beyond += oi[k] && !ei[k];  // infinite scale: must not happen
    lost += oi[k] && !o1[k];    // the larger threshold never recomputes more
  }
  CHECK(changed_in > 0);
  CHECK(changed_in < static_cast<int>(e1.size()) / 2);
  CHECK(spread > 0);
  CHECK(beyond == 0);
  CHECK(lost == 0);
  CHECK(kept1);
  CHECK(kepti);

  // The bound: with a finite factor every kept position stays within eps x factor of what the island
  // computes from its current inputs (a run whose threshold keeps only unchanged values), and the
  // looser threshold is used (some kept position is further than eps from it). Threshold 0.005 of the
  // mean: this network's spread lies between 3x0.002 and 0.02 of it, so the band eps..3 eps is populated.
  std::vector<uint8_t> o3, e3, of, ef;
  std::vector<float> a3, fresh;
  bool kept3 = false, keptf = false;
  float eps3 = 0, epsf = 0;
  run(3.f, &o3, &e3, &kept3, 0.005f, &a3, &eps3);
  run(1.f, &of, &ef, &keptf, 1e-12f, &fresh, &epsf);
  REQUIRE(a3.size() == fresh.size());
  REQUIRE(eps3 > 0);
  float worst = 0;
  for (size_t k = 0; k < a3.size(); ++k) worst = std::max(worst, std::fabs(a3[k] - fresh[k]));
  INFO("eps " << eps3 << ", worst deviation " << worst);
  CHECK(worst <= 3.f * eps3);
  CHECK(worst > eps3);
}
