// The compiler: ONNX loading, each pass as a stand-alone unit over the IR, spatial analysis, memory
// plan; and each ONNX op end to end (ONNX bytes -> plan -> CPU runtime) against a plain reference.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "compiler/compile.h"
#include "compiler/memory_plan.h"
#include "compiler/onnx_builder.h"
#include "compiler/onnx_loader.h"
#include "compiler/passes/passes.h"
#include "compiler/shape_inference.h"
#include "compiler/spatial.h"
#include "runtime/dense_executor.h"
#include "runtime/error.h"
#include "test_util.h"

using namespace fx;

namespace {

std::vector<float> rand_vec(size_t n, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// Compiles `model` (metadata task=detect added by the caller) and runs it on `input`.
std::vector<std::vector<float>> run_model(const std::string& model, const std::vector<float>& input,
                                          std::shared_ptr<const Plan>* plan_out = nullptr) {
  std::vector<uint8_t> bytes = compile_onnx(model.data(), model.size(), "test.onnx");
  auto plan = Plan::from_bytes(bytes.data(), bytes.size(), "test.fsp");
  DenseExecutor exec(plan, std::make_shared<ThreadPool>(2));
  REQUIRE(static_cast<int64_t>(input.size()) == plan->tensor(plan->input()).numel);
  std::copy(input.begin(), input.end(), exec.input_data());
  exec.invoke();
  std::vector<std::vector<float>> outs;
  for (size_t i = 0; i < plan->outputs().size(); ++i)
    outs.emplace_back(exec.output_data(i), exec.output_data(i) + plan->tensor(plan->outputs()[i]).numel);
  if (plan_out) *plan_out = plan;
  return outs;
}

// NCHW reference convolution (double accumulation).
std::vector<float> conv_ref(const std::vector<float>& x, int c, int h, int w, const std::vector<float>& wt,
                            const std::vector<float>& b, int co, int k, int s, int p, int group = 1) {
  int ho = (h + 2 * p - k) / s + 1, wo = (w + 2 * p - k) / s + 1, cpg = c / group, opg = co / group;
  std::vector<float> y(static_cast<size_t>(co) * ho * wo);
  for (int o = 0; o < co; ++o)
    for (int yy = 0; yy < ho; ++yy)
      for (int xx = 0; xx < wo; ++xx) {
        double acc = b.empty() ? 0 : b[o];
        int g = o / opg;
        for (int ci = 0; ci < cpg; ++ci)
          for (int ky = 0; ky < k; ++ky)
            for (int kx = 0; kx < k; ++kx) {
              int iy = yy * s - p + ky, ix = xx * s - p + kx;
              if (iy < 0 || ix < 0 || iy >= h || ix >= w) continue;
              acc += static_cast<double>(x[(static_cast<size_t>(g * cpg + ci) * h + iy) * w + ix]) *
                     wt[((static_cast<size_t>(o) * cpg + ci) * k + ky) * k + kx];
            }
        y[(static_cast<size_t>(o) * ho + yy) * wo + xx] = static_cast<float>(acc);
      }
  return y;
}

void check_close(const std::vector<float>& a, const std::vector<float>& b, double tol) {
  REQUIRE(a.size() == b.size());
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(static_cast<double>(a[i]) - b[i]));
  INFO("max abs difference " << worst);
  CHECK(worst <= tol);
}

float silu(float v) { return v / (1.f + std::exp(-v)); }

}  // namespace

TEST_CASE("IR mutation API: replace_uses, topo_sort, compact", "[compiler][ir]") {
  ir::Graph g;
  ir::Tensor in;
  in.name = "x";
  in.shape = {1, 4};
  in.shape_known = true;
  int x = g.add_tensor(in);
  g.inputs.push_back(x);
  auto tensor = [&](const std::string& n) {
    ir::Tensor t;
    t.name = n;
    return g.add_tensor(t);
  };
  int a = tensor("a"), b = tensor("b"), c = tensor("c");
  ir::Node n2;
  n2.name = "second", n2.op = "Sigmoid", n2.inputs = {a}, n2.outputs = {b};
  ir::Node n1;
  n1.name = "first", n1.op = "Sigmoid", n1.inputs = {x}, n1.outputs = {a};
  ir::Node dead;
  dead.name = "dead", dead.op = "Sigmoid", dead.inputs = {x}, dead.outputs = {c};
  g.add_node(n2);  // out of order on purpose
  g.add_node(n1);
  g.add_node(dead);
  g.outputs = {b};
  g.topo_sort();
  CHECK(g.node(0).name == "first");
  CHECK(g.producer(b) == 1);
  CHECK(g.consumers(x).size() == 2);
  CHECK(passes::remove_dead_nodes(g) == 1);
  g.replace_uses(a, x);  // "second" now reads the input directly
  CHECK(passes::remove_dead_nodes(g) == 1);  // so "first" is dead too
  g.compact();
  CHECK(g.node_count() == 1);
  CHECK(g.tensor_count() == 2);
  CHECK(g.node(0).inputs[0] == g.find_tensor("x"));
  CHECK_THROWS_AS(g.rename_tensor(0, "b"), Error);
}

TEST_CASE("constant folding removes exporter shape arithmetic", "[compiler][passes]") {
  // Shape -> Gather -> Unsqueeze -> Concat -> Reshape, the pattern of dynamic-shape exports.
  OnnxBuilder b(13);
  std::string x = b.input("images", {1, 3, 4, 6});
  std::string shp = b.op("Shape", "shape", {x});
  std::string c1 = b.op("Gather", "gather", {shp, b.initializer_ints("i1", {}, {1})}, {OnnxAttr::integer("axis", 0)});
  std::string u = b.op("Unsqueeze", "unsq", {c1, b.initializer_ints("ax", {1}, {0})});
  std::string cat = b.op("Concat", "cat", {b.initializer_ints("one", {1}, {1}), u, b.initializer_ints("m1", {1}, {-1})},
                         {OnnxAttr::integer("axis", 0)});
  std::string casted = b.op("Cast", "cast", {cat}, {OnnxAttr::integer("to", 7)});
  b.node("Reshape", "reshape", {x, casted}, {}, 1, {"output0"});
  b.output("output0");
  b.metadata("task", "detect");
  std::string m = b.serialize();
  ir::Graph g = load_onnx(m.data(), m.size(), "fold.onnx");
  int folded = passes::fold_constants(g);
  CHECK(folded == 5);
  passes::remove_dead_nodes(g);
  g.compact();
  REQUIRE(g.node_count() == 1);
  CHECK(g.node(0).op == "Reshape");
  CHECK(g.tensor(g.node(0).inputs[1]).to_ints() == std::vector<int64_t>{1, 3, -1});
  CHECK(g.tensor(g.outputs[0]).shape == std::vector<int64_t>{1, 3, 24});
  // And it runs: a reshape keeps the values.
  auto in = rand_vec(72, 1);
  auto out = run_model(m, in);
  CHECK(out[0] == in);
}

TEST_CASE("Conv + Sigmoid + Mul fuses into Conv(SiLU); residual Add fuses too", "[compiler][passes]") {
  OnnxBuilder b(17);
  std::string x = b.input("images", {1, 3, 9, 7});
  auto w = rand_vec(3 * 3 * 3 * 3, 2), bias = rand_vec(3, 3);
  std::string y = b.op("Conv", "conv", {x, b.initializer("w", {3, 3, 3, 3}, w), b.initializer("b", {3}, bias)},
                       {OnnxAttr::integers("pads", {1, 1, 1, 1})});
  std::string s = b.op("Sigmoid", "sig", {y});
  std::string m = b.op("Mul", "mul", {y, s});
  b.node("Add", "res", {x, m}, {}, 1, {"output0"});
  b.output("output0");
  b.metadata("task", "detect");
  std::string model = b.serialize();

  ir::Graph g = load_onnx(model.data(), model.size(), "fuse.onnx");
  passes::fold_constants(g);
  CHECK(passes::fuse_conv_activation(g) == 1);
  CHECK(passes::fuse_conv_residual(g) == 1);
  g.compact();
  REQUIRE(g.node_count() == 1);
  CHECK(g.node(0).attr_string("activation", "") == "SiLU");
  CHECK(g.node(0).inputs.size() == 4);

  auto in = rand_vec(3 * 9 * 7, 4);
  auto ref = conv_ref(in, 3, 9, 7, w, bias, 3, 3, 1, 1);
  for (size_t i = 0; i < ref.size(); ++i) ref[i] = silu(ref[i]) + in[i];
  check_close(run_model(model, in)[0], ref, 1e-5);
}

TEST_CASE("BatchNormalization folds into the preceding Conv, or becomes Mul + Add", "[compiler][passes]") {
  OnnxBuilder b(15);
  std::string x = b.input("images", {1, 3, 6, 6});
  auto w = rand_vec(4 * 3 * 1 * 1, 5);
  auto gamma = rand_vec(4, 6, 0.5f, 1.5f), beta = rand_vec(4, 7), mean = rand_vec(4, 8),
       var = rand_vec(4, 9, 0.2f, 2.f);
  auto g2 = rand_vec(4, 10, 0.5f, 1.5f), b2 = rand_vec(4, 11), m2 = rand_vec(4, 12), v2 = rand_vec(4, 13, 0.2f, 2.f);
  std::string y = b.op("Conv", "conv", {x, b.initializer("w", {4, 3, 1, 1}, w)});
  std::string bn = b.op("BatchNormalization", "bn",
                        {y, b.initializer("g", {4}, gamma), b.initializer("be", {4}, beta),
                         b.initializer("m", {4}, mean), b.initializer("v", {4}, var)},
                        {OnnxAttr::real("epsilon", 1e-3f)});
  std::string sum = b.op("Add", "add", {bn, bn});
  b.node("BatchNormalization", "bn2",
         {sum, b.initializer("g2", {4}, g2), b.initializer("be2", {4}, b2), b.initializer("m2", {4}, m2),
          b.initializer("v2", {4}, v2)},
         {}, 1, {"output0"});
  b.output("output0");
  b.metadata("task", "detect");
  std::string model = b.serialize();

  ir::Graph g = load_onnx(model.data(), model.size(), "bn.onnx");
  passes::fold_constants(g);
  CHECK(passes::fold_batchnorm(g) == 2);
  int convs = 0, muls = 0;
  for (int n : g.live_nodes()) {
    convs += g.node(n).op == "Conv";
    muls += g.node(n).op == "Mul";
    CHECK(g.node(n).op != "BatchNormalization");
  }
  CHECK(convs == 1);
  CHECK(muls == 1);

  auto in = rand_vec(3 * 36, 14);
  auto ref = conv_ref(in, 3, 6, 6, w, {}, 4, 1, 1, 0);
  for (int c = 0; c < 4; ++c)
    for (int i = 0; i < 36; ++i) {
      double v = ref[c * 36 + i];
      v = (v - mean[c]) / std::sqrt(var[c] + 1e-3) * gamma[c] + beta[c];
      v = 2 * v;
      v = (v - m2[c]) / std::sqrt(v2[c] + 1e-5) * g2[c] + b2[c];
      ref[c * 36 + i] = static_cast<float>(v);
    }
  check_close(run_model(model, in)[0], ref, 1e-4);
}

TEST_CASE("every ONNX op the YOLO11 exports use matches a plain reference", "[compiler][ops]") {
  const int C = 4, H = 6, W = 8;
  auto in = rand_vec(C * H * W, 20);

  SECTION("grouped strided Conv, MaxPool with ceil_mode, Resize") {
    OnnxBuilder b(17);
    std::string x = b.input("images", {1, 3, 8, 10});  // 3 channels: the plan input contract
    auto w = rand_vec(6 * 1 * 3 * 3, 21), bias = rand_vec(6, 22);
    std::string y = b.op("Conv", "dw", {x, b.initializer("w", {6, 1, 3, 3}, w), b.initializer("b", {6}, bias)},
                         {OnnxAttr::integers("pads", {1, 1, 1, 1}), OnnxAttr::integers("strides", {2, 2}),
                          OnnxAttr::integer("group", 3)});
    std::string p = b.op("MaxPool", "pool", {y},
                         {OnnxAttr::integers("kernel_shape", {2, 2}), OnnxAttr::integers("strides", {2, 2}),
                          OnnxAttr::integer("ceil_mode", 1)});
    b.node("Resize", "up", {p, "", b.initializer("scales", {4}, {1, 1, 2, 2})},
           {OnnxAttr::string("mode", "nearest"), OnnxAttr::string("coordinate_transformation_mode", "asymmetric"),
            OnnxAttr::string("nearest_mode", "floor")},
           1, {"output0"});
    b.output("output0");
    b.metadata("task", "detect");
    auto x0 = rand_vec(3 * 8 * 10, 23);
    auto c = conv_ref(x0, 3, 8, 10, w, bias, 6, 3, 2, 1, 3);  // 6 x 4 x 5
    // ceil_mode pooling 2x2/2 of 4x5 -> 2x3; the last column window holds one input column.
    std::vector<float> pooled(6 * 2 * 3);
    for (int ch = 0; ch < 6; ++ch)
      for (int yy = 0; yy < 2; ++yy)
        for (int xx = 0; xx < 3; ++xx) {
          float m = -INFINITY;
          for (int dy = 0; dy < 2; ++dy)
            for (int dx = 0; dx < 2; ++dx) {
              int iy = yy * 2 + dy, ix = xx * 2 + dx;
              if (iy < 4 && ix < 5) m = std::max(m, c[(ch * 4 + iy) * 5 + ix]);
            }
          pooled[(ch * 2 + yy) * 3 + xx] = m;
        }
    std::vector<float> ref(6 * 4 * 6);
    for (int ch = 0; ch < 6; ++ch)
      for (int yy = 0; yy < 4; ++yy)
        for (int xx = 0; xx < 6; ++xx) ref[(ch * 4 + yy) * 6 + xx] = pooled[(ch * 2 + yy / 2) * 3 + xx / 2];
    check_close(run_model(b.serialize(), x0)[0], ref, 1e-5);
  }

  SECTION("Split (input and attribute forms), Concat, Sub/Div with constants, Sigmoid") {
    for (int opset : {12, 13}) {
      OnnxBuilder b(opset);
      std::string x = b.input("images", {1, 3, H, W});
      std::vector<std::string> parts;
      if (opset >= 13)
        parts =
            b.node("Split", "split", {x, b.initializer_ints("sizes", {2}, {1, 2})}, {OnnxAttr::integer("axis", 1)}, 2);
      else
        parts = b.node("Split", "split", {x}, {OnnxAttr::integer("axis", 1), OnnxAttr::integers("split", {1, 2})}, 2);
      std::string d = b.op("Div", "div", {parts[1], b.initializer("two", {}, {2.f})});
      std::string s = b.op("Sub", "sub", {b.initializer("k", {1, 1, 1, 1}, {0.5f}), parts[0]});
      std::string sg = b.op("Sigmoid", "sig", {s});
      b.node("Concat", "cat", {d, sg}, {OnnxAttr::integer("axis", 1)}, 1, {"output0"});
      b.output("output0");
      b.metadata("task", "detect");
      auto x0 = rand_vec(3 * H * W, 30);
      std::vector<float> ref(3 * H * W);
      for (int i = 0; i < H * W; ++i) {
        ref[i] = x0[H * W + i] / 2;
        ref[H * W + i] = x0[2 * H * W + i] / 2;
        ref[2 * H * W + i] = 1.f / (1.f + std::exp(-(0.5f - x0[i])));
      }
      check_close(run_model(b.serialize(), x0)[0], ref, 1e-6);
    }
  }

  SECTION("Reshape, Transpose, MatMul, Softmax (opset 12 flattening and 13 axis), Slice with negative step") {
    for (int opset : {12, 13}) {
      OnnxBuilder b(opset);
      std::string x = b.input("images", {1, 3, 4, 4});
      std::string r = b.op("Reshape", "r", {x, b.initializer_ints("s", {3}, {1, 3, 16})});
      std::string t = b.op("Transpose", "t", {r}, {OnnxAttr::integers("perm", {0, 2, 1})});  // 1x16x3
      std::string mm = b.op("MatMul", "mm", {r, t});                                        // 1x3x3
      std::string soft = b.op("Softmax", "sm", {mm}, {OnnxAttr::integer("axis", 1)});
      b.node("Slice", "sl",
             {soft, b.initializer_ints("st", {1}, {-1}), b.initializer_ints("en", {1}, {-100}),
              b.initializer_ints("ax", {1}, {2}), b.initializer_ints("sp", {1}, {-2})},
             {}, 1, {"output0"});
      b.output("output0");
      b.metadata("task", "detect");
      auto x0 = rand_vec(48, 31);
      double g[3][3];
      for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j) {
          g[i][j] = 0;
          for (int k = 0; k < 16; ++k) g[i][j] += static_cast<double>(x0[i * 16 + k]) * x0[j * 16 + k];
        }
      // opset 12: softmax over the flattened [3, 3] (axis 1 onwards); opset 13: over axis 1 only.
      double sm[3][3];
      if (opset == 12) {
        double mx = -1e300, z = 0;
        for (auto& row : g)
          for (double v : row) mx = std::max(mx, v);
        for (auto& row : g)
          for (double v : row) z += std::exp(v - mx);
        for (int i = 0; i < 3; ++i)
          for (int j = 0; j < 3; ++j) sm[i][j] = std::exp(g[i][j] - mx) / z;
      } else {
        for (int j = 0; j < 3; ++j) {
          double mx = std::max({g[0][j], g[1][j], g[2][j]}), z = 0;
          for (int i = 0; i < 3; ++i) z += std::exp(g[i][j] - mx);
          for (int i = 0; i < 3; ++i) sm[i][j] = std::exp(g[i][j] - mx) / z;
        }
      }
      // Slice axis 2 from the last column backwards, step -2: columns 2, 0.
      std::vector<float> ref;
      for (int i = 0; i < 3; ++i) {
        ref.push_back(static_cast<float>(sm[i][2]));
        ref.push_back(static_cast<float>(sm[i][0]));
      }
      INFO("opset " << opset);
      check_close(run_model(b.serialize(), x0)[0], ref, 1e-5);
    }
  }

  SECTION("ConvTranspose 2x2 stride 2") {
    OnnxBuilder b(17);
    std::string x = b.input("images", {1, 3, 3, 5});
    auto w = rand_vec(3 * 2 * 2 * 2, 40), bias = rand_vec(2, 41);
    b.node("ConvTranspose", "up", {x, b.initializer("w", {3, 2, 2, 2}, w), b.initializer("b", {2}, bias)},
           {OnnxAttr::integers("strides", {2, 2}), OnnxAttr::integers("kernel_shape", {2, 2})}, 1, {"output0"});
    b.output("output0");
    b.metadata("task", "detect");
    auto x0 = rand_vec(3 * 15, 42);
    std::vector<float> ref(2 * 6 * 10);
    for (int o = 0; o < 2; ++o)
      for (int yy = 0; yy < 6; ++yy)
        for (int xx = 0; xx < 10; ++xx) {
          double acc = bias[o];
          for (int ci = 0; ci < 3; ++ci)
            acc +=
                static_cast<double>(x0[(ci * 3 + yy / 2) * 5 + xx / 2]) * w[((ci * 2 + o) * 2 + yy % 2) * 2 + xx % 2];
          ref[(o * 6 + yy) * 10 + xx] = static_cast<float>(acc);
        }
    check_close(run_model(b.serialize(), x0)[0], ref, 1e-5);
  }
}

TEST_CASE("spatial analysis of yolo11n: strides, halos, regions", "[compiler][spatial]") {
  std::string model = test::read_file(test::source_path("assets/yolo11n-640.onnx"));
  ir::Graph g = compile_graph(load_onnx(model.data(), model.size(), "yolo11n-640.onnx"));
  int local = 0, global = 0, epilogue = 0, matmuls_global = 0;
  uint64_t flops = 0;
  for (int n : g.live_nodes()) {
    const ir::Node& node = g.node(n);
    flops += node.flops;
    local += node.region == ir::Region::Local;
    global += node.region == ir::Region::Global;
    epilogue += node.region == ir::Region::Epilogue;
    if (node.op == "MatMul") matmuls_global += node.region == ir::Region::Global;
    if (node.name == "/model.0/conv/Conv") {
      CHECK(node.region == ir::Region::Local);
      CHECK(g.tensor(node.outputs[0]).stride == 2);
      CHECK(node.spatial.halo_top == 1);
      CHECK(node.spatial.halo_left == 1);
      CHECK(node.spatial.halo_bottom == 0);
      CHECK(node.spatial.halo_right == 0);
    }
    if (node.name == "/model.9/m/MaxPool") {
      CHECK(node.spatial.halo_top == 2);
      CHECK(node.spatial.halo_bottom == 2);
      CHECK(g.tensor(node.outputs[0]).stride == 32);
    }
    if (node.name == "/model.11/Resize") {
      CHECK(node.spatial.upsample == 2);
      CHECK(g.tensor(node.outputs[0]).stride == 16);
    }
    if (node.name == "/model.23/dfl/Softmax") CHECK(node.region == ir::Region::Epilogue);
  }
  CHECK(matmuls_global == 2);  // the attention island
  CHECK(local > 100);
  CHECK(global > 5);
  CHECK(epilogue > 10);
  // Ultralytics publishes 6.5 GFLOPs for YOLO11n at 640.
  CHECK(std::fabs(flops / 1e9 - 6.5) / 6.5 < 0.03);
}

TEST_CASE("memory plan: tensors alive at the same time never overlap", "[compiler][memory]") {
  std::string model = test::read_file(test::source_path("assets/yolo11n-seg-640.onnx"));
  ir::Graph g = compile_graph(load_onnx(model.data(), model.size(), "seg.onnx"));
  AliasPlan aliases = plan_aliases(g);
  MemoryPlan mem = plan_memory(g, aliases);
  std::vector<int> order = g.live_nodes();
  int nt = g.tensor_count();
  std::vector<int> first(nt, -1), last(nt, -1);
  for (int t : g.inputs) first[t] = last[t] = 0;
  for (size_t s = 0; s < order.size(); ++s) {
    for (int t : g.node(order[s]).inputs)
      if (t >= 0 && !g.tensor(t).constant) last[t] = static_cast<int>(s);
    for (int t : g.node(order[s]).outputs) {
      if (first[t] < 0) first[t] = static_cast<int>(s);
      last[t] = std::max(last[t], static_cast<int>(s));
    }
  }
  for (int t : g.outputs) last[t] = static_cast<int>(order.size());
  // A tensor stored inside another (in-place concat / split) extends its root's lifetime.
  int aliased = 0;
  for (int t = 0; t < nt; ++t) {
    int r = aliases.root[t];
    if (r == t || first[t] < 0) continue;
    ++aliased;
    CHECK(mem.offset[t] == mem.offset[r]);
    if (g.tensor(t).layout == ir::Layout::NHWC)
      CHECK(aliases.channel_offset[t] + g.tensor(t).shape[1] <= g.tensor(r).shape[1]);
    else
      CHECK(aliases.channel_offset[t] + g.tensor(t).numel() <= g.tensor(r).numel());  // a contiguous block
    first[r] = std::min(first[r], first[t]);
    last[r] = std::max(last[r], last[t]);
    first[t] = -1;  // checked through its root
  }
  CHECK(aliased > 20);
  int checked = 0;
  for (int a = 0; a < nt; ++a) {
    if (first[a] < 0 || g.tensor(a).constant) continue;
    REQUIRE(mem.offset[a] >= 0);
    CHECK(mem.offset[a] % 64 == 0);
    CHECK(static_cast<uint64_t>(mem.offset[a]) + g.tensor(a).bytes() <= mem.arena_bytes);
    for (int b = a + 1; b < nt; ++b) {
      if (first[b] < 0 || g.tensor(b).constant) continue;
      bool live_together = !(last[a] < first[b] || last[b] < first[a]);
      bool disjoint = mem.offset[a] + static_cast<int64_t>(g.tensor(a).bytes()) <= mem.offset[b] ||
                      mem.offset[b] + static_cast<int64_t>(g.tensor(b).bytes()) <= mem.offset[a];
      if (live_together) CHECK(disjoint);
      ++checked;
    }
  }
  CHECK(checked > 1000);
  CHECK(mem.arena_bytes * 4 < mem.naive_bytes);
}
