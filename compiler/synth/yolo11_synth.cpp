#include "compiler/synth/yolo11_synth.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <vector>

#include "compiler/onnx_builder.h"
#include "runtime/error.h"

namespace fx {

namespace {

// Calibration samples per channel (see Act).
constexpr int kS = 12;          // calibration maps are kS x kS tori
constexpr int kP = kS * kS;
// Second moment of the pre-activation of an activated convolution on the calibration samples. Unit variance
// (what BN gives) puts SiLU where E[silu(x)^2] grows faster than Var(x) (elasticity 1.17): calibrated on one
// input, a brighter or busier one then deviates more at every layer and random-weight networks blow up
// (yolo11s reaches RMS ~50 on a real frame). At variance 16 SiLU is ReLU-like and the network nearly
// positively homogeneous (elasticity 1.04): activations stay within a small factor of the calibration
// for any photo or noise input, at RMS 3 to 10.
constexpr double kActTarget = 16.0;
// Convolutions without activation that feed residual adds (attention pe/proj, PSA ffn.1): about
// E[silu(x)^2] for Var(x) = kActTarget, to match the branch they are added to.
constexpr double kResidualTarget = 8.0;
constexpr float kBiasBound = 0.1f;  // ordinary biases: U(-0.1, 0.1)
constexpr int kRegMax = 16;
constexpr int kMasks = 32;

const char* const kCocoNames[80] = {
    "person",        "bicycle",      "car",        "motorcycle",    "airplane",     "bus",
    "train",         "truck",        "boat",       "traffic light", "fire hydrant", "stop sign",
    "parking meter", "bench",        "bird",       "cat",           "dog",          "horse",
    "sheep",         "cow",          "elephant",   "bear",          "zebra",        "giraffe",
    "backpack",      "umbrella",     "handbag",    "tie",           "suitcase",     "frisbee",
    "skis",          "snowboard",    "sports ball", "kite",         "baseball bat", "baseball glove",
    "skateboard",    "surfboard",    "tennis racket", "bottle",     "wine glass",   "cup",
    "fork",          "knife",        "spoon",      "bowl",          "banana",       "apple",
    "sandwich",      "orange",       "broccoli",   "carrot",        "hot dog",      "pizza",
    "donut",         "cake",         "chair",      "couch",         "potted plant", "bed",
    "dining table",  "toilet",       "tv",         "laptop",        "mouse",        "remote",
    "keyboard",      "cell phone",   "microwave",  "oven",          "toaster",      "sink",
    "refrigerator",  "book",         "clock",      "vase",          "scissors",     "teddy bear",
    "hair drier",    "toothbrush"};

// Per-tensor random stream: splitmix64 seeded from (seed, tensor name).
class Stream {
 public:
  Stream(uint64_t seed, const std::string& name) {
    uint64_t h = 1469598103934665603ull;  // FNV-1a 64
    for (unsigned char c : name) h = (h ^ c) * 1099511628211ull;
    state_ = h ^ (seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull);
  }
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [-bound, bound): 24 random bits, exact up to the final product.
  float uniform(float bound) {
    float u = static_cast<float>(next() >> 40) * (1.0f / 16777216.0f);
    return (2.0f * u - 1.0f) * bound;
  }

 private:
  uint64_t state_;
};

// Rounds to 10 significant bits, so that a last-bit difference in the moment arithmetic can never change
// the weights (the bytes depend on the seed only).
double round_bound(double x) {
  int e = 0;
  double m = std::frexp(x, &e);
  return std::ldexp(std::round(m * 1024.0) / 1024.0, e);
}

// An activation: NCHW with N = 1, plus calibration samples: a kS x kS torus per channel ([c][kP]). A
// photo-like calibration image is pushed through the network as it is built, every map kept at kS x kS
// with periodic borders (natural images look alike at every scale, so one small map stands for all
// levels): a k x k convolution reads its torus neighbours, max-pooling pools them, attention attends over
// the kP positions. Each convolution's weight scale is set from the second moment its pre-activation has
// on these samples: batch normalisation at initialisation (LSUV-style), which a closed-form moment
// estimate cannot follow through residual adds, concatenations, pooling and attention without drifting.
struct Act {
  std::string name;
  int64_t c = 0, h = 0, w = 0;
  std::vector<float> s;  // [c][kP]
};

// The sample at (y + dy, x + dx) of the torus from sample p = y * kS + x.
int shifted(int p, int dy, int dx) {
  int y = (p / kS + dy + kS) % kS, x = (p % kS + dx + kS) % kS;
  return y * kS + x;
}

float silu(float v) { return v / (1.0f + std::exp(-v)); }

double mean_square(const std::vector<float>& v) {
  double q = 0;
  for (float x : v) q += static_cast<double>(x) * x;
  return q / static_cast<double>(std::max<size_t>(v.size(), 1));
}

std::string suffix(int i) { return i == 0 ? "" : "_" + std::to_string(i); }

int64_t make_divisible(double x, int64_t d) { return static_cast<int64_t>(std::ceil(x / static_cast<double>(d))) * d; }

struct Scale {
  double depth, width;
  int64_t max_channels;
};

Scale scale_of(char s) {
  switch (s) {
    case 'n': return {0.50, 0.25, 1024};
    case 's': return {0.50, 0.50, 1024};
    case 'm': return {0.50, 1.00, 512};
    case 'l': return {1.00, 1.00, 512};
    case 'x': return {1.00, 1.50, 512};
  }
  throw Error(std::string("unknown YOLO11 scale '") + s + "' (expected n, s, m, l or x)");
}

class Yolo11Builder {
 public:
  explicit Yolo11Builder(const SynthOptions& o)
      : o_(o), b_(o.opset, "main_graph"), sc_(scale_of(o.scale)), seg_(o.task == "segment"), v84_(o.head == "8.4") {}

  std::string build(SynthInfo* info);

 private:
  // --- channel and depth rules of ultralytics/nn/tasks.py parse_model ------------------------------------
  int64_t ch(int64_t c) const {
    return make_divisible(static_cast<double>(std::min(c, sc_.max_channels)) * sc_.width, 8);
  }
  int reps(int n) const { return n > 1 ? std::max(static_cast<int>(std::lround(n * sc_.depth)), 1) : n; }
  bool c3k_all() const { return o_.scale == 'm' || o_.scale == 'l' || o_.scale == 'x'; }

  // --- node emission ------------------------------------------------------------------------------------
  std::vector<std::string> emit(const std::string& op, const std::string& name, const std::vector<std::string>& in,
                                const std::vector<OnnxAttr>& attrs = {}, int outputs = 1,
                                const std::string& out_name = "") {
    std::vector<std::string> outs;
    for (int i = 0; i < outputs; ++i) outs.push_back(name + "_output_" + std::to_string(i));
    if (!out_name.empty()) outs[0] = out_name;
    ++nodes_;
    return b_.node(op, name, in, attrs, outputs, outs);
  }
  std::string emit1(const std::string& op, const std::string& name, const std::vector<std::string>& in,
                    const std::vector<OnnxAttr>& attrs = {}, const std::string& out_name = "") {
    return emit(op, name, in, attrs, 1, out_name)[0];
  }

  // An int64 constant; identical values share one initializer (as the exporter's deduplication does).
  std::string ints(const std::string& name, const std::vector<int64_t>& v) {
    auto it = int_consts_.find(v);
    if (it != int_consts_.end()) return it->second;
    if (!const_names_.insert(name).second) throw Error("synth: initializer '" + name + "' defined twice");
    b_.initializer_ints(name, {static_cast<int64_t>(v.size())}, v);
    int_consts_.emplace(v, name);
    return name;
  }
  std::string floats(const std::string& name, const std::vector<int64_t>& shape, const std::vector<float>& v) {
    if (!const_names_.insert(name).second) throw Error("synth: initializer '" + name + "' defined twice");
    return b_.initializer(name, shape, v);
  }

  std::string split_sizes(const std::vector<int64_t>& sizes) {
    std::string name = "onnx::Split";
    for (int64_t s : sizes) name += "_" + std::to_string(s);
    return ints(name, sizes);
  }

  // --- Ultralytics modules ------------------------------------------------------------------------------
  // A convolution node with bias (BN folded), weights scaled so that the output has second moment `target`
  // given the input's; `bias` empty means U(-0.1, 0.1).
  Act conv_node(const Act& x, const std::string& node, const std::string& wkey, int64_t c2, int k, int s, int64_t g,
                double target, const std::vector<float>& bias, bool has_bias = true);
  // Ultralytics Conv: Conv2d + (folded) BN + optional SiLU, exported as Conv -> Sigmoid -> Mul.
  // `linear_target`: the output's second moment when act is false.
  Act conv(const Act& x, const std::string& scope, const std::string& key, int64_t c2, int k = 1, int s = 1,
           int64_t g = 1, bool act = true, double linear_target = kResidualTarget);
  // A plain nn.Conv2d (the last layer of each head branch).
  Act conv2d(const Act& x, const std::string& scope, const std::string& key, int64_t c2,
             const std::vector<float>& bias = {});
  Act add(const std::string& name, const Act& a, const Act& b);
  Act concat(const std::string& name, const std::vector<Act>& parts);
  std::vector<Act> split(const std::string& name, const Act& x, const std::vector<int64_t>& sizes);
  std::vector<std::string> split_raw(const std::string& name, const std::string& x, const std::vector<int64_t>& sizes,
                                     int64_t axis);
  std::string reshape(const std::string& name, const std::string& x, const std::string& shape);
  Act upsample(const std::string& name, const Act& x);

  Act bottleneck(const Act& x, const std::string& scope, const std::string& key, int64_t c2, double e);
  Act c3k(const Act& x, const std::string& scope, const std::string& key, int64_t c2);
  Act c3k2(const Act& x, int layer, int64_t c2, int n, bool use_c3k, double e);
  Act sppf(const Act& x, int layer, int64_t c2);
  Act c2psa(const Act& x, int layer, int64_t c2, int n);
  Act psa_block(const Act& x, const std::string& scope, const std::string& key, int64_t c);

  // The head: returns output0's tensor (and sets proto_ for segment).
  void head(const std::vector<Act>& feats);
  std::string level_box(const Act& x, int i);
  std::string level_cls(const Act& x, int i);
  std::string level_mask(const Act& x, int i);
  std::string dfl_decode(const std::string& box, const std::string& dbox_concat);
  std::string proto(const Act& x);

  const SynthOptions& o_;
  OnnxBuilder b_;
  Scale sc_;
  bool seg_, v84_;
  std::map<std::vector<int64_t>, std::string> int_consts_;
  std::set<std::string> const_names_;
  uint64_t params_ = 0, flops_ = 0;
  int nodes_ = 0;
  int64_t anchors_ = 0, no_ = 0, strides_[3] = {8, 16, 32};
  int64_t c2_head_ = 0, c3_head_ = 0, c4_head_ = 0, npr_ = 0;
  int hw_[3] = {0, 0, 0};
  bool have_scales_ = false;                 // the Resize constants exist
  std::map<int64_t, std::string> scales_;    // attention scale constants by key_dim
};

Act Yolo11Builder::conv_node(const Act& x, const std::string& node, const std::string& wkey, int64_t c2, int k, int s,
                             int64_t g, double target, const std::vector<float>& bias, bool has_bias) {
  int64_t cin = x.c / g;
  int64_t fan_in = cin * k * k;
  // Unit-bound uniform weights first; their pre-activation on the samples sets the final bound.
  std::vector<float> w(static_cast<size_t>(c2 * fan_in));
  Stream ws(o_.seed, wkey + ".weight");
  for (float& v : w) v = ws.uniform(1.0f);
  // im2col of the samples: row (c * k * k + t) holds channel c shifted by tap t.
  std::vector<float> cols(static_cast<size_t>(x.c * k * k * kP));
  for (int64_t c = 0; c < x.c; ++c)
    for (int t = 0; t < k * k; ++t)
      for (int p = 0; p < kP; ++p)
        cols[static_cast<size_t>((c * k * k + t) * kP + p)] =
            x.s[static_cast<size_t>(c * kP + shifted(p, t / k - k / 2, t % k - k / 2))];
  std::vector<float> z(static_cast<size_t>(c2 * kP), 0.0f);
  for (int64_t o = 0; o < c2; ++o) {
    float* acc = &z[static_cast<size_t>(o * kP)];
    int64_t c0 = (o / (c2 / g)) * cin;  // first input channel of o's group
    for (int64_t j = 0; j < cin * k * k; ++j) {
      float wj = w[static_cast<size_t>(o * cin * k * k + j)];
      const float* row = &cols[static_cast<size_t>((c0 * k * k + j) * kP)];
      for (int p = 0; p < kP; ++p) acc[p] += wj * row[p];
    }
  }
  std::vector<float> bv = bias;
  if (has_bias && bv.empty()) {
    bv.resize(static_cast<size_t>(c2));
    Stream bs(o_.seed, wkey + ".bias");
    for (float& v : bv) v = bs.uniform(kBiasBound);
  }
  double bias_var = bias.empty() && has_bias ? kBiasBound * kBiasBound / 3.0 : 0.0;
  float bound = static_cast<float>(round_bound(std::sqrt(std::max(target - bias_var, 1e-3) /
                                                         std::max(mean_square(z), 1e-12))));
  for (float& v : w) v *= bound;  // == Stream::uniform(bound): (2u - 1) * bound
  std::vector<std::string> in = {x.name, floats(wkey + ".weight", {c2, cin, k, k}, w)};
  if (has_bias) in.push_back(floats(wkey + ".bias", {c2}, bv));
  int pad = k / 2;
  Act y;
  y.name = emit1("Conv", node, in,
                 {OnnxAttr::integers("dilations", {1, 1}), OnnxAttr::integer("group", g),
                  OnnxAttr::integers("kernel_shape", {k, k}), OnnxAttr::integers("pads", {pad, pad, pad, pad}),
                  OnnxAttr::integers("strides", {s, s})});
  y.c = c2;
  y.h = (x.h + 2 * pad - k) / s + 1;
  y.w = (x.w + 2 * pad - k) / s + 1;
  y.s.resize(z.size());
  for (int64_t o = 0; o < c2; ++o)
    for (int p = 0; p < kP; ++p) {
      size_t i = static_cast<size_t>(o * kP + p);
      y.s[i] = z[i] * bound + (has_bias ? bv[static_cast<size_t>(o)] : 0.0f);
    }
  params_ += static_cast<uint64_t>(c2 * fan_in + (has_bias ? c2 : 0));
  flops_ += 2ull * static_cast<uint64_t>(c2 * fan_in) * static_cast<uint64_t>(y.h * y.w);
  return y;
}

Act Yolo11Builder::conv(const Act& x, const std::string& scope, const std::string& key, int64_t c2, int k, int s,
                        int64_t g, bool act, double linear_target) {
  Act y = conv_node(x, scope + "/conv/Conv", key + ".conv", c2, k, s, g, act ? kActTarget : linear_target, {});
  if (!act) return y;
  std::string sig = emit1("Sigmoid", scope + "/act/Sigmoid", {y.name});
  y.name = emit1("Mul", scope + "/act/Mul", {y.name, sig});
  for (float& v : y.s) v = silu(v);
  return y;
}

Act Yolo11Builder::conv2d(const Act& x, const std::string& scope, const std::string& key, int64_t c2,
                          const std::vector<float>& bias) {
  return conv_node(x, scope + "/Conv", key, c2, 1, 1, 1, 1.0, bias);
}

Act Yolo11Builder::add(const std::string& name, const Act& a, const Act& b) {
  Act y = a;
  y.name = emit1("Add", name, {a.name, b.name});
  for (size_t i = 0; i < y.s.size(); ++i) y.s[i] += b.s[i];
  return y;
}

Act Yolo11Builder::concat(const std::string& name, const std::vector<Act>& parts) {
  Act y = parts[0];
  std::vector<std::string> in;
  y.c = 0;
  y.s.clear();
  for (const Act& p : parts) {
    in.push_back(p.name);
    y.c += p.c;
    y.s.insert(y.s.end(), p.s.begin(), p.s.end());
  }
  y.name = emit1("Concat", name, in, {OnnxAttr::integer("axis", 1)});
  return y;
}

std::vector<std::string> Yolo11Builder::split_raw(const std::string& name, const std::string& x,
                                                  const std::vector<int64_t>& sizes, int64_t axis) {
  int n = static_cast<int>(sizes.size());
  if (o_.opset >= 13) return emit("Split", name, {x, split_sizes(sizes)}, {OnnxAttr::integer("axis", axis)}, n);
  return emit("Split", name, {x}, {OnnxAttr::integer("axis", axis), OnnxAttr::integers("split", sizes)}, n);
}

std::vector<Act> Yolo11Builder::split(const std::string& name, const Act& x, const std::vector<int64_t>& sizes) {
  std::vector<std::string> outs = split_raw(name, x.name, sizes, 1);
  std::vector<Act> r;
  int64_t c0 = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    Act a;
    a.name = outs[i];
    a.c = sizes[i];
    a.h = x.h;
    a.w = x.w;
    a.s.assign(x.s.begin() + c0 * kP, x.s.begin() + (c0 + sizes[i]) * kP);
    c0 += sizes[i];
    r.push_back(a);
  }
  return r;
}

std::string Yolo11Builder::reshape(const std::string& name, const std::string& x, const std::string& shape) {
  std::vector<OnnxAttr> attrs;
  if (o_.opset >= 14) attrs.push_back(OnnxAttr::integer("allowzero", 0));
  return emit1("Reshape", name, {x, shape}, attrs);
}

Act Yolo11Builder::upsample(const std::string& name, const Act& x) {
  // Both upsamples share the scales constant (and, before opset 13, the empty roi), as in the exports.
  static const char* kScales = "/model.11/Constant_output_0";
  static const char* kRoi = "/model.11/Constant_1_output_0";
  if (!have_scales_) {
    floats(kScales, {4}, {1.0f, 1.0f, 2.0f, 2.0f});
    if (o_.opset < 13) floats(kRoi, {0}, {});
    have_scales_ = true;
  }
  Act y = x;
  y.name = emit1("Resize", name, {x.name, o_.opset >= 13 ? std::string() : std::string(kRoi), kScales},
                 {OnnxAttr::string("coordinate_transformation_mode", "asymmetric"),
                  OnnxAttr::real("cubic_coeff_a", -0.75f), OnnxAttr::string("mode", "nearest"),
                  OnnxAttr::string("nearest_mode", "floor")});
  y.h *= 2;
  y.w *= 2;
  return y;
}

// Bottleneck(c1, c2, shortcut=True, k=(3, 3), e): x + cv2(cv1(x)).
Act Yolo11Builder::bottleneck(const Act& x, const std::string& scope, const std::string& key, int64_t c2, double e) {
  int64_t c_ = static_cast<int64_t>(static_cast<double>(c2) * e);
  Act a = conv(x, scope + "/cv1", key + ".cv1", c_, 3);
  Act b = conv(a, scope + "/cv2", key + ".cv2", c2, 3);
  return x.c == c2 ? add(scope + "/Add", x, b) : b;
}

// C3k(c1, c2, n=2, shortcut=True, e=0.5, k=3): cv3(cat(m(cv1(x)), cv2(x))).
Act Yolo11Builder::c3k(const Act& x, const std::string& scope, const std::string& key, int64_t c2) {
  int64_t c_ = c2 / 2;
  Act a = conv(x, scope + "/cv1", key + ".cv1", c_, 1);
  for (int j = 0; j < 2; ++j)
    a = bottleneck(a, scope + "/m/m." + std::to_string(j), key + ".m." + std::to_string(j), c_, 1.0);
  Act b = conv(x, scope + "/cv2", key + ".cv2", c_, 1);
  Act cat = concat(scope + "/Concat", {a, b});
  return conv(cat, scope + "/cv3", key + ".cv3", c2, 1);
}

// C3k2(c1, c2, n, c3k, e): cv2(cat(split(cv1(x)) + [m_i(...)])).
Act Yolo11Builder::c3k2(const Act& x, int layer, int64_t c2, int n, bool use_c3k, double e) {
  std::string scope = "/model." + std::to_string(layer), key = "model." + std::to_string(layer);
  int64_t c = static_cast<int64_t>(static_cast<double>(c2) * e);
  Act y = conv(x, scope + "/cv1", key + ".cv1", 2 * c, 1);
  std::vector<Act> parts = split(scope + "/Split", y, {c, c});
  Act last = parts.back();
  for (int i = 0; i < n; ++i) {
    std::string s = scope + "/m." + std::to_string(i), k = key + ".m." + std::to_string(i);
    last = use_c3k ? c3k(last, s, k, c) : bottleneck(last, s, k, c, 0.5);
    parts.push_back(last);
  }
  Act cat = concat(scope + "/Concat", parts);
  return conv(cat, scope + "/cv2", key + ".cv2", c2, 1);
}

// SPPF(c1, c2, k=5): cv2(cat(y, m(y), m(m(y)), m(m(m(y))))) with y = cv1(x).
Act Yolo11Builder::sppf(const Act& x, int layer, int64_t c2) {
  std::string scope = "/model." + std::to_string(layer), key = "model." + std::to_string(layer);
  Act y = conv(x, scope + "/cv1", key + ".cv1", x.c / 2, 1);
  std::vector<Act> parts = {y};
  for (int i = 0; i < 3; ++i) {
    Act p = parts.back();
    p.name = emit1("MaxPool", scope + "/m" + suffix(i) + "/MaxPool", {p.name},
                   {OnnxAttr::integer("ceil_mode", 0), OnnxAttr::integers("dilations", {1, 1}),
                    OnnxAttr::integers("kernel_shape", {5, 5}), OnnxAttr::integers("pads", {2, 2, 2, 2}),
                    OnnxAttr::integers("strides", {1, 1})});
    std::vector<float> m(p.s.size());
    for (int64_t c = 0; c < p.c; ++c)
      for (int q = 0; q < kP; ++q) {
        float v = p.s[static_cast<size_t>(c * kP + q)];
        for (int dy = -2; dy <= 2; ++dy)
          for (int dx = -2; dx <= 2; ++dx) v = std::max(v, p.s[static_cast<size_t>(c * kP + shifted(q, dy, dx))]);
        m[static_cast<size_t>(c * kP + q)] = v;
      }
    p.s = std::move(m);
    parts.push_back(p);
  }
  Act cat = concat(scope + "/Concat", parts);
  return conv(cat, scope + "/cv2", key + ".cv2", c2, 1);
}

// PSABlock(c, attn_ratio=0.5, num_heads=c/64): x + attn(x), then + ffn(x).
Act Yolo11Builder::psa_block(const Act& x, const std::string& scope, const std::string& key, int64_t c) {
  int64_t heads = c / 64, head_dim = c / heads, key_dim = head_dim / 2;
  int64_t n = x.h * x.w;
  std::string as = scope + "/attn", ak = key + ".attn";
  // Queries and keys at unit scale keep the softmax temperature of an initialised model.
  Act qkv = conv(x, as + "/qkv", ak + ".qkv", c + 2 * key_dim * heads, 1, 1, 1, false, 1.0);
  std::string r =
      reshape(as + "/Reshape", qkv.name, ints(as + "/Constant_output_0", {1, heads, 2 * key_dim + head_dim, n}));
  std::vector<std::string> qkv3 = split_raw(as + "/Split", r, {key_dim, key_dim, head_dim}, 2);
  std::string qt = emit1("Transpose", as + "/Transpose", {qkv3[0]}, {OnnxAttr::integers("perm", {0, 1, 3, 2})});
  std::string mm = emit1("MatMul", as + "/MatMul", {qt, qkv3[1]});
  if (!scales_.count(key_dim)) {
    float s = static_cast<float>(1.0 / std::sqrt(static_cast<double>(key_dim)));
    scales_[key_dim] = floats(as + "/Constant_1_output_0", {}, {s});
  }
  std::string scaled = emit1("Mul", as + "/Mul", {mm, scales_[key_dim]});
  std::string sm = emit1("Softmax", as + "/Softmax", {scaled}, {OnnxAttr::integer("axis", o_.opset >= 13 ? -1 : 3)});
  std::string st = emit1("Transpose", as + "/Transpose_1", {sm}, {OnnxAttr::integers("perm", {0, 1, 3, 2})});
  std::string mm1 = emit1("MatMul", as + "/MatMul_1", {qkv3[2], st});
  std::string chw = ints(as + "/Constant_3_output_0", {1, c, x.h, x.w});
  // Attention among the kP samples: qkv channel h * (2 * key_dim + head_dim) + j is (q | k | v)[h][j];
  // the output channel h * head_dim + d, as the exporter's views lay them out.
  const int64_t per = 2 * key_dim + head_dim;
  const double scale = 1.0 / std::sqrt(static_cast<double>(key_dim));
  Act v = x, av = x;
  v.s.assign(static_cast<size_t>(c * kP), 0.0f);
  av.s.assign(static_cast<size_t>(c * kP), 0.0f);
  for (int64_t hh = 0; hh < heads; ++hh) {
    const float* q = &qkv.s[static_cast<size_t>(hh * per * kP)];
    const float* kk = q + key_dim * kP;
    const float* vv = kk + key_dim * kP;
    for (int64_t d = 0; d < head_dim; ++d)
      for (int p = 0; p < kP; ++p) v.s[static_cast<size_t>((hh * head_dim + d) * kP + p)] = vv[d * kP + p];
    for (int i = 0; i < kP; ++i) {
      double logit[kP], mx = -1e300, sum = 0;
      for (int j = 0; j < kP; ++j) {
        double a = 0;
        for (int64_t e = 0; e < key_dim; ++e) a += static_cast<double>(q[e * kP + i]) * kk[e * kP + j];
        logit[j] = a * scale;
        mx = std::max(mx, logit[j]);
      }
      for (int j = 0; j < kP; ++j) sum += (logit[j] = std::exp(logit[j] - mx));
      for (int64_t d = 0; d < head_dim; ++d) {
        double a = 0;
        for (int j = 0; j < kP; ++j) a += vv[d * kP + j] * logit[j];
        av.s[static_cast<size_t>((hh * head_dim + d) * kP + i)] = static_cast<float>(a / sum);
      }
    }
  }
  av.name = reshape(as + "/Reshape_1", mm1, chw);
  av.c = c;
  v.name = reshape(as + "/Reshape_2", qkv3[2], chw);
  v.c = c;
  Act pe = conv(v, as + "/pe", ak + ".pe", c, 3, 1, c, false);
  Act sum = add(as + "/Add", av, pe);
  Act proj = conv(sum, as + "/proj", ak + ".proj", c, 1, 1, 1, false);
  flops_ += 2ull * static_cast<uint64_t>(heads * n * n * key_dim);   // q^T k
  flops_ += 2ull * static_cast<uint64_t>(heads * head_dim * n * n);  // v attn^T
  Act y = add(scope + "/Add", x, proj);
  Act f = conv(y, scope + "/ffn/ffn.0", key + ".ffn.0", 2 * c, 1);
  f = conv(f, scope + "/ffn/ffn.1", key + ".ffn.1", c, 1, 1, 1, false);
  return add(scope + "/Add_1", y, f);
}

// C2PSA(c1, c2, n, e=0.5): cv2(cat(a, m(b))) with a, b = split(cv1(x)).
Act Yolo11Builder::c2psa(const Act& x, int layer, int64_t c2, int n) {
  std::string scope = "/model." + std::to_string(layer), key = "model." + std::to_string(layer);
  int64_t c = x.c / 2;
  Act y = conv(x, scope + "/cv1", key + ".cv1", 2 * c, 1);
  std::vector<Act> ab = split(scope + "/Split", y, {c, c});
  Act b = ab[1];
  for (int i = 0; i < n; ++i)
    b = psa_block(b, scope + "/m/m." + std::to_string(i), key + ".m." + std::to_string(i), c);
  Act cat = concat(scope + "/Concat", {ab[0], b});
  return conv(cat, scope + "/cv2", key + ".cv2", c2, 1);
}

// Detect.cv2[i]: Conv(x, c2, 3), Conv(c2, c2, 3), Conv2d(c2, 4 * reg_max, 1); box bias 1.0 (bias_init).
std::string Yolo11Builder::level_box(const Act& x, int i) {
  std::string s = "/model.23/cv2." + std::to_string(i), k = "model.23.cv2." + std::to_string(i);
  std::string si = std::to_string(i);
  Act a = conv(x, s + "/cv2." + si + ".0", k + ".0", c2_head_, 3);
  a = conv(a, s + "/cv2." + si + ".1", k + ".1", c2_head_, 3);
  return conv2d(a, s + "/cv2." + si + ".2", k + ".2", 4 * kRegMax, std::vector<float>(4 * kRegMax, 1.0f)).name;
}

// Detect.cv3[i] (YOLO11, not legacy): DWConv(x, x, 3), Conv(x, c3, 1), DWConv(c3, c3, 3), Conv(c3, c3, 1),
// Conv2d(c3, nc, 1); class bias log(5 / nc / (640 / stride)^2) (bias_init).
std::string Yolo11Builder::level_cls(const Act& x, int i) {
  std::string si = std::to_string(i);
  std::string s = "/model.23/cv3." + si, k = "model.23.cv3." + si;
  Act a = conv(x, s + "/cv3." + si + ".0/cv3." + si + ".0.0", k + ".0.0", x.c, 3, 1, x.c);
  a = conv(a, s + "/cv3." + si + ".0/cv3." + si + ".0.1", k + ".0.1", c3_head_, 1);
  a = conv(a, s + "/cv3." + si + ".1/cv3." + si + ".1.0", k + ".1.0", c3_head_, 3, 1, c3_head_);
  a = conv(a, s + "/cv3." + si + ".1/cv3." + si + ".1.1", k + ".1.1", c3_head_, 1);
  double r = 640.0 / static_cast<double>(strides_[i]);
  float cls_bias = static_cast<float>(std::log(5.0 / 80.0 / (r * r)));
  return conv2d(a, s + "/cv3." + si + ".2", k + ".2", 80, std::vector<float>(80, cls_bias)).name;
}

// Segment.cv4[i]: Conv(x, c4, 3), Conv(c4, c4, 3), Conv2d(c4, nm, 1).
std::string Yolo11Builder::level_mask(const Act& x, int i) {
  std::string si = std::to_string(i);
  std::string s = "/model.23/cv4." + si, k = "model.23.cv4." + si;
  Act a = conv(x, s + "/cv4." + si + ".0", k + ".0", c4_head_, 3);
  a = conv(a, s + "/cv4." + si + ".1", k + ".1", c4_head_, 3);
  return conv2d(a, s + "/cv4." + si + ".2", k + ".2", kMasks).name;
}

// Proto(c1, npr, nm): cv3(cv2(upsample(cv1(x)))), upsample = ConvTranspose2d(npr, npr, 2, 2, 0, bias=True).
std::string Yolo11Builder::proto(const Act& x) {
  Act a = conv(x, "/model.23/proto/cv1", "model.23.proto.cv1", npr_, 3);
  // ConvTranspose 2x2 stride 2: every output pixel sees one input pixel of each channel, through tap
  // (p mod 4) for sample p. Weights [in, out, 2, 2].
  std::vector<float> w(static_cast<size_t>(npr_ * npr_ * 4)), bias(static_cast<size_t>(npr_));
  Stream ws(o_.seed, "model.23.proto.upsample.weight"), bs(o_.seed, "model.23.proto.upsample.bias");
  for (float& v : w) v = ws.uniform(1.0f);
  for (float& v : bias) v = bs.uniform(kBiasBound);
  std::vector<float> z(static_cast<size_t>(npr_ * kP), 0.0f);
  for (int64_t ci = 0; ci < npr_; ++ci)
    for (int64_t o = 0; o < npr_; ++o)
      for (int p = 0; p < kP; ++p)
        z[static_cast<size_t>(o * kP + p)] +=
            w[static_cast<size_t>((ci * npr_ + o) * 4 + p % 4)] * a.s[static_cast<size_t>(ci * kP + p)];
  float bound = static_cast<float>(round_bound(std::sqrt((1.0 - kBiasBound * kBiasBound / 3.0) /
                                                         std::max(mean_square(z), 1e-12))));
  for (float& v : w) v *= bound;
  Act up = a;
  up.s.resize(z.size());
  for (int64_t o = 0; o < npr_; ++o)
    for (int p = 0; p < kP; ++p)
      up.s[static_cast<size_t>(o * kP + p)] = z[static_cast<size_t>(o * kP + p)] * bound + bias[static_cast<size_t>(o)];
  up.name = emit1("ConvTranspose", "/model.23/proto/upsample/ConvTranspose",
                  {a.name, floats("model.23.proto.upsample.weight", {npr_, npr_, 2, 2}, w),
                   floats("model.23.proto.upsample.bias", {npr_}, bias)},
                  {OnnxAttr::integers("dilations", {1, 1}), OnnxAttr::integer("group", 1),
                   OnnxAttr::integers("kernel_shape", {2, 2}), OnnxAttr::integers("pads", {0, 0, 0, 0}),
                   OnnxAttr::integers("strides", {2, 2})});
  params_ += static_cast<uint64_t>(npr_ * npr_ * 4 + npr_);
  flops_ += 2ull * static_cast<uint64_t>(npr_ * npr_ * 4) * static_cast<uint64_t>(a.h * a.w);
  up.h *= 2;
  up.w *= 2;
  Act b = conv(up, "/model.23/proto/cv2", "model.23.proto.cv2", npr_, 3);
  // cv3 ends in the graph's second output.
  Act c = conv_node(b, "/model.23/proto/cv3/conv/Conv", "model.23.proto.cv3.conv", kMasks, 1, 1, 1, 1.0, {});
  std::string sig = emit1("Sigmoid", "/model.23/proto/cv3/act/Sigmoid", {c.name});
  return emit1("Mul", "/model.23/proto/cv3/act/Mul", {c.name, sig}, {}, "output1");
}

// DFL on [1, 64, A] then dist2bbox(xywh) * strides: returns the Mul_2 output [1, 4, A].
std::string Yolo11Builder::dfl_decode(const std::string& box, const std::string& dbox_concat) {
  const int64_t a = anchors_;
  std::string r = reshape("/model.23/dfl/Reshape", box, ints("/model.23/dfl/Constant_output_0", {1, 4, kRegMax, a}));
  std::string soft;
  if (o_.opset >= 13) {
    std::string t = emit1("Transpose", "/model.23/dfl/Transpose", {r}, {OnnxAttr::integers("perm", {0, 2, 1, 3})});
    soft = emit1("Softmax", "/model.23/dfl/Softmax", {t}, {OnnxAttr::integer("axis", 1)});
  } else {
    // Opset 12's Softmax flattens from its axis; the exporter moves the softmax axis last and back.
    std::string t = emit1("Transpose", "/model.23/dfl/Transpose", {r}, {OnnxAttr::integers("perm", {0, 3, 1, 2})});
    std::string s = emit1("Softmax", "/model.23/dfl/Softmax", {t}, {OnnxAttr::integer("axis", 3)});
    soft = emit1("Transpose", "/model.23/dfl/Transpose_1", {s}, {OnnxAttr::integers("perm", {0, 3, 2, 1})});
  }
  std::vector<float> arange(kRegMax);
  for (int i = 0; i < kRegMax; ++i) arange[static_cast<size_t>(i)] = static_cast<float>(i);
  std::string conv = emit1("Conv", "/model.23/dfl/conv/Conv",
                           {soft, floats("model.23.dfl.conv.weight", {1, kRegMax, 1, 1}, arange)},
                           {OnnxAttr::integers("dilations", {1, 1}), OnnxAttr::integer("group", 1),
                            OnnxAttr::integers("kernel_shape", {1, 1}), OnnxAttr::integers("pads", {0, 0, 0, 0}),
                            OnnxAttr::integers("strides", {1, 1})});
  params_ += kRegMax;
  flops_ += 2ull * kRegMax * static_cast<uint64_t>(4 * a);
  std::string dist = reshape("/model.23/dfl/Reshape_1", conv, ints("/model.23/dfl/Constant_1_output_0", {1, 4, a}));

  // make_anchors(offset 0.5): level by level, row-major; anchor (x + 0.5, y + 0.5) in grid units.
  std::vector<float> anchor(static_cast<size_t>(2 * a)), stride(static_cast<size_t>(a));
  size_t k = 0;
  for (int l = 0; l < 3; ++l)
    for (int y = 0; y < hw_[l]; ++y)
      for (int x = 0; x < hw_[l]; ++x, ++k) {
        anchor[k] = static_cast<float>(x) + 0.5f;
        anchor[static_cast<size_t>(a) + k] = static_cast<float>(y) + 0.5f;
        stride[k] = static_cast<float>(strides_[l]);
      }
  std::string zero = ints("/model.23/Slice_start", {0}), two = ints("/model.23/Slice_end", {2});
  std::string one = ints("/model.23/Slice_axes", {1}), four = ints("/model.23/Slice_1_end", {4});
  std::string lt = emit1("Slice", "/model.23/Slice", {dist, zero, two, one});
  std::string rb = emit1("Slice", "/model.23/Slice_1", {dist, two, four, one});
  std::string x1y1 = emit1("Sub", "/model.23/Sub", {floats("/model.23/anchors_0", {1, 2, a}, anchor), lt});
  std::string x2y2 = emit1("Add", "/model.23/Add_1", {floats("/model.23/anchors_1", {1, 2, a}, anchor), rb});
  std::string sum = emit1("Add", "/model.23/Add_2", {x1y1, x2y2});
  std::string wh = emit1("Sub", "/model.23/Sub_1", {x2y2, x1y1});
  std::string cxy = emit1("Div", "/model.23/Div_1", {sum, floats("/model.23/half_divisor", {}, {2.0f})});
  std::string box4 = emit1("Concat", dbox_concat, {cxy, wh}, {OnnxAttr::integer("axis", 1)});
  return emit1("Mul", "/model.23/Mul_2", {box4, floats("/model.23/strides", {1, a}, stride)});
}

void Yolo11Builder::head(const std::vector<Act>& x) {
  const int64_t nc = 80;
  c2_head_ = std::max<int64_t>({16, x[0].c / 4, 4 * kRegMax});
  c3_head_ = std::max<int64_t>(x[0].c, std::min<int64_t>(nc, 100));
  c4_head_ = std::max<int64_t>(x[0].c / 4, kMasks);
  npr_ = ch(256);
  no_ = nc + 4 * kRegMax;
  for (int l = 0; l < 3; ++l) hw_[l] = o_.imgsz / static_cast<int>(strides_[l]);
  anchors_ = 0;
  for (int l = 0; l < 3; ++l) anchors_ += static_cast<int64_t>(hw_[l]) * hw_[l];

  std::vector<std::string> final_inputs;
  std::string final_name;
  if (!v84_) {
    // Ultralytics 8.3: [Segment: proto, mask coefficients] then per level cat(box, cls), one Split.
    std::string mc;
    int n = 0;  // Reshape / Concat numbering continues after the mask branch
    if (seg_) {
      proto(x[0]);
      std::vector<std::string> parts;
      std::string shape = ints("/model.23/Constant_output_0", {1, kMasks, -1});
      for (int i = 0; i < 3; ++i) parts.push_back(reshape("/model.23/Reshape" + suffix(i), level_mask(x[i], i), shape));
      mc = emit1("Concat", "/model.23/Concat", parts, {OnnxAttr::integer("axis", 2)});
      n = 3;
    }
    std::vector<std::string> levels;
    for (int i = 0; i < 3; ++i) {
      std::string box = level_box(x[i], i);
      std::string cls = level_cls(x[i], i);
      levels.push_back(emit1("Concat", "/model.23/Concat" + suffix(i + (seg_ ? 1 : 0)), {box, cls},
                             {OnnxAttr::integer("axis", 1)}));
    }
    std::string shape = ints(seg_ ? "/model.23/Constant_3_output_0" : "/model.23/Constant_output_0", {1, no_, -1});
    std::vector<std::string> flat;
    for (int i = 0; i < 3; ++i) flat.push_back(reshape("/model.23/Reshape" + suffix(n + i), levels[i], shape));
    int c = seg_ ? 4 : 3;
    std::string xcat = emit1("Concat", "/model.23/Concat_" + std::to_string(c), flat, {OnnxAttr::integer("axis", 2)});
    std::vector<std::string> bc = split_raw("/model.23/Split", xcat, {4 * kRegMax, nc}, 1);
    std::string dbox = dfl_decode(bc[0], "/model.23/Concat_" + std::to_string(c + 1));
    std::string sig = emit1("Sigmoid", "/model.23/Sigmoid", {bc[1]});
    final_inputs = {dbox, sig};
    if (seg_) final_inputs.push_back(mc);
    final_name = "/model.23/Concat_" + std::to_string(c + 2);
  } else {
    // Ultralytics 8.4: boxes, scores [, mask coefficients] each reshaped and concatenated; proto last.
    std::vector<std::string> boxes, scores, masks;
    std::string bshape = ints("/model.23/Constant_output_0", {1, 4 * kRegMax, -1});
    for (int i = 0; i < 3; ++i) boxes.push_back(reshape("/model.23/Reshape" + suffix(i), level_box(x[i], i), bshape));
    std::string box = emit1("Concat", "/model.23/Concat", boxes, {OnnxAttr::integer("axis", -1)});
    std::string cshape = ints("/model.23/Constant_3_output_0", {1, nc, -1});
    for (int i = 0; i < 3; ++i)
      scores.push_back(reshape("/model.23/Reshape" + suffix(3 + i), level_cls(x[i], i), cshape));
    std::string score = emit1("Concat", "/model.23/Concat_1", scores, {OnnxAttr::integer("axis", -1)});
    std::string mc;
    if (seg_) {
      std::string mshape = ints("/model.23/Constant_6_output_0", {1, kMasks, -1});
      for (int i = 0; i < 3; ++i)
        masks.push_back(reshape("/model.23/Reshape" + suffix(6 + i), level_mask(x[i], i), mshape));
      mc = emit1("Concat", "/model.23/Concat_2", masks, {OnnxAttr::integer("axis", 2)});
    }
    int c = seg_ ? 3 : 2;
    std::string dbox = dfl_decode(box, "/model.23/Concat_" + std::to_string(c));
    std::string sig = emit1("Sigmoid", "/model.23/Sigmoid", {score});
    final_inputs = {dbox, sig};
    if (seg_) final_inputs.push_back(mc);
    final_name = "/model.23/Concat_" + std::to_string(seg_ ? c + 2 : c + 1);
  }
  emit1("Concat", final_name, final_inputs, {OnnxAttr::integer("axis", 1)}, "output0");
  if (seg_ && v84_) proto(x[0]);
}

std::string Yolo11Builder::build(SynthInfo* info) {
  const int64_t s = o_.imgsz;
  b_.set_ir_version(o_.opset <= 14 ? 7 : o_.opset <= 18 ? 8 : o_.opset <= 20 ? 9 : 10);
  b_.set_producer("fluxshard synth", "");
  Act img;
  img.name = b_.input("images", {1, 3, s, s});
  img.c = 3;
  img.h = img.w = s;
  // A photo-like calibration image on the torus: a smooth brightness field (a few random low-frequency
  // waves) with a flat grey band (letterbox padding), the three channels close to the brightness.
  img.s.resize(3 * kP);
  Stream is(0, "calibration.image");
  std::vector<float> amp(6), fy(6), fx(6), ph(6);
  for (int i = 0; i < 6; ++i) {
    amp[i] = 0.12f + is.uniform(0.06f);
    fy[i] = std::round(1.5f + is.uniform(1.5f));
    fx[i] = std::round(1.5f + is.uniform(1.5f));
    ph[i] = 3.0f + is.uniform(3.0f);
  }
  for (int p = 0; p < kP; ++p) {
    int y = p / kS, xx = p % kS;
    float l = 0.45f;
    for (int i = 0; i < 6; ++i)
      l += amp[i] * std::cos(6.2831853f * (fy[i] * y + fx[i] * xx) / kS + ph[i]);
    for (int c = 0; c < 3; ++c) {
      float v = y < 2 ? 114.0f / 255.0f : std::min(1.0f, std::max(0.0f, l + is.uniform(0.08f)));
      img.s[static_cast<size_t>(c * kP + p)] = v;
    }
  }
  const int n2 = reps(2);
  const bool c3k = c3k_all();
  Act x0 = conv(img, "/model.0", "model.0", ch(64), 3, 2);
  Act x1 = conv(x0, "/model.1", "model.1", ch(128), 3, 2);
  Act x2 = c3k2(x1, 2, ch(256), n2, c3k, 0.25);
  Act x3 = conv(x2, "/model.3", "model.3", ch(256), 3, 2);
  Act x4 = c3k2(x3, 4, ch(512), n2, c3k, 0.25);
  Act x5 = conv(x4, "/model.5", "model.5", ch(512), 3, 2);
  Act x6 = c3k2(x5, 6, ch(512), n2, true, 0.5);
  Act x7 = conv(x6, "/model.7", "model.7", ch(1024), 3, 2);
  Act x8 = c3k2(x7, 8, ch(1024), n2, true, 0.5);
  Act x9 = sppf(x8, 9, ch(1024));
  Act x10 = c2psa(x9, 10, ch(1024), n2);
  Act x11 = upsample("/model.11/Resize", x10);
  Act x12 = concat("/model.12/Concat", {x11, x6});
  Act x13 = c3k2(x12, 13, ch(512), n2, c3k, 0.5);
  Act x14 = upsample("/model.14/Resize", x13);
  Act x15 = concat("/model.15/Concat", {x14, x4});
  Act x16 = c3k2(x15, 16, ch(256), n2, c3k, 0.5);
  Act x17 = conv(x16, "/model.17", "model.17", ch(256), 3, 2);
  Act x18 = concat("/model.18/Concat", {x17, x13});
  Act x19 = c3k2(x18, 19, ch(512), n2, c3k, 0.5);
  Act x20 = conv(x19, "/model.20", "model.20", ch(512), 3, 2);
  Act x21 = concat("/model.21/Concat", {x20, x10});
  Act x22 = c3k2(x21, 22, ch(1024), n2, true, 0.5);
  head({x16, x19, x22});

  b_.output("output0", {1, 4 + 80 + (seg_ ? kMasks : 0), anchors_});
  if (seg_) b_.output("output1", {1, kMasks, s / 4, s / 4});

  std::string model = std::string("yolo11") + o_.scale + (seg_ ? "-seg" : "");
  std::string names = "{";
  for (int i = 0; i < 80; ++i) names += (i ? ", " : "") + std::to_string(i) + ": '" + kCocoNames[i] + "'";
  names += "}";
  b_.metadata("description", "Synthetic Ultralytics " + model +
                                 " graph written by fluxshard synth: random weights (seed " + std::to_string(o_.seed) +
                                 "), not a trained model; its detections are meaningless");
  b_.metadata("author", "fluxshard synth");
  b_.metadata("version", o_.head);
  b_.metadata("stride", "32");
  b_.metadata("task", o_.task);
  b_.metadata("batch", "1");
  b_.metadata("imgsz", "[" + std::to_string(s) + ", " + std::to_string(s) + "]");
  b_.metadata("names", names);
  b_.metadata("args", "{'batch': 1, 'half': False, 'dynamic': False, 'simplify': True, 'opset': " +
                          std::to_string(o_.opset) + ", 'nms': False}");
  b_.metadata("channels", "3");
  b_.metadata("synthetic_seed", std::to_string(o_.seed));

  if (info) {
    info->model_name = model;
    info->parameters = params_;
    info->flops = flops_;
    info->nodes = nodes_;
    info->anchors = anchors_;
  }
  return b_.serialize();
}

}  // namespace

void validate_synth_options(const SynthOptions& o) {
  scale_of(o.scale);
  if (o.task != "detect" && o.task != "segment")
    throw Error("unknown task '" + o.task + "' (expected detect or segment)");
  if (o.imgsz < 32 || o.imgsz > 4096 || o.imgsz % 32 != 0)
    throw Error("image size " + std::to_string(o.imgsz) + " must be a multiple of 32 from 32 to 4096");
  if (o.opset < 12 || o.opset > 21) throw Error("opset " + std::to_string(o.opset) + " is not supported (12 to 21)");
  if (o.head != "8.3" && o.head != "8.4") throw Error("unknown head layout '" + o.head + "' (expected 8.3 or 8.4)");
}

std::string synth_yolo11(const SynthOptions& o, SynthInfo* info) {
  validate_synth_options(o);
  Yolo11Builder b(o);
  return b.build(info);
}

}  // namespace fx
