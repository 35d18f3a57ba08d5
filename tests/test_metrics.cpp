// Accuracy metrics against a reference run (runtime/post/metrics.h).
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "runtime/error.h"
#include "runtime/post/metrics.h"

using namespace fx;

namespace {
Detection D(int cls, float score, float x1, float y1, float x2, float y2) {
  Detection d;
  d.cls = cls;
  d.score = score;
  d.box[0] = x1;
  d.box[1] = y1;
  d.box[2] = x2;
  d.box[3] = y2;
  return d;
}
Mask M(int w, int h, std::vector<uint8_t> v) {
  Mask m;
  m.width = w;
  m.height = h;
  m.data = std::move(v);
  return m;
}
}  // namespace

TEST_CASE("metrics: box IoU", "[metrics]") {
  const float a[4] = {0, 0, 10, 10}, b[4] = {5, 0, 15, 10}, c[4] = {20, 20, 30, 30}, z[4] = {3, 3, 3, 3};
  CHECK(box_iou(a, a) == 1.0);
  CHECK(box_iou(a, b) == Approx(50.0 / 150.0));
  CHECK(box_iou(a, c) == 0.0);
  CHECK(box_iou(z, z) == 0.0);  // empty union: 0, not NaN
  CHECK(box_iou(D(0, 1, 0, 0, 10, 10), D(0, 1, 0, 0, 10, 5)) == Approx(0.5));
}

TEST_CASE("metrics: one TP, one FP, one FN", "[metrics]") {
  const std::vector<Detection> ref{D(0, 1, 0, 0, 10, 10), D(1, 1, 100, 100, 120, 120)};
  const std::vector<Detection> pred{D(0, 0.9f, 1, 0, 11, 10), D(0, 0.8f, 300, 300, 310, 310)};
  const MatchResult r = match_detections(pred, ref);
  CHECK(r.tp == 1);
  CHECK(r.fp == 1);
  CHECK(r.fn == 1);
  CHECK(r.precision == 0.5);
  CHECK(r.recall == 0.5);
  CHECK(r.f1 == 0.5);  // 2 * 1 / (2 + 1 + 1)
  CHECK(r.mean_iou == Approx(90.0 / 110.0));
  REQUIRE(r.pairs.size() == 1);
  CHECK(r.pairs[0] == std::make_pair(0, 0));
}

TEST_CASE("metrics: F1 with only a FP and a FN is 0", "[metrics]") {
  const MatchResult r = match_detections({D(0, 0.9f, 0, 0, 10, 10)}, {D(0, 1, 50, 50, 60, 60)});
  CHECK(r.tp == 0);
  CHECK(r.fp == 1);
  CHECK(r.fn == 1);
  CHECK(r.f1 == 0.0);
  CHECK(r.precision == 0.0);
  CHECK(r.recall == 0.0);
  CHECK(r.mean_iou == 0.0);
}

TEST_CASE("metrics: class mismatch is not matched unless class-agnostic", "[metrics]") {
  const std::vector<Detection> ref{D(2, 1, 0, 0, 10, 10)};
  const std::vector<Detection> pred{D(3, 0.9f, 0, 0, 10, 10)};
  MatchResult r = match_detections(pred, ref);
  CHECK(r.tp == 0);
  CHECK(r.fp == 1);
  CHECK(r.fn == 1);
  r = match_detections(pred, ref, 0.5f, false);
  CHECK(r.tp == 1);
  CHECK(r.f1 == 1.0);
}

TEST_CASE("metrics: empty lists", "[metrics]") {
  MatchResult r = match_detections({}, {});
  CHECK(r.tp == 0);
  CHECK(r.fp == 0);
  CHECK(r.fn == 0);
  CHECK(r.f1 == 1.0);
  CHECK(r.precision == 1.0);
  CHECK(r.recall == 1.0);
  r = match_detections({}, {D(0, 1, 0, 0, 1, 1)});
  CHECK(r.fn == 1);
  CHECK(r.f1 == 0.0);
  CHECK(r.recall == 0.0);
  CHECK(r.precision == 1.0);
  r = match_detections({D(0, 1, 0, 0, 1, 1)}, {});
  CHECK(r.fp == 1);
  CHECK(r.f1 == 0.0);
  CHECK(r.precision == 0.0);
  CHECK(mask_iou_matched(r, {}, {}) == 1.0);
}

TEST_CASE("metrics: greedy by score, each reference used once, IoU threshold inclusive", "[metrics]") {
  // Two predictions over one reference: the higher score takes it even though the other overlaps more.
  const std::vector<Detection> ref{D(0, 1, 0, 0, 10, 10)};
  const std::vector<Detection> pred{D(0, 0.5f, 0, 0, 10, 10), D(0, 0.9f, 0, 0, 10, 6)};
  MatchResult r = match_detections(pred, ref);
  CHECK(r.tp == 1);
  CHECK(r.fp == 1);
  REQUIRE(r.pairs.size() == 1);
  CHECK(r.pairs[0].first == 1);
  CHECK(r.pair_iou[0] == Approx(0.6));
  // A prediction takes the best-overlapping free reference.
  r = match_detections({D(0, 0.9f, 0, 0, 10, 10)}, {D(0, 1, 0, 0, 10, 7), D(0, 1, 0, 0, 10, 9)});
  REQUIRE(r.pairs.size() == 1);
  CHECK(r.pairs[0].second == 1);
  // IoU exactly at the threshold matches (>=).
  r = match_detections({D(0, 0.9f, 0, 0, 10, 5)}, {D(0, 1, 0, 0, 10, 10)}, 0.5f);
  CHECK(r.tp == 1);
  r = match_detections({D(0, 0.9f, 0, 0, 10, 5)}, {D(0, 1, 0, 0, 10, 10)}, 0.51f);
  CHECK(r.tp == 0);
}

TEST_CASE("metrics: mask IoU over matched pairs and accumulation over frames", "[metrics]") {
  const std::vector<Detection> ref{D(0, 1, 0, 0, 10, 10), D(1, 1, 50, 50, 60, 60)};
  const std::vector<Detection> pred{D(1, 0.7f, 50, 50, 60, 60), D(0, 0.9f, 0, 0, 10, 10)};
  const MatchResult r = match_detections(pred, ref);
  REQUIRE(r.tp == 2);
  const std::vector<Mask> pm{M(2, 2, {1, 1, 0, 0}), M(2, 2, {1, 0, 0, 0})};  // pred 0 (cls 1), pred 1 (cls 0)
  const std::vector<Mask> rm{M(2, 2, {1, 0, 0, 0}), M(2, 2, {1, 1, 1, 1})};  // ref 0 (cls 0), ref 1 (cls 1)
  // pred1<->ref0: IoU 1; pred0<->ref1: 2/4.
  CHECK(mask_iou_matched(r, pm, rm) == Approx(0.75));
  CHECK_THROWS_AS(mask_iou_matched(r, {pm[0]}, rm), fx::Error);

  MatchAccumulator acc;
  acc.add(r, pm, rm);
  acc.add(match_detections({D(0, 0.9f, 0, 0, 10, 10)}, {D(0, 1, 50, 50, 60, 60)}));  // 1 FP, 1 FN
  acc.add(match_detections({}, {}));
  CHECK(acc.frames == 3);
  CHECK(acc.tp == 2);
  CHECK(acc.fp == 1);
  CHECK(acc.fn == 1);
  CHECK(acc.precision() == Approx(2.0 / 3.0));
  CHECK(acc.recall() == Approx(2.0 / 3.0));
  CHECK(acc.f1() == Approx(4.0 / 6.0));
  CHECK(acc.mean_iou() == Approx(1.0));
  CHECK(acc.mean_mask_iou() == Approx(0.75));
  MatchAccumulator empty;
  CHECK(empty.f1() == 1.0);
  CHECK(empty.mean_iou() == 0.0);
}

TEST_CASE("metrics: frames without detections on both sides count as agreement", "[metrics]") {
  MatchAccumulator acc;
  for (int i = 0; i < 5; ++i) acc.add(match_detections({}, {}), {}, {});
  CHECK(acc.frames == 5);
  CHECK(acc.frames_with_either == 0);
  CHECK(acc.f1() == 1.0);
  CHECK(acc.mean_mask_iou() == 1.0);  // nothing to disagree about
  // One side only: F1 and mask IoU drop to 0, and the frame is counted on that side.
  MatchAccumulator one;
  one.add(match_detections({}, {}), {}, {});
  one.add(match_detections({D(0, 0.9f, 0, 0, 10, 10)}, {}), {M(1, 1, {1})}, {});
  CHECK(one.frames_with_either == 1);
  CHECK(one.frames_with_pred == 1);
  CHECK(one.frames_with_ref == 0);
  CHECK(one.f1() == 0.0);
  CHECK(one.mean_mask_iou() == 0.0);
  MatchAccumulator other;
  other.add(match_detections({}, {D(0, 0.9f, 0, 0, 10, 10)}));
  CHECK(other.frames_with_ref == 1);
  CHECK(other.frames_with_pred == 0);
  CHECK(other.f1() == 0.0);
}

TEST_CASE("metrics: mAP50 edge cases (nothing on either side, on one side)", "[metrics]") {
  ApAccumulator none(0.5f, 0.25f);
  none.add({}, {});
  CHECK(none.map() == 1.0);
  // Only low-scored detections of the run (ranked, below the reporting floor): still agreement.
  ApAccumulator low(0.5f, 0.25f);
  low.add({D(0, 0.2f, 0, 0, 10, 10)}, {});
  CHECK(low.map() == 1.0);
  ApAccumulator pred_only(0.5f, 0.25f);
  pred_only.add({D(0, 0.9f, 0, 0, 10, 10)}, {});
  CHECK(pred_only.map() == 0.0);
  ApAccumulator ref_only(0.5f, 0.25f);
  ref_only.add({}, {D(0, 0.9f, 0, 0, 10, 10)});
  CHECK(ref_only.map() == 0.0);
  CHECK_THROWS_AS(ref_only.add({D(-1, 0.9f, 0, 0, 1, 1)}, {}), fx::Error);
}

TEST_CASE("metrics: mAP50 ranks over frames, per class, 101-point envelope", "[metrics]") {
  // Identical lists: 1. A detection the run scores under the reporting threshold but still ranks: the
  // reference's recall is reached, so AP stays 1 where F1 counts a miss.
  ApAccumulator same;
  same.add({D(0, 0.9f, 0, 0, 10, 10), D(1, 0.3f, 20, 20, 30, 30)},
           {D(0, 0.9f, 0, 0, 10, 10), D(1, 0.3f, 20, 20, 30, 30)});
  CHECK(same.map() == 1.0);
  ApAccumulator flip;
  flip.add({D(0, 0.24f, 0, 0, 10, 10)}, {D(0, 0.26f, 0, 0, 10, 10)});
  CHECK(flip.map() == 1.0);
  // Class 0 over two frames: the run scores 0.9 (TP), 0.8 (FP), 0.7 (TP), 0.6 (TP); 4 references, one never
  // found. Precision / recall: (1, 1/4), (1/2, 1/4), (2/3, 1/2), (3/4, 3/4). Envelope: 1 up to recall 1/4,
  // then 3/4 up to 3/4 (the 2/3 at recall 1/2 is lifted by the later 3/4), nothing above:
  // AP = (26 * 1 + 50 * 3/4) / 101 (recall points 0..0.25, 0.26..0.75).
  ApAccumulator a;
  a.add({D(0, 0.9f, 0, 0, 10, 10), D(0, 0.8f, 100, 100, 110, 110)}, {D(0, 1, 0, 0, 10, 10), D(0, 1, 50, 50, 60, 60)});
  a.add({D(0, 0.7f, 0, 0, 10, 10), D(0, 0.6f, 20, 20, 30, 30)}, {D(0, 1, 0, 0, 10, 10), D(0, 1, 20, 20, 30, 30)});
  const double ap0 = (26 * 1.0 + 50 * 0.75) / 101.0;
  CHECK(a.map() == Approx(ap0).epsilon(1e-12));
  // A second class with perfect AP averages in; a class only the run reports does not.
  a.add({D(2, 0.5f, 0, 0, 10, 10), D(5, 0.99f, 200, 200, 210, 210)}, {D(2, 0.5f, 0, 0, 10, 10)});
  CHECK(a.map() == Approx((ap0 + 1.0) / 2).epsilon(1e-12));
  CHECK(a.frames() == 3);
}

TEST_CASE("metrics: ground-truth objects, box IoU and mask IoU (DAVIS annotations)", "[metrics]") {
  const int W = 10, H = 8;
  std::vector<uint8_t> rgb(static_cast<size_t>(W) * H * 3, 0);
  auto put = [&](int x, int y, uint8_t r, uint8_t g, uint8_t b) {
    uint8_t* p = &rgb[(static_cast<size_t>(y) * W + x) * 3];
    p[0] = r, p[1] = g, p[2] = b;
  };
  for (int y = 2; y <= 4; ++y)
    for (int x = 1; x <= 3; ++x) put(x, y, 255, 255, 255);  // object 1: 3x3 at (1,2)
  for (int y = 5; y <= 6; ++y)
    for (int x = 6; x <= 9; ++x) put(x, y, 128, 0, 0);  // object 2: 4x2 at (6,5), a palette colour
  put(0, 0, 100, 100, 100);                             // not foreground (no channel above 127)
  const std::vector<GtObject> objs = gt_objects(rgb.data(), W, H);
  REQUIRE(objs.size() == 2);
  CHECK(objs[0].pixels == 9);
  CHECK((objs[0].box[0] == 1 && objs[0].box[1] == 2 && objs[0].box[2] == 4 && objs[0].box[3] == 5));
  CHECK(objs[1].pixels == 8);
  CHECK((objs[1].box[0] == 6 && objs[1].box[1] == 5 && objs[1].box[2] == 10 && objs[1].box[3] == 7));
  // One detection on object 1 exactly, none on object 2 (any class counts).
  CHECK(gt_box_iou(objs, {D(7, 0.5f, 1, 2, 4, 5)}) == Approx(0.5));
  CHECK(gt_box_iou(objs, {}) == 0.0);
  CHECK(std::isnan(gt_box_iou({}, {D(0, 1, 0, 0, 1, 1)})));
  // Mask IoU: a mask on object 1 (mostly on the foreground) counts, one mostly off it does not.
  Mask on{W, H, std::vector<uint8_t>(static_cast<size_t>(W) * H, 0)}, off = on;
  for (int y = 2; y <= 4; ++y)
    for (int x = 1; x <= 3; ++x) on.data[static_cast<size_t>(y) * W + x] = 1;
  for (int x = 0; x < W; ++x) off.data[x] = 1;  // row 0: background
  CHECK(gt_mask_iou(rgb.data(), W, H, {on, off}) == Approx(9.0 / 17.0));
  CHECK(gt_mask_iou(rgb.data(), W, H, {}) == 0.0);
}
