// Accuracy of a run against a reference (dense inference): greedy box matching, precision / recall / F1,
// IoU of matched boxes and masks, and sums over frames.
#pragma once

#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "runtime/post/detections.h"
#include "runtime/post/masks.h"

namespace fx {

// IoU of two x1,y1,x2,y2 boxes, in double; 0 when the union is empty (unlike the NMS IoU, which gives NaN).
double box_iou(const float* a, const float* b);
inline double box_iou(const Detection& a, const Detection& b) { return box_iou(a.box, b.box); }

struct MatchResult {
  int tp = 0, fp = 0, fn = 0;
  double precision = 1.0;  // tp / (tp + fp); 1 when there are no predictions
  double recall = 1.0;     // tp / (tp + fn); 1 when there are no references
  double f1 = 1.0;         // 2 tp / (2 tp + fp + fn); 1 when both lists are empty
  double mean_iou = 0.0;   // mean box IoU over matched pairs; 0 when nothing matched
  std::vector<std::pair<int, int>> pairs;  // (pred index, ref index) of each match, in matching order
  std::vector<double> pair_iou;            // box IoU of each pair
};

// Greedy matching: predictions in score order (descending; ties by index), each takes the still unmatched
// reference (of the same class when class_aware) with the highest IoU, if that IoU >= iou_thr (ties: the
// lower reference index). Each reference is matched at most once.
MatchResult match_detections(const std::vector<Detection>& pred, const std::vector<Detection>& ref,
                             float iou_thr = 0.5f, bool class_aware = true);

// Mean mask IoU over the matched pairs of m (masks indexed like the detections given to match_detections).
// Returns 1 when there are no pairs and both mask lists are empty, 0 when there are no pairs otherwise.
// Throws fx::Error when a pair's index is outside its list or a pair's masks differ in size.
double mask_iou_matched(const MatchResult& m, const std::vector<Mask>& pred_masks, const std::vector<Mask>& ref_masks);

// Sums over frames.
struct MatchAccumulator {
  int64_t frames = 0;
  int64_t tp = 0, fp = 0, fn = 0;
  double iou_sum = 0.0;       // box IoU summed over matched pairs (count: tp)
  double mask_iou_sum = 0.0;  // mask IoU summed over matched pairs
  int64_t mask_pairs = 0;

  void add(const MatchResult& m);
  // Adds m and the mask IoU of each of its pairs.
  void add(const MatchResult& m, const std::vector<Mask>& pred_masks, const std::vector<Mask>& ref_masks);

  double precision() const;  // as in MatchResult, over the summed counts
  double recall() const;
  double f1() const;
  double mean_iou() const;       // 0 when nothing matched
  double mean_mask_iou() const;  // 0 when no mask pairs
};

// Average precision at one IoU threshold (mAP50 at 0.5), against reference detections taken as ground
// truth: per frame, predictions are matched as match_detections does (class-aware, by score); per class,
// AP is the area under the precision-recall curve with precision made non-increasing (all-point
// interpolation, as VOC 2010+ and COCO); mAP is the mean over the classes the references contain.
class ApAccumulator {
 public:
  explicit ApAccumulator(float iou_thr = 0.5f) : iou_thr_(iou_thr) {}
  void add(const std::vector<Detection>& pred, const std::vector<Detection>& ref);
  // NaN when the references hold no object at all.
  double map() const;
  double ap(int cls) const;  // NaN for a class the references do not contain

 private:
  struct Scored {
    float score;
    bool tp;
  };
  float iou_thr_;
  std::map<int, std::vector<Scored>> preds_;
  std::map<int, int64_t> refs_;
};

// Ground truth as DAVIS gives it: an annotation image (packed RGB, the frame's size) whose foreground is
// any pixel with a channel above 127; each distinct foreground colour is one object (DAVIS 2016: one,
// white; DAVIS 2017 palettes: one colour per object).
struct GtObject {
  float box[4] = {0, 0, 0, 0};  // x1, y1, x2, y2 (pixel edges: x2 = last column + 1)
  int64_t pixels = 0;
};
std::vector<GtObject> gt_objects(const uint8_t* rgb, int width, int height);

// IoU of the ground-truth foreground with the union of the predicted instance masks that lie mostly on it
// (more than half of their area): DAVIS single-object evaluation of an instance segmenter. Masks of
// another size are ignored; 1 when both are empty.
double gt_mask_iou(const uint8_t* rgb, int width, int height, const std::vector<Mask>& masks);

// Mean over the ground-truth objects of the best box IoU any detection reaches with the object's box
// (any class: the detector is scored on finding the object, not on naming it). NaN without objects.
double gt_box_iou(const std::vector<GtObject>& objects, const std::vector<Detection>& dets);

}  // namespace fx
