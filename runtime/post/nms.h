// Greedy non-maximum suppression with torchvision.ops.nms semantics (the NMS Ultralytics calls).
//
// Rules, all tested in tests/test_nms.cpp:
//  - boxes are x1,y1,x2,y2; IoU is computed in float32 exactly as torchvision's CPU kernel does
//    (inter / (area_a + area_b - inter)); a box is suppressed when IoU > iou_thr (strictly greater), so
//    IoU == iou_thr survives; a NaN IoU (degenerate zero-area boxes) never suppresses;
//  - processing order is score descending; on equal scores the lower input index comes first (a stable
//    sort). torchvision does not specify an order for ties; this is our rule, and it is deterministic;
//  - class-aware: a box is only suppressed by a kept box of the same class. Ultralytics gets this by
//    offsetting boxes by cls * 7680 and running one NMS; we compare within a class on the un-offset
//    coordinates (the offset only adds float rounding, at most a few ulp of 7680 * cls);
//  - the result is the kept indices in processing order (score descending), at most max_det of them.
#pragma once

#include <cstdint>
#include <vector>

namespace fx {

// IoU of two x1,y1,x2,y2 boxes with torchvision's float formula. Returns NaN for two empty boxes (0/0),
// which compares false against any threshold.
inline float iou_xyxy(const float* a, const float* b) {
  const float area_a = (a[2] - a[0]) * (a[3] - a[1]);
  const float area_b = (b[2] - b[0]) * (b[3] - b[1]);
  const float xx1 = a[0] > b[0] ? a[0] : b[0];
  const float yy1 = a[1] > b[1] ? a[1] : b[1];
  const float xx2 = a[2] < b[2] ? a[2] : b[2];
  const float yy2 = a[3] < b[3] ? a[3] : b[3];
  float w = xx2 - xx1, h = yy2 - yy1;
  if (!(w > 0.f)) w = 0.f;
  if (!(h > 0.f)) h = 0.f;
  const float inter = w * h;
  return inter / (area_a + area_b - inter);
}

// Indices 0..n-1 ordered by score descending, ties by index ascending. NaN scores go last.
std::vector<int> order_by_score(const float* scores, int n);

// NMS over n boxes (boxes[4*i .. 4*i+3]). classes may be null (class-agnostic: everything is one class).
// max_det <= 0 means no cap. Returns kept indices, best first.
std::vector<int> nms(const float* boxes, const float* scores, const int* classes, int n, float iou_thr,
                     int max_det);

// The same with the processing order given: order[0..n-1] are box indices, best first (as from
// order_by_score). Returns the kept box indices in that order.
std::vector<int> nms_ordered(const float* boxes, const int* classes, const int* order, int n, float iou_thr,
                             int max_det);

}  // namespace fx
