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
  int64_t frames_with_pred = 0;    // frames where the run had a detection
  int64_t frames_with_ref = 0;     // frames where the reference had one
  int64_t frames_with_either = 0;  // frames where either side had one (the frames F1 is measured on)
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
  // Mean mask IoU of the matched pairs; 0 when nothing matched while either side had a detection, 1 when
  // neither side ever had one (nothing to disagree about, as F1).
  double mean_mask_iou() const;
};

// Mean average precision at one IoU threshold of a run's detections against reference detections (dense
// inference), over the frames added: per class, the run's detections of every frame ranked by score,
// each a true positive when match_detections (class-aware, greedy in score order within its frame) pairs
// it with a reference; AP is the area under the precision envelope sampled at the 101 recall points
// 0, 0.01, .., 1 (COCO); mAP the mean over the classes that have a reference detection (a class only the
// run reports costs the precision of no class, as in COCO). Without any reference detection: 1 when the
// run reported nothing above `score_floor` either, else 0.
// The run's list may go below the reference's score threshold: a detection the run scores just under it
// while the reference scores just over then still counts, ranked low (F1 at one threshold counts it as
// a miss and a false positive).
class ApAccumulator {
 public:
  explicit ApAccumulator(float iou_thr = 0.5f, float score_floor = 0.f) : iou_thr_(iou_thr), floor_(score_floor) {}
  void add(const std::vector<Detection>& pred, const std::vector<Detection>& ref);
  double map() const;
  int64_t frames() const { return frames_; }

 private:
  struct Scored {
    float score;
    bool tp;
  };
  float iou_thr_, floor_;
  int64_t frames_ = 0, preds_above_floor_ = 0;
  std::vector<std::vector<Scored>> by_class_;  // indexed by class
  std::vector<int64_t> refs_;                  // reference detections per class
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
