#include "runtime/post/detections.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "runtime/error.h"
#include "runtime/post/nms.h"

namespace fx {

namespace {

// One class row: per-anchor running maximum / argmax / NaN flag. Branch-free and alias-free so the compiler
// vectorises it (the whole 8400 x 80 scan is then memory-bound).
void scan_class_row(const float* __restrict row, int c, size_t n, float* __restrict best, int* __restrict arg,
                    int* __restrict nan_seen) {
  for (size_t a = 0; a < n; ++a) {
    const float v = row[a], m = best[a];
    const int gt = -static_cast<int>(v > m);  // all ones where v is the new maximum (written as a mask so
    best[a] = v > m ? v : m;                   // GCC if-converts and vectorises it)
    arg[a] = (arg[a] & ~gt) | (c & gt);
    nan_seen[a] |= v != v;
  }
}

}  // namespace

std::vector<Detection> decode_detections(const float* out0, int rows, int anchors, int num_classes,
                                         int num_mask_coef, const DecodeOptions& opt) {
  if (num_classes <= 0 || num_mask_coef < 0)
    throw Error("decode_detections: bad class/mask counts " + std::to_string(num_classes) + "/" +
                std::to_string(num_mask_coef));
  if (rows != 4 + num_classes + num_mask_coef)
    throw Error("decode_detections: output has " + std::to_string(rows) + " rows, expected 4 + " +
                std::to_string(num_classes) + " classes + " + std::to_string(num_mask_coef) + " mask coefficients");
  if (anchors <= 0) throw Error("decode_detections: no anchors");
  if (!out0) throw Error("decode_detections: null output");

  const size_t A = static_cast<size_t>(anchors);
  // 1. Best class per anchor, scanning each class row contiguously. The first maximum wins (strict >),
  //    and a NaN score sticks (torch.max propagates NaN), so such an anchor is never a candidate.
  std::vector<float> best(out0 + 4 * A, out0 + 5 * A);
  std::vector<int> arg(A, 0);
  float* bp = best.data();
  int* ap = arg.data();
  std::vector<int> nan_seen(A, 0);
  int* np = nan_seen.data();
  for (size_t a = 0; a < A; ++a) np[a] = bp[a] != bp[a];
  for (int c = 1; c < num_classes; ++c) scan_class_row(out0 + (4 + static_cast<size_t>(c)) * A, c, A, bp, ap, np);
  for (size_t a = 0; a < A; ++a)
    if (np[a]) bp[a] = std::numeric_limits<float>::quiet_NaN();

  // 2./3. Candidates (score > conf, strictly) with their xyxy boxes.
  std::vector<int> cand;
  for (size_t a = 0; a < A; ++a)
    if (bp[a] > opt.conf) cand.push_back(static_cast<int>(a));
  const int n = static_cast<int>(cand.size());
  std::vector<float> scores(cand.size()), boxes(4 * cand.size());
  std::vector<int> classes(cand.size());
  for (int k = 0; k < n; ++k) {
    const size_t a = static_cast<size_t>(cand[k]);
    const float cx = out0[a], cy = out0[A + a], w = out0[2 * A + a], h = out0[3 * A + a];
    const float hw = w / 2, hh = h / 2;
    float* b = &boxes[4 * static_cast<size_t>(k)];
    b[0] = cx - hw;
    b[1] = cy - hh;
    b[2] = cx + hw;
    b[3] = cy + hh;
    scores[k] = bp[a];
    classes[k] = ap[a];
  }

  // 4. Order (score desc, anchor asc: candidates are in anchor order, so index order is anchor order),
  //    keep max_nms. 5. Class-wise NMS with the max_det cap.
  std::vector<int> order = order_by_score(scores.data(), n);
  if (opt.max_nms > 0 && static_cast<int>(order.size()) > opt.max_nms) order.resize(opt.max_nms);
  const std::vector<int> kept = nms_ordered(boxes.data(), opt.agnostic ? nullptr : classes.data(), order.data(),
                                            static_cast<int>(order.size()), opt.iou, opt.max_det);

  std::vector<Detection> out;
  out.reserve(kept.size());
  const float* coef_base = out0 + (4 + static_cast<size_t>(num_classes)) * A;
  for (int k : kept) {
    Detection d;
    d.cls = classes[k];
    d.score = scores[k];
    std::copy(&boxes[4 * static_cast<size_t>(k)], &boxes[4 * static_cast<size_t>(k)] + 4, d.box);
    d.anchor = cand[k];
    if (num_mask_coef > 0) {
      d.coef.resize(static_cast<size_t>(num_mask_coef));
      for (int m = 0; m < num_mask_coef; ++m) d.coef[m] = coef_base[static_cast<size_t>(m) * A + d.anchor];
    }
    out.push_back(std::move(d));
  }
  return out;
}

static inline float clampf(float v, float lo, float hi) {
  // NaN stays NaN (like torch.clamp).
  return v < lo ? lo : (v > hi ? hi : v);
}

void box_to_source(float box[4], float scale, int pad_left, int pad_top, int src_w, int src_h) {
  if (!(scale > 0.f)) throw Error("box_to_source: letterbox scale must be positive");
  box[0] = clampf((box[0] - static_cast<float>(pad_left)) / scale, 0.f, static_cast<float>(src_w));
  box[1] = clampf((box[1] - static_cast<float>(pad_top)) / scale, 0.f, static_cast<float>(src_h));
  box[2] = clampf((box[2] - static_cast<float>(pad_left)) / scale, 0.f, static_cast<float>(src_w));
  box[3] = clampf((box[3] - static_cast<float>(pad_top)) / scale, 0.f, static_cast<float>(src_h));
}

void scale_boxes_to_source(std::vector<Detection>& dets, float scale, int pad_left, int pad_top, int src_w,
                           int src_h) {
  for (Detection& d : dets) box_to_source(d.box, scale, pad_left, pad_top, src_w, src_h);
}

}  // namespace fx
