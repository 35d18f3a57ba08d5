// Decoding + NMS (runtime/post/detections.h, nms.h): hand-built cases for every rule of Ultralytics'
// non_max_suppression, and a plain O(n^2) reference on random outputs.
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
#include <vector>

#include "runtime/error.h"
#include "runtime/post/detections.h"
#include "runtime/post/nms.h"

using namespace fx;

namespace {

struct Anchor {
  float cx, cy, w, h;
  std::vector<float> scores;
  std::vector<float> coef;
};

// Builds output0 [4 + nc + nm, A] (row r of anchor a at r * A + a).
std::vector<float> make_out0(const std::vector<Anchor>& anchors, int nc, int nm) {
  const size_t A = anchors.size();
  std::vector<float> out((4 + nc + nm) * A, 0.f);
  for (size_t a = 0; a < A; ++a) {
    const Anchor& an = anchors[a];
    out[0 * A + a] = an.cx;
    out[1 * A + a] = an.cy;
    out[2 * A + a] = an.w;
    out[3 * A + a] = an.h;
    for (int c = 0; c < nc; ++c) out[(4 + c) * A + a] = c < (int)an.scores.size() ? an.scores[c] : 0.f;
    for (int m = 0; m < nm; ++m) out[(4 + nc + m) * A + a] = m < (int)an.coef.size() ? an.coef[m] : 0.f;
  }
  return out;
}

// A box given as x1,y1,x2,y2 with one class score.
Anchor box_anchor(float x1, float y1, float x2, float y2, int cls, float score, int nc = 3) {
  Anchor a{(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1, std::vector<float>(nc, 0.01f), {}};
  a.scores[cls] = score;
  return a;
}

std::vector<Detection> run(const std::vector<Anchor>& anchors, const DecodeOptions& opt, int nc = 3, int nm = 0) {
  const std::vector<float> out = make_out0(anchors, nc, nm);
  return decode_detections(out.data(), 4 + nc + nm, (int)anchors.size(), nc, nm, opt);
}

std::vector<int> anchors_of(const std::vector<Detection>& d) {
  std::vector<int> v;
  for (const auto& x : d) v.push_back(x.anchor);
  return v;
}

}  // namespace

TEST_CASE("nms: same-class overlap suppressed strictly above the IoU threshold", "[nms]") {
  DecodeOptions opt;
  opt.iou = 0.7f;
  // IoU of [0,100]^2 and the same box shifted by d: (100 - d) / (100 + d).
  SECTION("IoU 0.709 > 0.7: suppressed") {
    auto d = run({box_anchor(0, 0, 100, 100, 1, 0.9f), box_anchor(17, 0, 117, 100, 1, 0.8f)}, opt);
    REQUIRE(anchors_of(d) == std::vector<int>{0});
  }
  SECTION("IoU 0.695 < 0.7: kept") {
    auto d = run({box_anchor(0, 0, 100, 100, 1, 0.9f), box_anchor(18, 0, 118, 100, 1, 0.8f)}, opt);
    REQUIRE(anchors_of(d) == std::vector<int>{0, 1});
  }
  SECTION("IoU exactly equal to the threshold is kept (torchvision: IoU > thr suppresses)") {
    opt.iou = 0.5f;  // [0,0,100,100] vs [0,0,50,100]: 5000 / 10000 = 0.5 exactly
    auto d = run({box_anchor(0, 0, 100, 100, 1, 0.9f), box_anchor(0, 0, 50, 100, 1, 0.8f)}, opt);
    REQUIRE(anchors_of(d) == std::vector<int>{0, 1});
    opt.iou = 0.49f;
    d = run({box_anchor(0, 0, 100, 100, 1, 0.9f), box_anchor(0, 0, 50, 100, 1, 0.8f)}, opt);
    REQUIRE(anchors_of(d) == std::vector<int>{0});
  }
  SECTION("the lower-scored box is the one suppressed, whatever the anchor order") {
    auto d = run({box_anchor(17, 0, 117, 100, 1, 0.6f), box_anchor(0, 0, 100, 100, 1, 0.95f)}, opt);
    REQUIRE(anchors_of(d) == std::vector<int>{1});
  }
  SECTION("suppression comes only from kept boxes (chain A > B > C, C survives)") {
    // A-B IoU 0.709 (B suppressed), B-C 0.709, A-C IoU (100-34)/(134) = 0.49: C kept since B is gone.
    auto d = run({box_anchor(0, 0, 100, 100, 0, 0.9f), box_anchor(17, 0, 117, 100, 0, 0.8f),
                  box_anchor(34, 0, 134, 100, 0, 0.7f)},
                 opt);
    REQUIRE(anchors_of(d) == std::vector<int>{0, 2});
  }
}

TEST_CASE("nms: different classes are not suppressed unless agnostic", "[nms]") {
  DecodeOptions opt;
  std::vector<Anchor> a{box_anchor(0, 0, 100, 100, 0, 0.9f), box_anchor(0, 0, 100, 100, 2, 0.8f)};
  auto d = run(a, opt);
  REQUIRE(d.size() == 2);
  CHECK(d[0].cls == 0);
  CHECK(d[1].cls == 2);
  opt.agnostic = true;
  d = run(a, opt);
  REQUIRE(anchors_of(d) == std::vector<int>{0});
}

TEST_CASE("nms: confidence threshold is strict", "[nms]") {
  DecodeOptions opt;
  opt.conf = 0.25f;
  auto d = run({box_anchor(0, 0, 10, 10, 0, 0.25f), box_anchor(50, 50, 60, 60, 0, std::nextafter(0.25f, 1.f)),
                box_anchor(100, 100, 110, 110, 1, 0.2f)},
               opt);
  REQUIRE(anchors_of(d) == std::vector<int>{1});
}

TEST_CASE("nms: best class only, first maximum wins", "[nms]") {
  DecodeOptions opt;
  Anchor a{50, 50, 20, 20, {0.3f, 0.9f, 0.9f}, {}};
  Anchor b{200, 200, 20, 20, {0.6f, 0.5f, 0.4f}, {}};
  auto d = run({a, b}, opt);
  REQUIRE(d.size() == 2);
  CHECK(d[0].cls == 1);
  CHECK(d[0].score == 0.9f);
  CHECK(d[1].cls == 0);
  CHECK(d[1].score == 0.6f);
  // The second-best class of an anchor is not a detection (multi_label False): a class-2 box that would
  // survive on its own is not produced.
  for (const auto& x : d) CHECK(x.cls != 2);
  // A NaN score makes the anchor's maximum NaN (torch.max propagates it): never a candidate.
  Anchor n{300, 300, 20, 20, {0.9f, std::nanf(""), 0.1f}, {}};
  d = run({n}, opt);
  CHECK(d.empty());
}

TEST_CASE("nms: max_det keeps the best-scored boxes", "[nms]") {
  std::vector<Anchor> a;
  for (int i = 0; i < 10; ++i)
    a.push_back(box_anchor(i * 50.f, 0, i * 50.f + 40, 40, 0, 0.3f + 0.05f * ((i * 7) % 10)));
  DecodeOptions opt;
  opt.max_det = 3;
  auto d = run(a, opt);
  REQUIRE(d.size() == 3);
  // scores 0.3 + 0.05 * ((7i) % 10): the three best are i with (7i)%10 = 9, 8, 7 -> i = 7, 4, 1
  CHECK(anchors_of(d) == std::vector<int>{7, 4, 1});
  opt.max_det = 300;
  d = run(a, opt);
  REQUIRE(d.size() == 10);
  for (size_t i = 1; i < d.size(); ++i) CHECK(d[i - 1].score >= d[i].score);
}

TEST_CASE("nms: max_nms keeps only the best candidates", "[nms]") {
  DecodeOptions opt;
  opt.max_nms = 2;
  auto d = run({box_anchor(0, 0, 10, 10, 0, 0.5f), box_anchor(100, 0, 110, 10, 0, 0.9f),
                box_anchor(200, 0, 210, 10, 0, 0.8f)},
               opt);
  REQUIRE(anchors_of(d) == std::vector<int>{1, 2});
}

TEST_CASE("nms: equal scores are ordered by anchor index", "[nms]") {
  DecodeOptions opt;
  // Non-overlapping: output order is by anchor index.
  auto d = run({box_anchor(300, 0, 340, 40, 0, 0.5f), box_anchor(0, 0, 40, 40, 0, 0.5f),
                box_anchor(100, 0, 140, 40, 0, 0.7f), box_anchor(200, 0, 240, 40, 0, 0.5f)},
               opt);
  REQUIRE(anchors_of(d) == std::vector<int>{2, 0, 1, 3});
  // Overlapping with equal scores: the lower anchor index is kept.
  d = run({box_anchor(5, 0, 105, 100, 1, 0.5f), box_anchor(0, 0, 100, 100, 1, 0.5f)}, opt);
  REQUIRE(anchors_of(d) == std::vector<int>{0});
}

TEST_CASE("decode: boxes, scores and mask coefficients", "[nms]") {
  DecodeOptions opt;
  Anchor a{100.f, 60.f, 30.f, 10.f, {0.1f, 0.8f}, {1.5f, -2.f, 3.f}};
  Anchor b{10.f, 10.f, 4.f, 4.f, {0.1f, 0.1f}, {9.f, 9.f, 9.f}};
  std::vector<float> out = make_out0({b, a}, 2, 3);
  auto d = decode_detections(out.data(), 4 + 2 + 3, 2, 2, 3, opt);
  REQUIRE(d.size() == 1);
  CHECK(d[0].anchor == 1);
  CHECK(d[0].cls == 1);
  CHECK(d[0].score == 0.8f);
  CHECK(d[0].box[0] == 85.f);
  CHECK(d[0].box[1] == 55.f);
  CHECK(d[0].box[2] == 115.f);
  CHECK(d[0].box[3] == 65.f);
  CHECK(d[0].coef == std::vector<float>{1.5f, -2.f, 3.f});
  // Shape errors.
  CHECK_THROWS_AS(decode_detections(out.data(), 8, 2, 2, 3, opt), fx::Error);
  CHECK_THROWS_AS(decode_detections(out.data(), 9, 0, 2, 3, opt), fx::Error);
  CHECK_THROWS_AS(decode_detections(out.data(), 9, 2, 0, 5, opt), fx::Error);
}

TEST_CASE("decode: boxes to source pixels", "[nms]") {
  // 1280x720 letterboxed into 640x640: scale 0.5, content 640x360 at pad_top 140.
  float b[4] = {100.f, 150.f, 700.f, 600.f};
  box_to_source(b, 0.5f, 0, 140, 1280, 720);
  CHECK(b[0] == 200.f);
  CHECK(b[1] == 20.f);
  CHECK(b[2] == 1280.f);  // 1400 clipped
  CHECK(b[3] == 720.f);   // 920 clipped
  float c[4] = {-10.f, 100.f, 20.f, 130.f};
  box_to_source(c, 0.5f, 0, 140, 1280, 720);
  CHECK(c[0] == 0.f);  // clipped at 0
  CHECK(c[1] == 0.f);  // (100 - 140) / 0.5 < 0
  CHECK(c[2] == 40.f);
  CHECK(c[3] == 0.f);
  std::vector<Detection> v(1);
  std::copy(b, b + 4, v[0].box);
  v[0].box[0] = 320.f;
  scale_boxes_to_source(v, 2.0f, 10, 0, 100, 100);
  CHECK(v[0].box[0] == 100.f);
}

// ---------------------------------------------------------------------------------------------------
// Reference: the Ultralytics / torchvision algorithm written plainly.

namespace {

struct RefDet {
  int anchor, cls;
  float score, box[4];
};

float ref_iou(const float* a, const float* b) {
  // torchvision nms_kernel_impl, float32
  float iarea = (a[2] - a[0]) * (a[3] - a[1]);
  float jarea = (b[2] - b[0]) * (b[3] - b[1]);
  float xx1 = std::max(a[0], b[0]), yy1 = std::max(a[1], b[1]);
  float xx2 = std::min(a[2], b[2]), yy2 = std::min(a[3], b[3]);
  float w = std::max(0.f, xx2 - xx1), h = std::max(0.f, yy2 - yy1);
  float inter = w * h;
  return inter / (iarea + jarea - inter);
}

std::vector<RefDet> reference_nms(const std::vector<float>& out, int A, int nc, const DecodeOptions& opt) {
  std::vector<RefDet> cand;
  for (int a = 0; a < A; ++a) {
    int best = 0;
    float bs = out[4 * A + a];
    for (int c = 1; c < nc; ++c) {
      float s = out[(4 + c) * A + a];
      if (s > bs) {
        bs = s;
        best = c;
      }
    }
    if (!(bs > opt.conf)) continue;
    float cx = out[a], cy = out[A + a], w = out[2 * A + a], h = out[3 * A + a];
    cand.push_back({a, best, bs, {cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2}});
  }
  std::stable_sort(cand.begin(), cand.end(), [](const RefDet& x, const RefDet& y) { return x.score > y.score; });
  if ((int)cand.size() > opt.max_nms) cand.resize(opt.max_nms);
  std::vector<char> suppressed(cand.size(), 0);
  std::vector<RefDet> kept;
  for (size_t i = 0; i < cand.size(); ++i) {
    if (suppressed[i]) continue;
    kept.push_back(cand[i]);
    for (size_t j = i + 1; j < cand.size(); ++j) {
      if (!opt.agnostic && cand[j].cls != cand[i].cls) continue;
      if (ref_iou(cand[i].box, cand[j].box) > opt.iou) suppressed[j] = 1;
    }
  }
  if ((int)kept.size() > opt.max_det) kept.resize(opt.max_det);
  return kept;
}

// Random output0 with clusters of overlapping boxes and quantised scores (to create ties).
std::vector<float> random_out0(std::mt19937& rng, int A, int nc) {
  std::vector<float> out((4 + nc) * A);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  std::vector<std::array<float, 4>> centres(40);
  for (auto& c : centres) c = {u(rng) * 640, u(rng) * 640, 10 + u(rng) * 200, 10 + u(rng) * 200};
  const int hot_classes = 1 + (int)(u(rng) * 4);  // concentrate classes so suppression is frequent
  for (int a = 0; a < A; ++a) {
    const auto& c = centres[rng() % centres.size()];
    out[a] = c[0] + (u(rng) - 0.5f) * 20;
    out[A + a] = c[1] + (u(rng) - 0.5f) * 20;
    out[2 * A + a] = c[2] * (0.8f + 0.4f * u(rng));
    out[3 * A + a] = c[3] * (0.8f + 0.4f * u(rng));
    for (int k = 0; k < nc; ++k) out[(4 + k) * A + a] = u(rng) * 0.1f;
    if (u(rng) < 0.4f) {
      int cls = (int)(rng() % hot_classes);
      if (u(rng) < 0.1f) cls = (int)(rng() % nc);
      out[(4 + cls) * A + a] = std::floor(u(rng) * 64) / 64;  // ties on purpose
    }
  }
  return out;
}

}  // namespace

TEST_CASE("nms: fast decode equals the plain reference on random outputs", "[nms]") {
  std::mt19937 rng(1234);
  const int nc = 80;
  int total_kept = 0, total_cand_runs = 0;
  for (int trial = 0; trial < 24; ++trial) {
    const int A = trial % 3 == 0 ? 8400 : 2100;
    const std::vector<float> out = random_out0(rng, A, nc);
    DecodeOptions opt;
    opt.conf = trial % 4 == 0 ? 0.001f : 0.25f;
    opt.iou = trial % 2 ? 0.7f : 0.45f;
    opt.agnostic = trial % 5 == 0;
    opt.max_det = trial % 3 == 1 ? 100000 : 300;
    opt.max_nms = trial % 7 == 3 ? 500 : 30000;
    const auto fast = decode_detections(out.data(), 4 + nc, A, nc, 0, opt);
    const auto ref = reference_nms(out, A, nc, opt);
    INFO("trial " << trial);
    REQUIRE(fast.size() == ref.size());
    for (size_t i = 0; i < ref.size(); ++i) {
      REQUIRE(fast[i].anchor == ref[i].anchor);
      REQUIRE(fast[i].cls == ref[i].cls);
      REQUIRE(fast[i].score == ref[i].score);
      REQUIRE(std::memcmp(fast[i].box, ref[i].box, sizeof(ref[i].box)) == 0);
    }
    total_kept += (int)ref.size();
    ++total_cand_runs;
  }
  CHECK(total_kept > 1000);  // the cases are not trivial
}

TEST_CASE("nms: generic nms() with and without classes", "[nms]") {
  const float boxes[] = {0, 0, 100, 100, 17, 0, 117, 100, 0, 0, 100, 100, 500, 500, 510, 510};
  const float scores[] = {0.9f, 0.8f, 0.95f, 0.1f};
  const int classes[] = {0, 0, 1, 0};
  CHECK(nms(boxes, scores, classes, 4, 0.7f, 0) == std::vector<int>{2, 0, 3});
  CHECK(nms(boxes, scores, nullptr, 4, 0.7f, 0) == std::vector<int>{2, 3});
  CHECK(nms(boxes, scores, classes, 4, 0.7f, 2) == std::vector<int>{2, 0});
  CHECK(nms(boxes, scores, classes, 0, 0.7f, 10).empty());
  // Zero-area boxes: IoU is 0/0 = NaN, which never suppresses (as in torchvision).
  const float flat[] = {5, 5, 5, 5, 5, 5, 5, 5};
  const float fs[] = {0.5f, 0.4f};
  CHECK(nms(flat, fs, nullptr, 2, 0.5f, 0).size() == 2);
}

TEST_CASE("nms: 8400 x 80 decode (timing printed)", "[nms][perf]") {
  std::mt19937 rng(7);
  const int A = 8400, nc = 80;
  std::vector<float> out((4 + nc) * A);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  for (int a = 0; a < A; ++a) {
    out[a] = u(rng) * 640;
    out[A + a] = u(rng) * 640;
    out[2 * A + a] = 5 + u(rng) * 100;
    out[3 * A + a] = 5 + u(rng) * 100;
  }
  for (size_t i = 4 * (size_t)A; i < out.size(); ++i) out[i] = u(rng) * u(rng) * u(rng) * 0.3f;  // mostly low
  DecodeOptions opt;
  double best_ms = 1e9;
  size_t n = 0;
  for (int rep = 0; rep < 20; ++rep) {
    auto t0 = std::chrono::steady_clock::now();
    n = decode_detections(out.data(), 4 + nc, A, nc, 0, opt).size();
    auto t1 = std::chrono::steady_clock::now();
    best_ms = std::min(best_ms, std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  WARN("decode 8400x80: " << best_ms << " ms (best of 20), " << n << " detections");
  // Informational only (timings are not pass/fail); typically ~0.2 ms in a Release build.
}
