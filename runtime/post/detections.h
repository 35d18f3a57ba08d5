// Decoding of raw YOLO11 detect / segment output0 into detections: Ultralytics' non_max_suppression with
// multi_label=False, reproduced in C++.
//
// output0 is [1, 4 + nc + nm, A] float32, row-major: the value of row r for anchor a is out0[r * A + a].
// Rows 0..3 are cx, cy, w, h in letterboxed input pixels, rows 4..4+nc-1 the (already sigmoid'ed) class
// scores, the last nm rows (segment models, nm = 32) the mask coefficients.
//
// Steps (ultralytics/utils/ops.py non_max_suppression):
//  1. best class per anchor: the first class with the maximum score (torch.max's tie rule);
//  2. candidates: anchors whose best score > conf (strictly: a score equal to conf is rejected);
//  3. boxes xywh -> xyxy (x1 = cx - w / 2, ...);
//  4. order by score descending, ties by anchor index ascending (our documented rule), keep max_nms;
//  5. class-wise greedy NMS (see nms.h: suppression iff same class and IoU > iou), at most max_det kept,
//     returned best first.
// Boxes stay in letterboxed input coordinates; scale_boxes_to_source maps them to the source image.
#pragma once

#include <cstdint>
#include <vector>

namespace fx {

struct Detection {
  int cls = 0;
  float score = 0.f;
  float box[4] = {0.f, 0.f, 0.f, 0.f};  // x1, y1, x2, y2
  std::vector<float> coef;                // mask coefficients (segment models only)
  int anchor = -1;                        // column of output0 it came from (-1 when not decoded)
};

struct DecodeOptions {
  float conf = 0.25f;     // candidates: best class score > conf
  float iou = 0.7f;       // suppression: same class and IoU > iou
  int max_det = 300;      // at most this many detections (<= 0: no cap)
  int max_nms = 30000;    // at most this many candidates enter NMS, the best by score (<= 0: no cap)
  bool agnostic = false;  // suppress across classes
};

// rows must be 4 + num_classes + num_mask_coef; throws fx::Error otherwise (or on anchors <= 0).
std::vector<Detection> decode_detections(const float* out0, int rows, int anchors, int num_classes,
                                         int num_mask_coef, const DecodeOptions& opt);

// Letterboxed input coordinates -> source pixels: x = (x - pad_left) / scale clipped to [0, src_w],
// y = (y - pad_top) / scale clipped to [0, src_h] (Ultralytics scale_boxes + clip_boxes).
void box_to_source(float box[4], float scale, int pad_left, int pad_top, int src_w, int src_h);
void scale_boxes_to_source(std::vector<Detection>& dets, float scale, int pad_left, int pad_top, int src_w,
                           int src_h);

}  // namespace fx
