#include "runtime/post/nms.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_map>

#include "runtime/error.h"

namespace fx {

std::vector<int> order_by_score(const float* scores, int n) {
  std::vector<int> idx(static_cast<size_t>(n > 0 ? n : 0));
  std::iota(idx.begin(), idx.end(), 0);
  std::sort(idx.begin(), idx.end(), [scores](int a, int b) {
    const float sa = scores[a], sb = scores[b];
    const bool na = std::isnan(sa), nb = std::isnan(sb);
    if (na != nb) return nb;  // non-NaN before NaN
    if (!na && sa != sb) return sa > sb;
    return a < b;
  });
  return idx;
}

std::vector<int> nms_ordered(const float* boxes, const int* classes, const int* order, int n, float iou_thr,
                             int max_det) {
  std::vector<int> kept;
  if (n <= 0) return kept;
  const size_t cap = max_det > 0 ? static_cast<size_t>(max_det) : static_cast<size_t>(n);
  kept.reserve(std::min(cap, static_cast<size_t>(n)));
  // Greedy NMS: a box is suppressed iff a *kept* box earlier in the order (same class) overlaps it with
  // IoU > thr. Checking each box against the kept boxes of its class is equivalent to torchvision's
  // "kept box suppresses all later boxes" loop, and lets us stop as soon as max_det boxes are kept.
  // Per class we keep the kept boxes' coordinates contiguously.
  std::unordered_map<int, std::vector<float>> by_class;
  std::vector<float> agnostic;
  for (int k = 0; k < n && kept.size() < cap; ++k) {
    const int i = order[k];
    const float* b = boxes + 4 * static_cast<size_t>(i);
    std::vector<float>& list = classes ? by_class[classes[i]] : agnostic;
    bool suppressed = false;
    for (size_t j = 0; j < list.size(); j += 4) {
      if (iou_xyxy(list.data() + j, b) > iou_thr) {
        suppressed = true;
        break;
      }
    }
    if (suppressed) continue;
    kept.push_back(i);
    list.insert(list.end(), b, b + 4);
  }
  return kept;
}

std::vector<int> nms(const float* boxes, const float* scores, const int* classes, int n, float iou_thr,
                     int max_det) {
  if (n < 0) throw Error("nms: negative box count");
  const std::vector<int> order = order_by_score(scores, n);
  return nms_ordered(boxes, classes, order.data(), n, iou_thr, max_det);
}

}  // namespace fx
