// Accuracy metrics against a reference run (runtime/post/metrics.h).
#include <catch2/catch.hpp>

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
