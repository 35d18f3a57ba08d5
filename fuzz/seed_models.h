// Tiny ONNX models shared by the fuzz seeds (make_fuzz_seeds) and the wire fuzzer's server plan.
#pragma once

#include <random>
#include <string>
#include <vector>

#include "compiler/onnx_builder.h"

namespace fx::fuzz {

inline std::vector<float> rnd(size_t n, unsigned seed) {
  std::mt19937 r(seed);
  std::uniform_real_distribution<float> d(-1, 1);
  std::vector<float> v(n);
  for (auto& x : v) x = d(r);
  return v;
}

// Conv(SiLU) -> Split -> residual conv -> Concat -> MaxPool -> Resize -> head with Reshape/Transpose/
// Softmax/MatMul/Slice: every op kind of the runtime in a few kilobytes.
inline std::string model_all_ops() {
  fx::OnnxBuilder b(17);
  std::string x = b.input("images", {1, 3, 16, 16});
  auto conv = [&](const std::string& name, const std::string& in, int cin, int cout, int k, int s, bool act) {
    std::string y = b.op("Conv", name, {in, b.initializer(name + ".w", {cout, cin, k, k}, rnd(cout * cin * k * k, 1)),
                                         b.initializer(name + ".b", {cout}, rnd(cout, 2))},
                         {fx::OnnxAttr::integers("pads", {k / 2, k / 2, k / 2, k / 2}),
                          fx::OnnxAttr::integers("strides", {s, s})});
    if (!act) return y;
    return b.op("Mul", name + ".silu", {y, b.op("Sigmoid", name + ".sig", {y})});
  };
  std::string c0 = conv("c0", x, 3, 8, 3, 2, true);
  auto parts =
      b.node("Split", "split", {c0, b.initializer_ints("sz", {2}, {4, 4})}, {fx::OnnxAttr::integer("axis", 1)}, 2);
  std::string r = b.op("Add", "res", {parts[1], conv("c1", parts[1], 4, 4, 3, 1, true)});
  std::string cat = b.op("Concat", "cat", {parts[0], r}, {fx::OnnxAttr::integer("axis", 1)});
  std::string p = b.op("MaxPool", "pool", {cat}, {fx::OnnxAttr::integers("kernel_shape", {3, 3}),
                                                 fx::OnnxAttr::integers("pads", {1, 1, 1, 1}),
                                                 fx::OnnxAttr::integers("strides", {2, 2})});
  std::string up = b.op("Resize", "up", {p, "", b.initializer("scales", {4}, {1, 1, 2, 2})},
                        {fx::OnnxAttr::string("coordinate_transformation_mode", "asymmetric"),
                         fx::OnnxAttr::string("nearest_mode", "floor")});
  std::string h = conv("head", up, 8, 6, 1, 1, false);
  std::string flat = b.op("Reshape", "flat", {h, b.initializer_ints("shape", {3}, {1, 6, 64})});
  std::string t = b.op("Transpose", "t", {flat}, {fx::OnnxAttr::integers("perm", {0, 2, 1})});
  std::string mm = b.op("MatMul", "mm", {flat, t});
  std::string sm = b.op("Softmax", "sm", {mm}, {fx::OnnxAttr::integer("axis", -1)});
  std::string sl = b.op("Slice", "sl", {sm, b.initializer_ints("s0", {1}, {1}), b.initializer_ints("e0", {1}, {5}),
                                       b.initializer_ints("a0", {1}, {2})});
  std::string dv = b.op("Div", "div", {sl, b.initializer("k", {1}, {2.f})});
  b.node("Sub", "sub", {dv, b.initializer("k2", {1}, {0.1f})}, {}, 1, {"output0"});
  b.output("output0");
  b.metadata("task", "detect");
  b.metadata("names", "{0: 'a', 1: 'b'}");
  return b.serialize();
}

// A detect-like head over two scales whose epilogue is a column tail (runtime/sparse/column_tail.h):
// flattened maps joined along the anchors, split into boxes (minus an anchor constant) and scores.
inline std::string model_column_tail() {
  fx::OnnxBuilder b(17);
  std::string x = b.input("images", {1, 3, 16, 16});
  auto conv = [&](const std::string& name, const std::string& in, int cin, int cout, int k, int s) {
    return b.op(
        "Conv", name,
        {in, b.initializer(name + ".w", {cout, cin, k, k}, rnd(cout * cin * k * k, 3)),
         b.initializer(name + ".b", {cout}, rnd(cout, 4))},
        {fx::OnnxAttr::integers("pads", {k / 2, k / 2, k / 2, k / 2}), fx::OnnxAttr::integers("strides", {s, s})});
  };
  std::string c0 = conv("c0", x, 3, 8, 3, 2), c1 = conv("c1", c0, 8, 8, 3, 2);
  std::string f0 = b.op("Reshape", "f0", {conv("h0", c0, 8, 6, 1, 1), b.initializer_ints("s0", {3}, {1, 6, 64})});
  std::string f1 = b.op("Reshape", "f1", {conv("h1", c1, 8, 6, 1, 1), b.initializer_ints("s1", {3}, {1, 6, 16})});
  std::string cat = b.op("Concat", "anchors", {f0, f1}, {fx::OnnxAttr::integer("axis", 2)});
  auto parts =
      b.node("Split", "split", {cat, b.initializer_ints("sz", {2}, {2, 4})}, {fx::OnnxAttr::integer("axis", 1)}, 2);
  std::string box = b.op("Sub", "box", {b.initializer("anchor_points", {1, 2, 80}, rnd(160, 5)), parts[0]});
  b.node("Concat", "out", {box, b.op("Sigmoid", "score", {parts[1]})}, {fx::OnnxAttr::integer("axis", 1)}, 1,
         {"output0"});
  b.output("output0");
  b.metadata("task", "detect");
  b.metadata("names", "{0: 'a', 1: 'b', 2: 'c', 3: 'd'}");
  return b.serialize();
}

// The wire fuzzer's server: the column-tail model's plan, this token, sessions of 8-pixel blocks.
constexpr const char* kWireToken = "fuzz-token";
constexpr int kWireBlock = 8;

}  // namespace fx::fuzz
