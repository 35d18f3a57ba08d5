#include "runtime/post/masks.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "runtime/error.h"

namespace fx {

namespace {

// One output coordinate of a linear resize: PyTorch's compute_source_index_and_lambda for
// align_corners=False and no explicit scale (ratio = in / out in float32).
struct Tap {
  int i0, i1;
  float l0, l1;
};

std::vector<Tap> linear_taps(int in, int out) {
  std::vector<Tap> t(static_cast<size_t>(out));
  if (in == out) {
    for (int d = 0; d < out; ++d) t[d] = {d, d, 1.f, 0.f};
    return t;
  }
  const float ratio = static_cast<float>(in) / static_cast<float>(out);
  for (int d = 0; d < out; ++d) {
    float real = ratio * (static_cast<float>(d) + 0.5f) - 0.5f;
    if (real < 0.f) real = 0.f;
    int i0 = std::min(static_cast<int>(std::floor(real)), in - 1);
    float l1 = std::min(std::max(real - static_cast<float>(i0), 0.f), 1.f);
    t[d] = {i0, i0 + (i0 < in - 1 ? 1 : 0), 1.f - l1, l1};
  }
  return t;
}

// The output range [lo, hi) whose taps touch an input index in [a, b); empty (lo == hi) if none.
// Taps are monotonic in the output index.
void tap_range(const std::vector<Tap>& taps, int a, int b, int& lo, int& hi) {
  const int n = static_cast<int>(taps.size());
  auto touches = [&](const Tap& t) { return (t.i0 >= a && t.i0 < b) || (t.i1 >= a && t.i1 < b); };
  lo = hi = 0;
  if (b <= a) return;
  // First output whose i1 >= a (before it, both taps are < a).
  int l = static_cast<int>(std::partition_point(taps.begin(), taps.end(), [&](const Tap& t) { return t.i1 < a; }) -
                           taps.begin());
  // First output whose i0 >= b (from there on, both taps are >= b).
  int h = static_cast<int>(std::partition_point(taps.begin(), taps.end(), [&](const Tap& t) { return t.i0 < b; }) -
                           taps.begin());
  while (l < h && !touches(taps[l])) ++l;
  while (h > l && !touches(taps[h - 1])) --h;
  lo = std::min(l, n);
  hi = std::max(lo, std::min(h, n));
}

// A rectangle of an otherwise-zero binary mask: data is w x h at (x0, y0) of a full_w x full_h plane.
struct Region {
  int x0 = 0, y0 = 0, w = 0, h = 0;
  std::vector<uint8_t> data;
};

// Shared geometry of one frame: protos and the input size fix the upsampling taps.
struct Upsampler {
  Protos p;
  int in_w, in_h;
  float rw, rh;  // proto cells per input pixel, float32 as in Ultralytics (box * (mw / iw))
  std::vector<Tap> tx, ty;
  std::vector<float> cells, rows;  // scratch

  Upsampler(const Protos& protos, int input_w, int input_h)
      : p(protos), in_w(input_w), in_h(input_h),
        rw(static_cast<float>(static_cast<double>(protos.width) / input_w)),
        rh(static_cast<float>(static_cast<double>(protos.height) / input_h)),
        tx(linear_taps(protos.width, input_w)), ty(linear_taps(protos.height, input_h)) {}

  // Steps 1-4 for one detection; the set pixels of the input-space mask all lie inside the returned region.
  Region run(const Detection& d, const MaskOptions& opt) {
    Region out;
    if (static_cast<int>(d.coef.size()) != p.channels)
      throw Error("process_masks: detection has " + std::to_string(d.coef.size()) + " mask coefficients, protos have " +
                  std::to_string(p.channels));
    // Crop in proto cells: keep c with x1 <= c < x2, i.e. c in [ceil(x1), ceil(x2)).
    const float bx1 = d.box[0] * rw, by1 = d.box[1] * rh, bx2 = d.box[2] * rw, by2 = d.box[3] * rh;
    if (!(bx1 == bx1 && by1 == by1 && bx2 == bx2 && by2 == by2)) return out;  // NaN box: empty mask
    auto first_at_least = [](float v, int n) {
      if (!(v > 0.f)) return 0;
      if (v >= static_cast<float>(n)) return n;
      return static_cast<int>(std::ceil(v));
    };
    const int c0 = first_at_least(bx1, p.width), c1 = first_at_least(bx2, p.width);
    const int r0 = first_at_least(by1, p.height), r1 = first_at_least(by2, p.height);
    if (c1 <= c0 || r1 <= r0) return out;

    // Window: the crop plus one cell each side (bilinear reach); cells outside the crop are 0.
    const int wx0 = std::max(0, c0 - 1), wx1 = std::min(p.width, c1 + 1);
    const int wy0 = std::max(0, r0 - 1), wy1 = std::min(p.height, r1 + 1);
    const int ww = wx1 - wx0, wh = wy1 - wy0;
    cells.assign(static_cast<size_t>(ww) * wh, 0.f);
    const size_t plane = static_cast<size_t>(p.width) * p.height;
    const int cw = c1 - c0;
    for (int k = 0; k < p.channels; ++k) {
      const float ck = d.coef[k];
      const float* src = p.data + k * plane;
      for (int r = r0; r < r1; ++r) {
        const float* s = src + static_cast<size_t>(r) * p.width + c0;
        float* dst = &cells[static_cast<size_t>(r - wy0) * ww + (c0 - wx0)];
        for (int c = 0; c < cw; ++c) dst[c] += ck * s[c];
      }
    }
    float thr = 0.f;
    if (opt.sigmoid) {
      thr = 0.5f;
      for (int r = r0; r < r1; ++r) {
        float* dst = &cells[static_cast<size_t>(r - wy0) * ww + (c0 - wx0)];
        for (int c = 0; c < cw; ++c) dst[c] = 1.f / (1.f + std::exp(-dst[c]));
      }
    }

    // Input pixels that can see a cropped cell.
    int xs0, xs1, ys0, ys1;
    tap_range(tx, c0, c1, xs0, xs1);
    tap_range(ty, r0, r1, ys0, ys1);
    if (xs1 <= xs0 || ys1 <= ys0) return out;
    const int ow = xs1 - xs0, oh = ys1 - ys0;
    // Horizontal pass over the window rows, then vertical; same products and sums as PyTorch's
    // h0 * (w0 * v00 + w1 * v01) + h1 * (w0 * v10 + w1 * v11).
    rows.assign(static_cast<size_t>(wh) * ow, 0.f);
    for (int r = 0; r < wh; ++r) {
      const float* cr = &cells[static_cast<size_t>(r) * ww];
      float* hr = &rows[static_cast<size_t>(r) * ow];
      for (int x = 0; x < ow; ++x) {
        const Tap& t = tx[xs0 + x];
        hr[x] = cr[t.i0 - wx0] * t.l0 + cr[t.i1 - wx0] * t.l1;
      }
    }
    out.x0 = xs0;
    out.y0 = ys0;
    out.w = ow;
    out.h = oh;
    out.data.assign(static_cast<size_t>(ow) * oh, 0);
    for (int y = 0; y < oh; ++y) {
      const Tap& t = ty[ys0 + y];
      const float* a = &rows[static_cast<size_t>(t.i0 - wy0) * ow];
      const float* b = &rows[static_cast<size_t>(t.i1 - wy0) * ow];
      uint8_t* o = &out.data[static_cast<size_t>(y) * ow];
      for (int x = 0; x < ow; ++x) o[x] = (a[x] * t.l0 + b[x] * t.l1) > thr ? 1 : 0;
    }
    return out;
  }
};

void check_protos(const Protos& p, int input_w, int input_h) {
  if (!p.data || p.channels <= 0 || p.width <= 0 || p.height <= 0)
    throw Error("process_masks: empty prototype tensor");
  if (input_w <= 0 || input_h <= 0) throw Error("process_masks: input size must be positive");
}

Mask region_to_full(const Region& r, int w, int h) {
  Mask m;
  m.width = w;
  m.height = h;
  m.data.assign(static_cast<size_t>(w) * h, 0);
  for (int y = 0; y < r.h; ++y)
    std::copy(&r.data[static_cast<size_t>(y) * r.w], &r.data[static_cast<size_t>(y) * r.w] + r.w,
              &m.data[static_cast<size_t>(r.y0 + y) * w + r.x0]);
  return m;
}

// Step 5 shared by both paths: region of an input-space mask (zeros elsewhere) -> source mask.
struct SourceMapper {
  int pad_left, pad_top, new_w, new_h, src_w, src_h;
  std::vector<Tap> sx, sy;  // source pixel -> crop coordinates
  std::vector<float> rows, rowbuf;

  SourceMapper(int in_w, int in_h, int pl, int pt, int nw, int nh, int sw, int sh)
      : pad_left(pl), pad_top(pt), new_w(nw), new_h(nh), src_w(sw), src_h(sh) {
    if (sw <= 0 || sh <= 0) throw Error("mask_to_source: source size must be positive");
    if (nw <= 0 || nh <= 0 || pl < 0 || pt < 0 || pl + nw > in_w || pt + nh > in_h)
      throw Error("mask_to_source: letterbox content " + std::to_string(nw) + "x" + std::to_string(nh) + " at (" +
                  std::to_string(pl) + "," + std::to_string(pt) + ") does not fit the " + std::to_string(in_w) + "x" +
                  std::to_string(in_h) + " mask");
    sx = linear_taps(nw, sw);
    sy = linear_taps(nh, sh);
  }

  Mask run(const Region& r) {
    Mask m;
    m.width = src_w;
    m.height = src_h;
    m.data.assign(static_cast<size_t>(src_w) * src_h, 0);
    // The region in crop coordinates, clipped to the crop.
    const int ax0 = std::max(r.x0 - pad_left, 0), ax1 = std::min(r.x0 + r.w - pad_left, new_w);
    const int ay0 = std::max(r.y0 - pad_top, 0), ay1 = std::min(r.y0 + r.h - pad_top, new_h);
    if (ax1 <= ax0 || ay1 <= ay0) return m;
    int xs0, xs1, ys0, ys1;
    tap_range(sx, ax0, ax1, xs0, xs1);
    tap_range(sy, ay0, ay1, ys0, ys1);
    if (xs1 <= xs0 || ys1 <= ys0) return m;
    const int ow = xs1 - xs0;
    // Crop columns [u0, u1) and rows [v0, v1) the taps read (taps are monotonic).
    const int u0 = sx[xs0].i0, u1 = sx[xs1 - 1].i1 + 1;
    const int v0 = sy[ys0].i0, v1 = sy[ys1 - 1].i1 + 1;
    rowbuf.assign(static_cast<size_t>(u1 - u0), 0.f);
    rows.assign(static_cast<size_t>(v1 - v0) * ow, 0.f);
    for (int v = v0; v < v1; ++v) {
      const int y = v + pad_top - r.y0;
      if (y < 0 || y >= r.h) continue;  // outside the region: the row stays 0
      std::fill(rowbuf.begin(), rowbuf.end(), 0.f);
      for (int u = std::max(u0, r.x0 - pad_left); u < std::min(u1, r.x0 + r.w - pad_left); ++u)
        rowbuf[u - u0] = r.data[static_cast<size_t>(y) * r.w + (u + pad_left - r.x0)];
      float* hr = &rows[static_cast<size_t>(v - v0) * ow];
      for (int x = 0; x < ow; ++x) {
        const Tap& t = sx[xs0 + x];
        hr[x] = rowbuf[t.i0 - u0] * t.l0 + rowbuf[t.i1 - u0] * t.l1;
      }
    }
    for (int y = ys0; y < ys1; ++y) {
      const Tap& t = sy[y];
      const float* a = &rows[static_cast<size_t>(t.i0 - v0) * ow];
      const float* b = &rows[static_cast<size_t>(t.i1 - v0) * ow];
      uint8_t* o = &m.data[static_cast<size_t>(y) * src_w + xs0];
      for (int x = 0; x < ow; ++x) o[x] = (a[x] * t.l0 + b[x] * t.l1) > 0.5f ? 1 : 0;
    }
    return m;
  }
};

// Ultralytics LetterBox: new_unpad = round(src * r) with Python's round (half to even).
int letterbox_extent(int src, float scale, int limit) {
  const int v = static_cast<int>(std::nearbyint(static_cast<double>(src) * static_cast<double>(scale)));
  return std::min(limit, std::max(1, v));
}

}  // namespace

std::vector<Mask> process_masks(const std::vector<Detection>& dets, const Protos& protos, int input_w, int input_h,
                                const MaskOptions& opt) {
  check_protos(protos, input_w, input_h);
  Upsampler up(protos, input_w, input_h);
  std::vector<Mask> out;
  out.reserve(dets.size());
  for (const Detection& d : dets) out.push_back(region_to_full(up.run(d, opt), input_w, input_h));
  return out;
}

Mask mask_to_source(const Mask& m, int pad_left, int pad_top, int new_w, int new_h, int src_w, int src_h) {
  if (static_cast<size_t>(m.width) * static_cast<size_t>(std::max(m.height, 0)) != m.data.size() || m.width < 0)
    throw Error("mask_to_source: mask data does not match its size");
  SourceMapper map(m.width, m.height, pad_left, pad_top, new_w, new_h, src_w, src_h);
  // Bounding box of the set pixels, so only the reachable source pixels are computed.
  int x0 = m.width, x1 = 0, y0 = m.height, y1 = 0;
  for (int y = 0; y < m.height; ++y) {
    const uint8_t* row = &m.data[static_cast<size_t>(y) * m.width];
    for (int x = 0; x < m.width; ++x)
      if (row[x]) {
        x0 = std::min(x0, x);
        x1 = std::max(x1, x + 1);
        y0 = std::min(y0, y);
        y1 = y + 1;
      }
  }
  Region r;
  if (x1 > x0 && y1 > y0) {
    r.x0 = x0;
    r.y0 = y0;
    r.w = x1 - x0;
    r.h = y1 - y0;
    r.data.resize(static_cast<size_t>(r.w) * r.h);
    for (int y = 0; y < r.h; ++y)
      for (int x = 0; x < r.w; ++x)
        r.data[static_cast<size_t>(y) * r.w + x] = m.data[static_cast<size_t>(y0 + y) * m.width + x0 + x] ? 1 : 0;
  }
  return map.run(r);
}

Mask mask_to_source(const Mask& m, float scale, int pad_left, int pad_top, int src_w, int src_h) {
  if (!(scale > 0.f)) throw Error("mask_to_source: letterbox scale must be positive");
  return mask_to_source(m, pad_left, pad_top, letterbox_extent(src_w, scale, m.width),
                        letterbox_extent(src_h, scale, m.height), src_w, src_h);
}

std::vector<Mask> process_masks_to_source(const std::vector<Detection>& dets, const Protos& protos, int input_w,
                                          int input_h, int pad_left, int pad_top, int new_w, int new_h, int src_w,
                                          int src_h, const MaskOptions& opt) {
  check_protos(protos, input_w, input_h);
  Upsampler up(protos, input_w, input_h);
  SourceMapper map(input_w, input_h, pad_left, pad_top, new_w, new_h, src_w, src_h);
  std::vector<Mask> out;
  out.reserve(dets.size());
  for (const Detection& d : dets) out.push_back(map.run(up.run(d, opt)));
  return out;
}

std::vector<Mask> process_masks_to_source(const std::vector<Detection>& dets, const Protos& protos, int input_w,
                                          int input_h, float scale, int pad_left, int pad_top, int src_w, int src_h,
                                          const MaskOptions& opt) {
  if (!(scale > 0.f)) throw Error("process_masks_to_source: letterbox scale must be positive");
  return process_masks_to_source(dets, protos, input_w, input_h, pad_left, pad_top,
                                 letterbox_extent(src_w, scale, input_w), letterbox_extent(src_h, scale, input_h),
                                 src_w, src_h, opt);
}

void resize_bilinear(const float* src, int src_w, int src_h, float* dst, int dst_w, int dst_h) {
  if (src_w <= 0 || src_h <= 0 || dst_w <= 0 || dst_h <= 0) throw Error("resize_bilinear: sizes must be positive");
  const std::vector<Tap> tx = linear_taps(src_w, dst_w), ty = linear_taps(src_h, dst_h);
  for (int y = 0; y < dst_h; ++y) {
    const Tap& v = ty[y];
    const float* a = src + static_cast<size_t>(v.i0) * src_w;
    const float* b = src + static_cast<size_t>(v.i1) * src_w;
    float* o = dst + static_cast<size_t>(y) * dst_w;
    for (int x = 0; x < dst_w; ++x) {
      const Tap& t = tx[x];
      const float ha = a[t.i0] * t.l0 + a[t.i1] * t.l1;
      const float hb = b[t.i0] * t.l0 + b[t.i1] * t.l1;
      o[x] = ha * v.l0 + hb * v.l1;
    }
  }
}

int64_t mask_area(const Mask& m) {
  int64_t n = 0;
  for (uint8_t v : m.data) n += v != 0;
  return n;
}

double mask_iou(const Mask& a, const Mask& b) {
  if (a.width != b.width || a.height != b.height || a.data.size() != b.data.size())
    throw Error("mask_iou: masks differ in size (" + std::to_string(a.width) + "x" + std::to_string(a.height) +
                " vs " + std::to_string(b.width) + "x" + std::to_string(b.height) + ")");
  int64_t inter = 0, uni = 0;
  for (size_t i = 0; i < a.data.size(); ++i) {
    const bool x = a.data[i] != 0, y = b.data[i] != 0;
    inter += x && y;
    uni += x || y;
  }
  return uni == 0 ? 1.0 : static_cast<double>(inter) / static_cast<double>(uni);
}

}  // namespace fx
