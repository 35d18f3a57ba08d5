#include "compiler/spatial.h"

#include <algorithm>
#include <set>

#include "compiler/shape_inference.h"
#include "runtime/error.h"

namespace fx {

namespace {

// Stride of a 4-D map relative to an image of img_h x img_w, or 0 when its size is not an exact
// integer fraction of the image (then reuse by shift is not defined for it).
int stride_by_shape(const ir::Tensor& t, int64_t img_h, int64_t img_w) {
  if (t.shape.size() != 4 || t.shape[0] != 1 || t.constant) return 0;
  int64_t h = t.shape[2], w = t.shape[3];
  if (h <= 0 || w <= 0 || img_h % h != 0 || img_w % w != 0) return 0;
  int64_t sh = img_h / h, sw = img_w / w;
  return sh == sw ? static_cast<int>(sh) : 0;
}

bool local_kind(const ir::Graph& g, const ir::Node& n) {
  const std::string& op = n.op;
  if (op == "Conv" || op == "ConvTranspose" || op == "MaxPool" || op == "Resize" || op == "Sigmoid") return true;
  if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div") {
    // Shift-equivariant only when constants are per-channel or scalar.
    for (int t : n.inputs) {
      const ir::Tensor& tt = g.tensor(t);
      if (!tt.constant) continue;
      int64_t channels = 1;
      for (int64_t d : tt.shape) channels *= d;
      bool per_channel = tt.shape.size() == 4 && tt.shape[0] == 1 && tt.shape[2] == 1 && tt.shape[3] == 1;
      if (!(channels == 1 || per_channel)) return false;
    }
    return true;
  }
  if (op == "Concat" || op == "Split") return n.attr_int("axis", 0) == 1;  // channels
  return false;
}

}  // namespace

uint64_t node_flops(const ir::Graph& g, const ir::Node& n) {
  if (n.op == "Conv") {
    const auto& w = g.tensor(n.inputs[1]).shape;
    const auto& y = g.tensor(n.outputs[0]).shape;
    return 2ull * static_cast<uint64_t>(w[0] * w[1] * w[2] * w[3]) * static_cast<uint64_t>(y[2] * y[3]);
  }
  if (n.op == "ConvTranspose") {
    const auto& w = g.tensor(n.inputs[1]).shape;
    const auto& x = g.tensor(n.inputs[0]).shape;
    return 2ull * static_cast<uint64_t>(w[0] * w[1] * w[2] * w[3]) * static_cast<uint64_t>(x[2] * x[3]);
  }
  if (n.op == "MatMul") {
    const auto& a = g.tensor(n.inputs[0]).shape;
    const auto& y = g.tensor(n.outputs[0]).shape;
    return 2ull * static_cast<uint64_t>(ir::shape_numel(y)) * static_cast<uint64_t>(a.back());
  }
  return 0;
}

void analyze_spatial(ir::Graph& g) {
  if (g.inputs.empty()) throw Error("the graph has no input");
  const ir::Tensor& img = g.tensor(g.inputs[0]);
  if (img.shape.size() != 4) throw Error("the model input must be 4-D (NCHW)");
  int64_t img_h = img.shape[2], img_w = img.shape[3];

  for (int t = 0; t < g.tensor_count(); ++t) g.tensor(t).stride = stride_by_shape(g.tensor(t), img_h, img_w);

  std::vector<int> order = g.live_nodes();
  for (int ni : order) {
    ir::Node& n = g.node(ni);
    n.flops = node_flops(g, n);
    n.spatial = ir::SpatialInfo{};
    bool local = local_kind(g, n);
    if (n.op == "Relayout") {
      // The conversion of the image into the network's NHWC layout is the entry of the local part.
      local = std::find(g.inputs.begin(), g.inputs.end(), n.inputs[0]) != g.inputs.end();
    }
    auto spatial_nhwc = [&](int t) {
      const ir::Tensor& tt = g.tensor(t);
      return tt.stride > 0 && (tt.layout == ir::Layout::NHWC || n.op == "Relayout");
    };
    for (int t : n.inputs)
      if (t >= 0 && !g.tensor(t).constant && !spatial_nhwc(t)) local = false;
    for (int t : n.outputs)
      if (!spatial_nhwc(t)) local = false;
    n.region = local ? ir::Region::Local : ir::Region::Epilogue;  // non-local refined below
    if (!local) continue;

    ir::SpatialInfo& s = n.spatial;
    const ir::Tensor& x = g.tensor(n.inputs[0]);
    const ir::Tensor& y = g.tensor(n.outputs[0]);
    if (n.op == "Conv" || n.op == "MaxPool") {
      const auto& wshape = n.op == "Conv" ? g.tensor(n.inputs[1]).shape : std::vector<int64_t>{};
      auto ks = n.op == "Conv" ? std::vector<int64_t>{wshape[2], wshape[3]} : n.attr_ints("kernel_shape");
      Window2d w = window_of(n, x.shape[2], x.shape[3], ks[0], ks[1]);
      s.kernel_h = w.kh, s.kernel_w = w.kw, s.stride_h = w.sh, s.stride_w = w.sw;
      s.pad_top = w.pad_t, s.pad_left = w.pad_l, s.pad_bottom = w.pad_b, s.pad_right = w.pad_r;
      s.dilation_h = w.dh, s.dilation_w = w.dw;
      // Output o reads input rows [o*s - pad, o*s - pad + (k-1)*d]; its footprint is [o*s, o*s + s - 1].
      s.halo_top = std::max(0, w.pad_t);
      s.halo_left = std::max(0, w.pad_l);
      s.halo_bottom = std::max(0, (w.kh - 1) * w.dh - w.pad_t - (w.sh - 1));
      s.halo_right = std::max(0, (w.kw - 1) * w.dw - w.pad_l - (w.sw - 1));
      if (y.stride != x.stride * w.sh || w.sh != w.sw) n.region = ir::Region::Epilogue;
    } else if (n.op == "ConvTranspose") {
      const auto& wshape = g.tensor(n.inputs[1]).shape;
      Window2d w = window_of(n, x.shape[2], x.shape[3], wshape[2], wshape[3]);
      s.kernel_h = w.kh, s.kernel_w = w.kw, s.stride_h = w.sh, s.stride_w = w.sw;
      s.pad_top = w.pad_t, s.pad_left = w.pad_l, s.pad_bottom = w.pad_b, s.pad_right = w.pad_r;
      s.dilation_h = w.dh, s.dilation_w = w.dw;
      s.upsample = w.sh;
      // Output o reads inputs i with i*s - pad + k*d == o: i in [(o + pad - (K-1)d)/s, (o + pad)/s].
      // Relative to the footprint i = floor(o / s): up to ceil(((K-1)d - pad) / s) before, ceil(pad/s) after.
      s.halo_top = std::max(0, ((w.kh - 1) * w.dh - w.pad_t + w.sh - 1) / w.sh);
      s.halo_left = std::max(0, ((w.kw - 1) * w.dw - w.pad_l + w.sw - 1) / w.sw);
      s.halo_bottom = std::max(0, (w.pad_t + w.sh - 1) / w.sh);
      s.halo_right = std::max(0, (w.pad_l + w.sw - 1) / w.sw);
      if (w.sh != w.sw || x.stride != y.stride * w.sh) n.region = ir::Region::Epilogue;
    } else if (n.op == "Resize") {
      int up = static_cast<int>(y.shape[2] / std::max<int64_t>(1, x.shape[2]));
      s.upsample = up;
      if (y.shape[2] != x.shape[2] * up || y.shape[3] != x.shape[3] * up || x.stride != y.stride * up)
        n.region = ir::Region::Epilogue;
    } else {
      for (int t : n.inputs)
        if (t >= 0 && !g.tensor(t).constant && g.tensor(t).stride != y.stride) n.region = ir::Region::Epilogue;
    }
  }

  // Non-local nodes with a local node downstream form dense islands (global); the rest is epilogue.
  std::vector<char> feeds_local(static_cast<size_t>(g.node_count()), 0);
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    ir::Node& n = g.node(*it);
    bool downstream_local = false;
    for (int o : n.outputs)
      for (int c : g.consumers(o))
        downstream_local = downstream_local || g.node(c).region == ir::Region::Local || feeds_local[c];
    feeds_local[*it] = downstream_local;
    if (n.region != ir::Region::Local) n.region = downstream_local ? ir::Region::Global : ir::Region::Epilogue;
  }
}

}  // namespace fx
