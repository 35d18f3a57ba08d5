#include "compiler/const_eval.h"

#include <cmath>
#include <cstring>

#include "compiler/shape_inference.h"
#include "runtime/error.h"

namespace fx {

using ir::DType;
using ir::Graph;
using ir::Node;
using ir::Tensor;

namespace {

constexpr int64_t kMaxFoldElements = int64_t(1) << 26;

std::vector<int64_t> strides_of(const std::vector<int64_t>& shape) {
  std::vector<int64_t> s(shape.size(), 1);
  for (int i = static_cast<int>(shape.size()) - 2; i >= 0; --i) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

// Calls fn(out_index, multi_index) for every element of `shape` in row-major order.
template <typename F>
void for_each_index(const std::vector<int64_t>& shape, F fn) {
  int64_t n = ir::shape_numel(shape);
  std::vector<int64_t> idx(shape.size(), 0);
  for (int64_t i = 0; i < n; ++i) {
    fn(i, idx);
    for (int d = static_cast<int>(shape.size()) - 1; d >= 0; --d) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
}

void set_constant(Tensor& out, std::vector<uint8_t> data) {
  out.constant = true;
  out.data = std::move(data);
}

std::vector<uint8_t> from_doubles(const std::vector<double>& v, DType dt) {
  std::vector<uint8_t> bytes(v.size() * ir::dtype_size(dt));
  for (size_t i = 0; i < v.size(); ++i) {
    switch (dt) {
      case DType::F32: reinterpret_cast<float*>(bytes.data())[i] = static_cast<float>(v[i]); break;
      case DType::F64: reinterpret_cast<double*>(bytes.data())[i] = v[i]; break;
      case DType::I64: reinterpret_cast<int64_t*>(bytes.data())[i] = static_cast<int64_t>(v[i]); break;
      case DType::I32: reinterpret_cast<int32_t*>(bytes.data())[i] = static_cast<int32_t>(v[i]); break;
      case DType::U8: bytes[i] = static_cast<uint8_t>(v[i]); break;
      case DType::I8: reinterpret_cast<int8_t*>(bytes.data())[i] = static_cast<int8_t>(v[i]); break;
      case DType::Bool: bytes[i] = v[i] != 0; break;
      case DType::F16: throw Error("float16 constants are not supported");
    }
  }
  return bytes;
}

std::vector<double> to_doubles(const Tensor& t) {
  std::vector<double> v(static_cast<size_t>(t.numel()));
  if (t.dtype == DType::I64 || t.dtype == DType::I32 || t.dtype == DType::U8 || t.dtype == DType::I8 ||
      t.dtype == DType::Bool) {
    auto ints = t.to_ints();
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(ints[i]);
  } else if (t.dtype == DType::F64) {
    for (size_t i = 0; i < v.size(); ++i) v[i] = t.as<double>()[i];
  } else {
    auto f = t.to_floats();
    for (size_t i = 0; i < v.size(); ++i) v[i] = f[i];
  }
  return v;
}

bool is_integer(DType t) { return t == DType::I64 || t == DType::I32 || t == DType::U8 || t == DType::I8; }

}  // namespace

bool try_fold_node(Graph& g, int ni) {
  Node& n = g.node(ni);
  const std::string& op = n.op;
  static const char* foldable[] = {"Identity", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Cast",
                                   "Shape",    "Gather",  "Concat",  "Split",   "Slice",     "Transpose",
                                   "Add",      "Sub",     "Mul",     "Div",     "Sigmoid"};
  bool known = false;
  for (const char* f : foldable) known = known || op == f;
  if (!known) return false;

  if (op == "Shape") {
    const Tensor& x = g.tensor(n.inputs.at(0));
    if (!x.shape_known) return false;
    infer_node_shapes(g, ni);
    int64_t r = static_cast<int64_t>(x.shape.size());
    int64_t start = n.attr_int("start", 0);
    if (start < 0) start += r;
    start = std::max<int64_t>(0, std::min(start, r));
    Tensor& out = g.tensor(n.outputs[0]);
    std::vector<int64_t> dims(x.shape.begin() + start, x.shape.begin() + start + out.shape[0]);
    std::vector<uint8_t> bytes(dims.size() * 8);
    if (!dims.empty()) std::memcpy(bytes.data(), dims.data(), bytes.size());
    set_constant(out, std::move(bytes));
    g.remove_node(ni);
    return true;
  }
  for (int in : n.inputs)
    if (in >= 0 && !g.tensor(in).constant) return false;
  infer_node_shapes(g, ni);
  // Broadcasting two small constants can claim a huge one (a [50000,1] x [1,50000] product): bounded
  // before anything is allocated (evaluation holds it as doubles).
  for (int o : n.outputs)
    if (g.tensor(o).numel() > kMaxFoldElements)
      throw Error("node '" + n.name + "' (" + op + ") would fold into a constant of " +
                  std::to_string(g.tensor(o).numel()) + " elements; at most " + std::to_string(kMaxFoldElements) +
                  " are supported");

  const Tensor& x = g.tensor(n.inputs.at(0));
  if (op == "Identity" || op == "Reshape" || op == "Flatten" || op == "Squeeze" || op == "Unsqueeze") {
    set_constant(g.tensor(n.outputs[0]), x.data);
  } else if (op == "Cast") {
    Tensor& out = g.tensor(n.outputs[0]);
    set_constant(out, from_doubles(to_doubles(x), out.dtype));
  } else if (op == "Sigmoid") {
    if (x.dtype != DType::F32) return false;
    auto v = to_doubles(x);
    for (double& d : v) d = 1.0 / (1.0 + std::exp(-d));
    set_constant(g.tensor(n.outputs[0]), from_doubles(v, DType::F32));
  } else if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div") {
    const Tensor& a = x;
    const Tensor& b = g.tensor(n.inputs.at(1));
    Tensor& out = g.tensor(n.outputs[0]);
    auto av = to_doubles(a), bv = to_doubles(b);
    auto as = strides_of(a.shape), bs = strides_of(b.shape);
    std::vector<double> ov(static_cast<size_t>(out.numel()));
    size_t r = out.shape.size();
    bool integer = is_integer(out.dtype);
    for_each_index(out.shape, [&](int64_t i, const std::vector<int64_t>& idx) {
      int64_t ia = 0, ib = 0;
      for (size_t d = 0; d < a.shape.size(); ++d)
        if (a.shape[d] != 1) ia += idx[r - a.shape.size() + d] * as[d];
      for (size_t d = 0; d < b.shape.size(); ++d)
        if (b.shape[d] != 1) ib += idx[r - b.shape.size() + d] * bs[d];
      double p = av[ia], q = bv[ib], v = 0;
      if (op == "Add") v = p + q;
      if (op == "Sub") v = p - q;
      if (op == "Mul") v = p * q;
      if (op == "Div") {
        if (integer) {
          if (q == 0) throw Error("node '" + n.name + "' divides a constant by zero");
          v = static_cast<double>(static_cast<int64_t>(p) / static_cast<int64_t>(q));
        } else {
          v = p / q;
        }
      }
      // float32 arithmetic must round like the runtime would
      if (out.dtype == DType::F32) {
        float pf = static_cast<float>(p), qf = static_cast<float>(q), vf = 0;
        if (op == "Add") vf = pf + qf;
        if (op == "Sub") vf = pf - qf;
        if (op == "Mul") vf = pf * qf;
        if (op == "Div") vf = pf / qf;
        v = vf;
      }
      ov[static_cast<size_t>(i)] = v;
    });
    set_constant(out, from_doubles(ov, out.dtype));
  } else {
    // Pure data movement: index arithmetic on element bytes.
    size_t es = ir::dtype_size(x.dtype);
    if (op == "Gather") {
      const Tensor& idx_t = g.tensor(n.inputs.at(1));
      auto indices = idx_t.to_ints();
      int64_t axis = normalize_axis(n.attr_int("axis", 0), x.shape.size(), "node '" + n.name + "'");
      int64_t outer = 1, inner = 1;
      for (int64_t d = 0; d < axis; ++d) outer *= x.shape[d];
      for (size_t d = axis + 1; d < x.shape.size(); ++d) inner *= x.shape[d];
      int64_t dim = x.shape[axis];
      std::vector<uint8_t> bytes(static_cast<size_t>(outer * indices.size() * inner) * es);
      size_t o = 0;
      for (int64_t a = 0; a < outer; ++a)
        for (int64_t k : indices) {
          if (k < 0) k += dim;
          if (k < 0 || k >= dim) throw Error("node '" + n.name + "' (Gather): index out of range");
          std::memcpy(bytes.data() + o, x.data.data() + ((a * dim + k) * inner) * es, inner * es);
          o += inner * es;
        }
      set_constant(g.tensor(n.outputs[0]), std::move(bytes));
    } else if (op == "Concat") {
      Tensor& out = g.tensor(n.outputs[0]);
      int64_t axis = n.attr_int("axis", 0);
      if (axis < 0) axis += static_cast<int64_t>(out.shape.size());
      int64_t outer = 1;
      for (int64_t d = 0; d < axis; ++d) outer *= out.shape[d];
      std::vector<uint8_t> bytes;
      bytes.reserve(out.bytes());
      for (int64_t a = 0; a < outer; ++a)
        for (int in : n.inputs) {
          const Tensor& t = g.tensor(in);
          int64_t chunk = t.numel() / std::max<int64_t>(outer, 1);
          const uint8_t* p = t.data.data() + a * chunk * es;
          bytes.insert(bytes.end(), p, p + chunk * es);
        }
      set_constant(out, std::move(bytes));
    } else if (op == "Split") {
      int64_t axis = n.attr_int("axis", 0);
      auto sizes = n.attr_ints("split");
      int64_t outer = 1, inner = 1;
      for (int64_t d = 0; d < axis; ++d) outer *= x.shape[d];
      for (size_t d = axis + 1; d < x.shape.size(); ++d) inner *= x.shape[d];
      int64_t off = 0;
      for (size_t i = 0; i < sizes.size(); ++i) {
        std::vector<uint8_t> bytes;
        for (int64_t a = 0; a < outer; ++a) {
          const uint8_t* p = x.data.data() + ((a * x.shape[axis] + off) * inner) * es;
          bytes.insert(bytes.end(), p, p + sizes[i] * inner * es);
        }
        set_constant(g.tensor(n.outputs[i]), std::move(bytes));
        off += sizes[i];
      }
    } else if (op == "Slice" || op == "Transpose") {
      Tensor& out = g.tensor(n.outputs[0]);
      auto xs = strides_of(x.shape);
      std::vector<uint8_t> bytes(out.bytes());
      if (op == "Slice") {
        auto starts = n.attr_ints("resolved_starts"), steps = n.attr_ints("resolved_steps");
        for_each_index(out.shape, [&](int64_t i, const std::vector<int64_t>& idx) {
          int64_t src = 0;
          for (size_t d = 0; d < idx.size(); ++d) src += (starts[d] + idx[d] * steps[d]) * xs[d];
          std::memcpy(bytes.data() + i * es, x.data.data() + src * es, es);
        });
      } else {
        auto perm = n.attr_ints("perm");
        for_each_index(out.shape, [&](int64_t i, const std::vector<int64_t>& idx) {
          int64_t src = 0;
          for (size_t d = 0; d < idx.size(); ++d) src += idx[d] * xs[perm[d]];
          std::memcpy(bytes.data() + i * es, x.data.data() + src * es, es);
        });
      }
      set_constant(out, std::move(bytes));
    }
  }
  g.remove_node(ni);
  return true;
}

}  // namespace fx
