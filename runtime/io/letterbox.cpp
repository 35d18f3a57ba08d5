#include "runtime/io/letterbox.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "ops/thread_pool.h"
#include "runtime/error.h"

namespace fx {

namespace {

constexpr int kCoefBits = 11;
constexpr int kCoefScale = 1 << kCoefBits;  // 2048, OpenCV's INTER_RESIZE_COEF_SCALE
constexpr uint8_t kPad = 114;

// Python's round() on a double: round half to even (the default FE_TONEAREST mode).
inline int py_round(double v) { return static_cast<int>(std::nearbyint(v)); }

// OpenCV's saturate_cast<short>(float): cvRound (half to even), then saturation.
inline int16_t coef(float v) {
  long r = std::lrint(v * static_cast<float>(kCoefScale));
  return static_cast<int16_t>(std::min<long>(std::max<long>(r, -32768), 32767));
}

struct AxisTaps {
  std::vector<int> ofs;      // first source index of each destination position
  std::vector<int16_t> w;    // two weights per destination position
  std::vector<uint8_t> one;  // 1: a single tap (edge clamped), no second sample is read
};

// Horizontal taps, cv::resize (resizeGeneric, INTER_LINEAR): fx is computed in float, clamped at both
// edges with weight (1, 0).
AxisTaps x_taps(int src, int dst) {
  AxisTaps t;
  t.ofs.resize(dst);
  t.w.resize(2 * static_cast<size_t>(dst));
  t.one.resize(dst);
  const double scale = 1.0 / (static_cast<double>(dst) / src);
  for (int d = 0; d < dst; ++d) {
    float f = static_cast<float>((d + 0.5) * scale - 0.5);
    int s = static_cast<int>(std::floor(f));
    f -= static_cast<float>(s);
    bool one = false;
    if (s < 0) f = 0.f, s = 0;
    if (s + 1 >= src) one = true, f = 0.f, s = src - 1;
    t.ofs[d] = s;
    t.one[d] = one;
    t.w[2 * d] = one ? static_cast<int16_t>(kCoefScale) : coef(1.f - f);
    t.w[2 * d + 1] = one ? 0 : coef(f);
  }
  return t;
}

// Vertical taps: cv2 does not clamp fy, it clamps the two source rows into [0, src - 1].
AxisTaps y_taps(int src, int dst) {
  AxisTaps t;
  t.ofs.resize(2 * static_cast<size_t>(dst));
  t.w.resize(2 * static_cast<size_t>(dst));
  const double scale = 1.0 / (static_cast<double>(dst) / src);
  for (int d = 0; d < dst; ++d) {
    float f = static_cast<float>((d + 0.5) * scale - 0.5);
    int s = static_cast<int>(std::floor(f));
    f -= static_cast<float>(s);
    t.ofs[2 * d] = std::min(std::max(s, 0), src - 1);
    t.ofs[2 * d + 1] = std::min(std::max(s + 1, 0), src - 1);
    t.w[2 * d] = coef(1.f - f);
    t.w[2 * d + 1] = coef(f);
  }
  return t;
}

template <int CN>
void hresize_row(const uint8_t* s, const AxisTaps& tx, int dst_w, int32_t* out) {
  for (int d = 0; d < dst_w; ++d) {
    const uint8_t* p = s + static_cast<size_t>(tx.ofs[d]) * CN;
    const int a0 = tx.w[2 * d];
    int32_t* o = out + static_cast<size_t>(d) * CN;
    if (tx.one[d]) {
      for (int c = 0; c < CN; ++c) o[c] = p[c] * a0;
    } else {
      const int a1 = tx.w[2 * d + 1];
      for (int c = 0; c < CN; ++c) o[c] = p[c] * a0 + p[c + CN] * a1;
    }
  }
}

void hresize_row_any(const uint8_t* s, const AxisTaps& tx, int dst_w, int cn, int32_t* out) {
  switch (cn) {
    case 1: hresize_row<1>(s, tx, dst_w, out); break;
    case 2: hresize_row<2>(s, tx, dst_w, out); break;
    case 3: hresize_row<3>(s, tx, dst_w, out); break;
    default: hresize_row<4>(s, tx, dst_w, out); break;
  }
}

void vresize_row(const int32_t* r0, const int32_t* r1, int b0, int b1, int n, uint8_t* out) {
  constexpr int kShift = 2 * kCoefBits;
  constexpr int32_t kRound = 1 << (kShift - 1);
  for (int i = 0; i < n; ++i) {
    int32_t v = (r0[i] * b0 + r1[i] * b1 + kRound) >> kShift;
    out[i] = static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
  }
}

}  // namespace

LetterboxInfo letterbox_info(int src_w, int src_h, int dst_w, int dst_h) {
  if (src_w <= 0 || src_h <= 0 || dst_w <= 0 || dst_h <= 0)
    throw Error("letterbox: invalid sizes " + std::to_string(src_w) + "x" + std::to_string(src_h) +
                " -> " + std::to_string(dst_w) + "x" + std::to_string(dst_h));
  LetterboxInfo li;
  li.src_w = src_w, li.src_h = src_h, li.dst_w = dst_w, li.dst_h = dst_h;
  const double r = std::min(static_cast<double>(dst_h) / src_h, static_cast<double>(dst_w) / src_w);
  li.scale = static_cast<float>(r);
  li.new_w = std::min(dst_w, std::max(1, py_round(src_w * r)));
  li.new_h = std::min(dst_h, std::max(1, py_round(src_h * r)));
  const double dw = (dst_w - li.new_w) / 2.0, dh = (dst_h - li.new_h) / 2.0;
  li.pad_left = py_round(dw - 0.1);
  li.pad_top = py_round(dh - 0.1);
  return li;
}

void resize_linear(const uint8_t* src, int src_w, int src_h, int src_stride, uint8_t* dst, int dst_w,
                   int dst_h, int dst_stride, int cn, ThreadPool* pool) {
  if (src_w <= 0 || src_h <= 0 || dst_w <= 0 || dst_h <= 0 || cn < 1 || cn > 4)
    throw Error("resize_linear: invalid arguments");
  if (src_stride <= 0) src_stride = src_w * cn;
  if (dst_stride <= 0) dst_stride = dst_w * cn;
  const size_t row_bytes = static_cast<size_t>(dst_w) * cn;
  if (src_w == dst_w && src_h == dst_h) {
    for (int y = 0; y < dst_h; ++y)
      std::memcpy(dst + static_cast<size_t>(y) * dst_stride, src + static_cast<size_t>(y) * src_stride, row_bytes);
    return;
  }
  const AxisTaps tx = x_taps(src_w, dst_w);
  const AxisTaps ty = y_taps(src_h, dst_h);
  // Bands of destination rows, one per thread; each caches two horizontally resized source rows
  // (source rows are visited in increasing order within a band).
  const int bands = pool ? std::min(pool->size(), dst_h) : 1;
  std::vector<int32_t> buf(2 * row_bytes * static_cast<size_t>(bands));
  auto band = [&](int64_t b, int) {
    int32_t* rows[2] = {buf.data() + 2 * row_bytes * b, buf.data() + 2 * row_bytes * b + row_bytes};
    int have[2] = {-1, -1};
    auto get_row = [&](int sy, int keep) -> const int32_t* {
      for (int k = 0; k < 2; ++k)
        if (have[k] == sy) return rows[k];
      int slot = (have[0] == keep) ? 1 : 0;
      hresize_row_any(src + static_cast<size_t>(sy) * src_stride, tx, dst_w, cn, rows[slot]);
      have[slot] = sy;
      return rows[slot];
    };
    const int y0 = static_cast<int>(dst_h * b / bands), y1 = static_cast<int>(dst_h * (b + 1) / bands);
    for (int dy = y0; dy < y1; ++dy) {
      const int s0 = ty.ofs[2 * dy], s1 = ty.ofs[2 * dy + 1];
      const int32_t* r0 = get_row(s0, s1);
      const int32_t* r1 = get_row(s1, s0);
      vresize_row(r0, r1, ty.w[2 * dy], ty.w[2 * dy + 1], static_cast<int>(row_bytes),
                  dst + static_cast<size_t>(dy) * dst_stride);
    }
  };
  if (bands > 1) pool->run(bands, band);
  else band(0, 0);
}

void letterbox_rgb(const uint8_t* src_rgb, int src_w, int src_h, int dst_w, int dst_h, uint8_t* dst_rgb,
                   LetterboxInfo* info, ThreadPool* pool) {
  const LetterboxInfo li = letterbox_info(src_w, src_h, dst_w, dst_h);
  if (info) *info = li;
  const size_t stride = static_cast<size_t>(dst_w) * 3;
  // Padding: rows above and below, then the left / right margins of the image rows.
  for (int y = 0; y < dst_h; ++y) {
    uint8_t* row = dst_rgb + y * stride;
    if (y < li.pad_top || y >= li.pad_top + li.new_h) {
      std::memset(row, kPad, stride);
    } else {
      std::memset(row, kPad, static_cast<size_t>(li.pad_left) * 3);
      const int right = li.pad_left + li.new_w;
      std::memset(row + static_cast<size_t>(right) * 3, kPad, static_cast<size_t>(dst_w - right) * 3);
    }
  }
  resize_linear(src_rgb, src_w, src_h, src_w * 3,
                dst_rgb + static_cast<size_t>(li.pad_top) * stride + static_cast<size_t>(li.pad_left) * 3,
                li.new_w, li.new_h, static_cast<int>(stride), 3, pool);
}

void rgb_to_planar_float(const uint8_t* rgb, int w, int h, float* nchw) {
  static const auto lut = [] {
    std::vector<float> t(256);
    for (int i = 0; i < 256; ++i) t[i] = static_cast<float>(i) / 255.0f;
    return t;
  }();
  const size_t plane = static_cast<size_t>(w) * h;
  float* r = nchw;
  float* g = nchw + plane;
  float* b = nchw + 2 * plane;
  const float* t = lut.data();
  for (size_t i = 0; i < plane; ++i) {
    r[i] = t[rgb[3 * i]];
    g[i] = t[rgb[3 * i + 1]];
    b[i] = t[rgb[3 * i + 2]];
  }
}

void unletterbox_box(const LetterboxInfo& info, float box[4]) {
  const float gain = info.scale;
  const float px = static_cast<float>(info.pad_left), py = static_cast<float>(info.pad_top);
  box[0] = (box[0] - px) / gain;
  box[1] = (box[1] - py) / gain;
  box[2] = (box[2] - px) / gain;
  box[3] = (box[3] - py) / gain;
  const float W = static_cast<float>(info.src_w), H = static_cast<float>(info.src_h);
  box[0] = std::min(std::max(box[0], 0.f), W);
  box[2] = std::min(std::max(box[2], 0.f), W);
  box[1] = std::min(std::max(box[1], 0.f), H);
  box[3] = std::min(std::max(box[3], 0.f), H);
}

void letterbox_box(const LetterboxInfo& info, float box[4]) {
  const float gain = info.scale;
  box[0] = box[0] * gain + static_cast<float>(info.pad_left);
  box[1] = box[1] * gain + static_cast<float>(info.pad_top);
  box[2] = box[2] * gain + static_cast<float>(info.pad_left);
  box[3] = box[3] * gain + static_cast<float>(info.pad_top);
}

}  // namespace fx
