#include "compiler/shape_inference.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "runtime/error.h"

namespace fx {

using ir::DType;
using ir::Graph;
using ir::Node;
using ir::Tensor;

int64_t normalize_axis(int64_t axis, int64_t rank, const std::string& what) {
  if (axis < -rank || axis >= rank)
    throw Error(what + ": axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  return axis < 0 ? axis + rank : axis;
}

std::vector<int64_t> constant_ints(const Graph& g, const Node& n, int input, const std::string& what) {
  if (input >= static_cast<int>(n.inputs.size()) || n.inputs[input] < 0)
    throw Error("node '" + n.name + "' (" + n.op + ") lacks its " + what + " input");
  const Tensor& t = g.tensor(n.inputs[input]);
  if (!t.constant)
    throw Error("node '" + n.name + "' (" + n.op + "): " + what + " must be a constant (static shapes only)");
  return t.to_ints();
}

namespace {

const Tensor& in_tensor(const Graph& g, const Node& n, size_t i) {
  if (i >= n.inputs.size() || n.inputs[i] < 0)
    throw Error("node '" + n.name + "' (" + n.op + ") lacks input " + std::to_string(i));
  const Tensor& t = g.tensor(n.inputs[i]);
  if (!t.shape_known) throw Error("node '" + n.name + "' reads '" + t.name + "', whose shape is unknown");
  return t;
}

void set_out(Graph& g, const Node& n, size_t i, DType dt, std::vector<int64_t> shape) {
  for (int64_t d : shape)
    if (d < 0) throw Error("node '" + n.name + "' (" + n.op + ") infers a negative dimension");
  if (ir::shape_numel(shape) > (int64_t(1) << 31))
    throw Error("node '" + n.name + "' (" + n.op + ") produces an implausibly large tensor");
  Tensor& t = g.tensor(n.outputs.at(i));
  t.dtype = dt;
  t.shape = std::move(shape);
  t.shape_known = true;
}

void require_rank(const Node& n, const Tensor& t, size_t rank) {
  if (t.shape.size() != rank)
    throw Error("node '" + n.name + "' (" + n.op + "): input '" + t.name + "' has rank " +
                std::to_string(t.shape.size()) + ", expected " + std::to_string(rank));
}

int64_t checked_positive(int64_t v, const Node& n, const char* what) {
  if (v <= 0 || v > (1 << 16))
    throw Error("node '" + n.name + "' (" + n.op + "): invalid " + what + " " + std::to_string(v));
  return v;
}

}  // namespace

Window2d window_of(const Node& n, int64_t in_h, int64_t in_w, int64_t kh, int64_t kw) {
  Window2d w;
  w.kh = static_cast<int>(checked_positive(kh, n, "kernel size"));
  w.kw = static_cast<int>(checked_positive(kw, n, "kernel size"));
  auto strides = n.attr_ints("strides", {1, 1});
  auto dil = n.attr_ints("dilations", {1, 1});
  if (strides.size() != 2 || dil.size() != 2)
    throw Error("node '" + n.name + "' (" + n.op + "): only 2-D windows are supported");
  w.sh = static_cast<int>(checked_positive(strides[0], n, "stride"));
  w.sw = static_cast<int>(checked_positive(strides[1], n, "stride"));
  w.dh = static_cast<int>(checked_positive(dil[0], n, "dilation"));
  w.dw = static_cast<int>(checked_positive(dil[1], n, "dilation"));
  std::string auto_pad = n.attr_string("auto_pad", "NOTSET");
  if (auto_pad == "NOTSET") {
    auto pads = n.attr_ints("pads", {0, 0, 0, 0});
    if (pads.size() != 4) throw Error("node '" + n.name + "' (" + n.op + "): pads must have 4 values");
    for (int64_t p : pads)
      if (p < 0 || p > (1 << 12)) throw Error("node '" + n.name + "' (" + n.op + "): invalid padding");
    w.pad_t = static_cast<int>(pads[0]);
    w.pad_l = static_cast<int>(pads[1]);
    w.pad_b = static_cast<int>(pads[2]);
    w.pad_r = static_cast<int>(pads[3]);
  } else if (auto_pad == "VALID") {
  } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    auto same = [&](int64_t in, int k, int s, int d, int& begin, int& end) {
      int64_t out = (in + s - 1) / s;
      int64_t total = std::max<int64_t>(0, (out - 1) * s + (k - 1) * d + 1 - in);
      int64_t small = total / 2, big = total - small;
      begin = static_cast<int>(auto_pad == "SAME_UPPER" ? small : big);
      end = static_cast<int>(auto_pad == "SAME_UPPER" ? big : small);
    };
    same(in_h, w.kh, w.sh, w.dh, w.pad_t, w.pad_b);
    same(in_w, w.kw, w.sw, w.dw, w.pad_l, w.pad_r);
  } else {
    throw Error("node '" + n.name + "' (" + n.op + "): unknown auto_pad '" + auto_pad + "'");
  }
  if (n.attr_int("ceil_mode", 0) != 0) {
    // Extra end padding that makes the floor rule give the ceil result; the padded positions never
    // win a max (they are -inf), and the last window still starts inside the input.
    auto extend = [](int64_t in, int k, int s, int d, int begin, int& end) {
      int64_t span = in + begin + end - (static_cast<int64_t>(k) - 1) * d - 1;
      int64_t out_floor = span / s + 1;
      int64_t out_ceil = (span + s - 1) / s + 1;
      if (out_ceil > out_floor && (out_ceil - 1) * s < in + begin) end += static_cast<int>(out_ceil * s - span - s);
    };
    extend(in_h, w.kh, w.sh, w.dh, w.pad_t, w.pad_b);
    extend(in_w, w.kw, w.sw, w.dw, w.pad_l, w.pad_r);
  }
  return w;
}

void infer_node_shapes(Graph& g, int ni) {
  Node& n = g.node(ni);
  const std::string& op = n.op;
  std::string what = "node '" + n.name + "' (" + op + ")";

  if (op == "Conv" || op == "ConvSiLU") {
    const Tensor& x = in_tensor(g, n, 0);
    const Tensor& w = in_tensor(g, n, 1);
    require_rank(n, x, 4);
    require_rank(n, w, 4);
    int64_t group = n.attr_int("group", 1);
    if (group <= 0 || x.shape[1] % group != 0 || w.shape[1] * group != x.shape[1] || w.shape[0] % group != 0)
      throw Error(what + ": weight " + ir::shape_string(w.shape) + " does not fit input " +
                  ir::shape_string(x.shape) + " with group " + std::to_string(group));
    if (n.inputs.size() > 2 && n.inputs[2] >= 0 && in_tensor(g, n, 2).numel() != w.shape[0])
      throw Error(what + ": bias size does not match the output channels");
    auto ks = n.attr_ints("kernel_shape", {w.shape[2], w.shape[3]});
    if (ks.size() != 2 || ks[0] != w.shape[2] || ks[1] != w.shape[3])
      throw Error(what + ": kernel_shape does not match the weight");
    Window2d win = window_of(n, x.shape[2], x.shape[3], w.shape[2], w.shape[3]);
    int64_t ho = (x.shape[2] + win.pad_t + win.pad_b - win.dh * (win.kh - 1) - 1) / win.sh + 1;
    int64_t wo = (x.shape[3] + win.pad_l + win.pad_r - win.dw * (win.kw - 1) - 1) / win.sw + 1;
    if (ho <= 0 || wo <= 0) throw Error(what + ": the window is larger than the padded input");
    set_out(g, n, 0, DType::F32, {x.shape[0], w.shape[0], ho, wo});
    return;
  }
  if (op == "ConvTranspose") {
    const Tensor& x = in_tensor(g, n, 0);
    const Tensor& w = in_tensor(g, n, 1);
    require_rank(n, x, 4);
    require_rank(n, w, 4);
    int64_t group = n.attr_int("group", 1);
    if (group <= 0 || w.shape[0] != x.shape[1] || x.shape[1] % group != 0)
      throw Error(what + ": weight " + ir::shape_string(w.shape) + " does not fit input " + ir::shape_string(x.shape));
    if (n.has_attr("output_shape")) throw Error(what + ": the output_shape attribute is not supported; use pads");
    if (n.attr_string("auto_pad", "NOTSET") != "NOTSET") throw Error(what + ": auto_pad is not supported");
    Window2d win = window_of(n, x.shape[2], x.shape[3], w.shape[2], w.shape[3]);
    auto op_pad = n.attr_ints("output_padding", {0, 0});
    if (op_pad.size() != 2) throw Error(what + ": output_padding must have 2 values");
    int64_t ho = win.sh * (x.shape[2] - 1) + op_pad[0] + (win.kh - 1) * win.dh + 1 - win.pad_t - win.pad_b;
    int64_t wo = win.sw * (x.shape[3] - 1) + op_pad[1] + (win.kw - 1) * win.dw + 1 - win.pad_l - win.pad_r;
    if (ho <= 0 || wo <= 0) throw Error(what + ": empty output");
    set_out(g, n, 0, DType::F32, {x.shape[0], w.shape[1] * group, ho, wo});
    return;
  }
  if (op == "MaxPool") {
    const Tensor& x = in_tensor(g, n, 0);
    require_rank(n, x, 4);
    if (n.outputs.size() > 1) throw Error(what + ": the Indices output is not supported");
    if (n.attr_int("storage_order", 0) != 0) throw Error(what + ": storage_order 1 is not supported");
    auto ks = n.attr_ints("kernel_shape");
    if (ks.size() != 2) throw Error(what + ": kernel_shape must have 2 values");
    Window2d win = window_of(n, x.shape[2], x.shape[3], ks[0], ks[1]);
    int64_t ho = (x.shape[2] + win.pad_t + win.pad_b - win.dh * (win.kh - 1) - 1) / win.sh + 1;
    int64_t wo = (x.shape[3] + win.pad_l + win.pad_r - win.dw * (win.kw - 1) - 1) / win.sw + 1;
    if (ho <= 0 || wo <= 0) throw Error(what + ": the window is larger than the padded input");
    set_out(g, n, 0, x.dtype, {x.shape[0], x.shape[1], ho, wo});
    return;
  }
  if (op == "BatchNormalization") {
    const Tensor& x = in_tensor(g, n, 0);
    if (n.outputs.size() > 1) throw Error(what + ": training-mode outputs are not supported");
    set_out(g, n, 0, x.dtype, x.shape);
    return;
  }
  if (op == "Resize") {
    const Tensor& x = in_tensor(g, n, 0);
    std::vector<int64_t> out = x.shape;
    bool have_sizes = n.inputs.size() > 3 && n.inputs[3] >= 0;
    bool have_scales = n.inputs.size() > 2 && n.inputs[2] >= 0 && g.tensor(n.inputs[2]).numel() > 0;
    if (have_sizes) {
      out = constant_ints(g, n, 3, "sizes");
      if (out.size() != x.shape.size()) throw Error(what + ": sizes has the wrong length");
    } else if (have_scales) {
      const Tensor& s = g.tensor(n.inputs[2]);
      if (!s.constant) throw Error(what + ": scales must be a constant");
      auto scales = s.to_floats();
      if (scales.size() != x.shape.size()) throw Error(what + ": scales has the wrong length");
      for (size_t i = 0; i < out.size(); ++i) {
        if (!(scales[i] > 0) || scales[i] > 1024) throw Error(what + ": invalid scale");
        out[i] = static_cast<int64_t>(std::floor(static_cast<double>(x.shape[i]) * scales[i]));
      }
    } else {
      throw Error(what + ": neither scales nor sizes given");
    }
    set_out(g, n, 0, x.dtype, out);
    return;
  }
  if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div") {
    const Tensor& a = in_tensor(g, n, 0);
    const Tensor& b = in_tensor(g, n, 1);
    if (a.dtype != b.dtype) throw Error(what + ": inputs have different data types");
    set_out(g, n, 0, a.dtype, ir::broadcast_shapes(a.shape, b.shape, what));
    return;
  }
  if (op == "Sigmoid" || op == "Identity" || op == "Softmax") {
    const Tensor& x = in_tensor(g, n, 0);
    if (op == "Softmax") normalize_axis(n.attr_int("axis", g.opset >= 13 ? -1 : 1), x.shape.size(), what);
    set_out(g, n, 0, x.dtype, x.shape);
    return;
  }
  if (op == "Cast") {
    const Tensor& x = in_tensor(g, n, 0);
    int64_t to = n.attr_int("to", 1);
    DType dt;
    switch (to) {
      case 1: dt = DType::F32; break;
      case 6: dt = DType::I32; break;
      case 7: dt = DType::I64; break;
      case 9: dt = DType::Bool; break;
      case 11: dt = DType::F64; break;
      case 2: dt = DType::U8; break;
      case 3: dt = DType::I8; break;
      default: throw Error(what + ": cast to data type " + std::to_string(to) + " is not supported");
    }
    set_out(g, n, 0, dt, x.shape);
    return;
  }
  if (op == "Concat") {
    const Tensor& a = in_tensor(g, n, 0);
    int64_t axis = normalize_axis(n.attr_int("axis", 0), a.shape.size(), what);
    std::vector<int64_t> out = a.shape;
    out[axis] = 0;
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      const Tensor& t = in_tensor(g, n, i);
      if (t.shape.size() != a.shape.size() || t.dtype != a.dtype)
        throw Error(what + ": inputs differ in rank or data type");
      for (size_t d = 0; d < out.size(); ++d)
        if (static_cast<int64_t>(d) != axis && t.shape[d] != a.shape[d])
          throw Error(what + ": input shapes " + ir::shape_string(a.shape) + " and " + ir::shape_string(t.shape) +
                      " differ off the concat axis");
      out[axis] += t.shape[axis];
    }
    set_out(g, n, 0, a.dtype, out);
    return;
  }
  if (op == "Split") {
    const Tensor& x = in_tensor(g, n, 0);
    int64_t axis = normalize_axis(n.attr_int("axis", 0), x.shape.size(), what);
    std::vector<int64_t> sizes;
    if (n.inputs.size() > 1 && n.inputs[1] >= 0) {
      sizes = constant_ints(g, n, 1, "split");
    } else if (n.has_attr("split")) {
      sizes = n.attr_ints("split");
    } else {
      int64_t parts = n.attr_int("num_outputs", static_cast<int64_t>(n.outputs.size()));
      if (parts <= 0) throw Error(what + ": invalid number of outputs");
      int64_t chunk = (x.shape[axis] + parts - 1) / parts;
      for (int64_t i = 0; i < parts; ++i) sizes.push_back(std::min(chunk, x.shape[axis] - i * chunk));
    }
    if (sizes.size() != n.outputs.size()) throw Error(what + ": split sizes do not match the outputs");
    int64_t total = 0;
    for (int64_t s : sizes) {
      if (s < 0) throw Error(what + ": negative split size");
      total += s;
    }
    if (total != x.shape[axis]) throw Error(what + ": split sizes do not add up to the axis length");
    n.set_ints("split", sizes);  // normalised for the later passes
    n.set_int("axis", axis);
    for (size_t i = 0; i < sizes.size(); ++i) {
      std::vector<int64_t> s = x.shape;
      s[axis] = sizes[i];
      set_out(g, n, i, x.dtype, s);
    }
    return;
  }
  if (op == "Reshape") {
    const Tensor& x = in_tensor(g, n, 0);
    std::vector<int64_t> spec = constant_ints(g, n, 1, "shape");
    bool allowzero = n.attr_int("allowzero", 0) != 0;
    std::vector<int64_t> out(spec.size());
    int infer = -1;
    int64_t known = 1;
    for (size_t i = 0; i < spec.size(); ++i) {
      int64_t d = spec[i];
      if (d == 0 && !allowzero) {
        if (i >= x.shape.size()) throw Error(what + ": 0 refers past the input's rank");
        d = x.shape[i];
      }
      if (d == -1) {
        if (infer >= 0) throw Error(what + ": more than one -1 in the shape");
        infer = static_cast<int>(i);
        d = 1;
      } else if (d < 0) {
        throw Error(what + ": invalid dimension " + std::to_string(d));
      }
      out[i] = d;
      known *= d;
    }
    if (infer >= 0) {
      if (known == 0 || x.numel() % known != 0) throw Error(what + ": cannot infer the -1 dimension");
      out[infer] = x.numel() / known;
    }
    if (ir::shape_numel(out) != x.numel())
      throw Error(what + ": cannot reshape " + ir::shape_string(x.shape) + " to " + ir::shape_string(out));
    set_out(g, n, 0, x.dtype, out);
    return;
  }
  if (op == "Flatten") {
    const Tensor& x = in_tensor(g, n, 0);
    int64_t r = static_cast<int64_t>(x.shape.size());
    int64_t axis = n.attr_int("axis", 1);
    if (axis < 0) axis += r;
    if (axis < 0 || axis > r) throw Error(what + ": axis out of range");
    int64_t a = 1, b = 1;
    for (int64_t i = 0; i < r; ++i) (i < axis ? a : b) *= x.shape[i];
    set_out(g, n, 0, x.dtype, {a, b});
    return;
  }
  if (op == "Squeeze" || op == "Unsqueeze") {
    const Tensor& x = in_tensor(g, n, 0);
    std::vector<int64_t> axes =
        (n.inputs.size() > 1 && n.inputs[1] >= 0) ? constant_ints(g, n, 1, "axes") : n.attr_ints("axes");
    std::vector<int64_t> out;
    if (op == "Squeeze") {
      int64_t r = static_cast<int64_t>(x.shape.size());
      std::vector<bool> drop(x.shape.size(), false);
      if (axes.empty()) {
        for (size_t i = 0; i < x.shape.size(); ++i) drop[i] = x.shape[i] == 1;
      }
      for (int64_t a : axes) {
        a = normalize_axis(a, r, what);
        if (x.shape[a] != 1) throw Error(what + ": cannot squeeze an axis of size " + std::to_string(x.shape[a]));
        drop[a] = true;
      }
      for (size_t i = 0; i < x.shape.size(); ++i)
        if (!drop[i]) out.push_back(x.shape[i]);
    } else {
      int64_t r = static_cast<int64_t>(x.shape.size() + axes.size());
      std::vector<bool> ins(static_cast<size_t>(r), false);
      for (int64_t a : axes) {
        a = normalize_axis(a, r, what);
        if (ins[a]) throw Error(what + ": repeated axis");
        ins[a] = true;
      }
      size_t k = 0;
      for (int64_t i = 0; i < r; ++i) out.push_back(ins[i] ? 1 : x.shape[k++]);
    }
    set_out(g, n, 0, x.dtype, out);
    return;
  }
  if (op == "Transpose") {
    const Tensor& x = in_tensor(g, n, 0);
    int64_t r = static_cast<int64_t>(x.shape.size());
    std::vector<int64_t> perm = n.attr_ints("perm");
    if (perm.empty())
      for (int64_t i = r - 1; i >= 0; --i) perm.push_back(i);
    if (static_cast<int64_t>(perm.size()) != r) throw Error(what + ": perm has the wrong length");
    std::vector<bool> seen(static_cast<size_t>(r), false);
    std::vector<int64_t> out;
    for (int64_t p : perm) {
      if (p < 0 || p >= r || seen[p]) throw Error(what + ": perm is not a permutation");
      seen[p] = true;
      out.push_back(x.shape[p]);
    }
    n.set_ints("perm", perm);
    set_out(g, n, 0, x.dtype, out);
    return;
  }
  if (op == "MatMul") {
    const Tensor& a = in_tensor(g, n, 0);
    const Tensor& b = in_tensor(g, n, 1);
    if (a.shape.size() < 2 || b.shape.size() < 2) throw Error(what + ": 1-D operands are not supported");
    int64_t k1 = a.shape.back(), k2 = b.shape[b.shape.size() - 2];
    if (k1 != k2)
      throw Error(what + ": inner dimensions " + std::to_string(k1) + " and " + std::to_string(k2) + " differ");
    std::vector<int64_t> ba(a.shape.begin(), a.shape.end() - 2), bb(b.shape.begin(), b.shape.end() - 2);
    std::vector<int64_t> out = ir::broadcast_shapes(ba, bb, what);
    out.push_back(a.shape[a.shape.size() - 2]);
    out.push_back(b.shape.back());
    set_out(g, n, 0, a.dtype, out);
    return;
  }
  if (op == "Slice") {
    const Tensor& x = in_tensor(g, n, 0);
    int64_t r = static_cast<int64_t>(x.shape.size());
    std::vector<int64_t> starts = constant_ints(g, n, 1, "starts");
    std::vector<int64_t> ends = constant_ints(g, n, 2, "ends");
    std::vector<int64_t> axes, steps;
    if (n.inputs.size() > 3 && n.inputs[3] >= 0) axes = constant_ints(g, n, 3, "axes");
    else
      for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
    if (n.inputs.size() > 4 && n.inputs[4] >= 0) steps = constant_ints(g, n, 4, "steps");
    else steps.assign(starts.size(), 1);
    if (starts.size() != ends.size() || axes.size() != starts.size() || steps.size() != starts.size())
      throw Error(what + ": starts, ends, axes and steps differ in length");
    // Resolved per-axis start and step over all axes, stored for the lowering.
    std::vector<int64_t> full_start(static_cast<size_t>(r), 0), full_step(static_cast<size_t>(r), 1);
    std::vector<int64_t> out = x.shape;
    std::vector<bool> seen(static_cast<size_t>(r), false);
    for (size_t i = 0; i < axes.size(); ++i) {
      int64_t a = normalize_axis(axes[i], r, what);
      if (seen[a]) throw Error(what + ": repeated axis");
      seen[a] = true;
      int64_t dim = x.shape[a], step = steps[i];
      if (step == 0) throw Error(what + ": step 0");
      int64_t s = starts[i], e = ends[i];
      if (s < 0) s += dim;
      if (e < 0) e += dim;
      int64_t count;
      if (step > 0) {
        s = std::clamp<int64_t>(s, 0, dim);
        e = std::clamp<int64_t>(e, 0, dim);
        count = e > s ? (e - s + step - 1) / step : 0;
      } else {
        s = std::clamp<int64_t>(s, -1, dim - 1);
        e = std::clamp<int64_t>(e, -1, dim - 1);
        count = s > e ? (s - e + (-step) - 1) / (-step) : 0;
      }
      full_start[a] = s;
      full_step[a] = step;
      out[a] = count;
    }
    n.set_ints("resolved_starts", full_start);
    n.set_ints("resolved_steps", full_step);
    set_out(g, n, 0, x.dtype, out);
    return;
  }
  if (op == "Shape") {
    const Tensor& x = in_tensor(g, n, 0);
    int64_t r = static_cast<int64_t>(x.shape.size());
    int64_t start = n.attr_int("start", 0), end = n.attr_int("end", r);
    if (start < 0) start += r;
    if (end < 0) end += r;
    start = std::clamp<int64_t>(start, 0, r);
    end = std::clamp<int64_t>(end, 0, r);
    set_out(g, n, 0, DType::I64, {std::max<int64_t>(0, end - start)});
    return;
  }
  if (op == "Gather") {
    const Tensor& x = in_tensor(g, n, 0);
    const Tensor& idx = in_tensor(g, n, 1);
    int64_t axis = normalize_axis(n.attr_int("axis", 0), x.shape.size(), what);
    std::vector<int64_t> out(x.shape.begin(), x.shape.begin() + axis);
    out.insert(out.end(), idx.shape.begin(), idx.shape.end());
    out.insert(out.end(), x.shape.begin() + axis + 1, x.shape.end());
    set_out(g, n, 0, x.dtype, out);
    return;
  }
  throw Error("unsupported op '" + op + "' in node '" + n.name + "'");
}

void infer_shapes(Graph& g) {
  for (int n : g.live_nodes()) infer_node_shapes(g, n);
}

}  // namespace fx
