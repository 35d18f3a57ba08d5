// Instance masks (runtime/post/masks.h) and COCO RLE (runtime/post/rle.h).
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>
#include <vector>

#include "runtime/error.h"
#include "runtime/post/masks.h"
#include "runtime/post/rle.h"

using namespace fx;

namespace {

Detection det_with_box(float x1, float y1, float x2, float y2, std::vector<float> coef) {
  Detection d;
  d.box[0] = x1;
  d.box[1] = y1;
  d.box[2] = x2;
  d.box[3] = y2;
  d.coef = std::move(coef);
  return d;
}

bool px(const Mask& m, int x, int y) { return m.data[(size_t)y * m.width + x] != 0; }

// Set pixels form exactly the rectangle [x0,x1) x [y0,y1), except for the listed pixels (which must be clear);
// with corner_margin > 0 pixels within that Chebyshev distance of a corner pixel are not checked.
struct Px {
  int x, y;
};
bool is_rect(const Mask& m, int x0, int y0, int x1, int y1, std::vector<Px> clear = {}, int corner_margin = 0) {
  for (int y = 0; y < m.height; ++y)
    for (int x = 0; x < m.width; ++x) {
      bool want = x >= x0 && x < x1 && y >= y0 && y < y1;
      for (const Px& p : clear)
        if (p.x == x && p.y == y) want = false;
      if (corner_margin > 0) {
        bool near = false;
        for (int cx : {x0, x1 - 1})
          for (int cy : {y0, y1 - 1})
            if (std::abs(x - cx) <= corner_margin && std::abs(y - cy) <= corner_margin) near = true;
        if (near) continue;
      }
      if (px(m, x, y) != want) return false;
    }
  return true;
}

// Plain double bilinear sampling (align_corners=False) of an in_w x in_h plane at output pixel (x, y).
double ref_sample(const std::vector<double>& src, int in_w, int in_h, int out_w, int out_h, int x, int y) {
  auto coord = [](int d, int in, int out, int& i0, int& i1, double& l) {
    double s = (d + 0.5) * in / out - 0.5;
    if (s < 0) s = 0;
    i0 = std::min((int)std::floor(s), in - 1);
    i1 = std::min(i0 + 1, in - 1);
    l = s - i0;
  };
  int x0, x1, y0, y1;
  double lx, ly;
  coord(x, in_w, out_w, x0, x1, lx);
  coord(y, in_h, out_h, y0, y1, ly);
  auto v = [&](int xx, int yy) { return src[(size_t)yy * in_w + xx]; };
  return (1 - ly) * ((1 - lx) * v(x0, y0) + lx * v(x1, y0)) + ly * ((1 - lx) * v(x0, y1) + lx * v(x1, y1));
}

// Dense reference of process_masks for one detection: the raw values before the threshold.
std::vector<double> ref_mask_values(const Detection& d, const std::vector<float>& protos, int C, int ph, int pw, int iw,
                                    int ih, bool sigmoid) {
  std::vector<double> cells((size_t)ph * pw, 0.0);
  const float rw = (float)pw / iw, rh = (float)ph / ih;
  const float bx1 = d.box[0] * rw, by1 = d.box[1] * rh, bx2 = d.box[2] * rw, by2 = d.box[3] * rh;
  for (int r = 0; r < ph; ++r)
    for (int c = 0; c < pw; ++c) {
      double s = 0;
      for (int k = 0; k < C; ++k) s += (double)d.coef[k] * protos[(size_t)k * ph * pw + (size_t)r * pw + c];
      if (sigmoid) s = 1 / (1 + std::exp(-s));
      const bool inside = (float)c >= bx1 && (float)c < bx2 && (float)r >= by1 && (float)r < by2;
      cells[(size_t)r * pw + c] = inside ? s : 0.0;
    }
  std::vector<double> out((size_t)iw * ih);
  for (int y = 0; y < ih; ++y)
    for (int x = 0; x < iw; ++x) out[(size_t)y * iw + x] = ref_sample(cells, pw, ph, iw, ih, x, y);
  return out;
}

}  // namespace

TEST_CASE("masks: a square prototype gives the square, cropped by the box, then unletterboxed", "[masks]") {
  // One prototype, 160x160 for a 640x640 input: +10 on cells [40,100) x [50,110), -10 elsewhere.
  const int P = 160, I = 640;
  std::vector<float> proto((size_t)P * P, -10.f);
  for (int r = 50; r < 110; ++r)
    for (int c = 40; c < 100; ++c) proto[(size_t)r * P + c] = 10.f;
  Protos pr{proto.data(), 1, P, P};

  // Box containing the square: the mask is the square scaled by 4 (the -10 / +10 edge crosses 0 half-way)
  // without its four corner pixels (at a corner the bilinear weights give 0.375 * -10 + 0.625 * 2.5 < 0).
  const Detection whole = det_with_box(100, 120, 500, 560, {1.f});
  // Box cutting the square at x = 300 (proto x = 75): with logits, the +10 cell 74 still reaches pixels whose
  // bilinear footprint touches it (x <= 301, right corners kept: the cropped cell is 0, not -10); with the
  // sigmoid, 0.5 is crossed half-way, at x = 300.
  const Detection cut = det_with_box(100, 120, 300, 560, {1.f});
  const std::vector<Px> corners{{160, 200}, {399, 200}, {160, 439}, {399, 439}};
  auto m = process_masks({whole, cut}, pr, I, I);
  REQUIRE(m.size() == 2);
  CHECK(m[0].width == I);
  CHECK(m[0].height == I);
  CHECK(is_rect(m[0], 160, 200, 400, 440, corners));
  CHECK(is_rect(m[1], 160, 200, 302, 440, {{160, 200}, {160, 439}}));
  MaskOptions sig;
  sig.sigmoid = true;
  auto ms = process_masks({whole, cut}, pr, I, I, sig);
  CHECK(is_rect(ms[0], 160, 200, 400, 440, corners));
  CHECK(is_rect(ms[1], 160, 200, 300, 440, {{160, 200}, {299, 200}, {160, 439}, {299, 439}}));

  // Unletterbox: source 1280x960 -> scale 0.5, content 640x480 at pad_top 80. The square [160,400) x
  // [200,440) of the input is [160,400) x [120,360) of the content, [320,800) x [240,720) of the source
  // (the 2x bilinear step of a 0/1 edge crosses 0.5 half-way; corners rounded off, not checked here).
  Mask src = mask_to_source(m[0], 0.5f, 0, 80, 1280, 960);
  CHECK(src.width == 1280);
  CHECK(src.height == 960);
  CHECK(is_rect(src, 320, 240, 800, 720, {}, 2));
  CHECK(mask_area(src) > 480 * 480 - 4 * 9);
  // The fused path gives the same.
  auto fused = process_masks_to_source({whole, cut}, pr, I, I, 0.5f, 0, 80, 1280, 960);
  REQUIRE(fused.size() == 2);
  CHECK(fused[0].data == src.data);
  CHECK(fused[1].data == mask_to_source(m[1], 0.5f, 0, 80, 1280, 960).data);

  // A box outside the square, and a degenerate box: empty masks.
  auto e = process_masks({det_with_box(500, 500, 600, 600, {1.f}), det_with_box(10, 10, 10, 50, {1.f})}, pr, I, I);
  CHECK(mask_area(e[0]) == 0);
  CHECK(mask_area(e[1]) == 0);
}

TEST_CASE("masks: process_masks equals a dense double reference on random prototypes", "[masks]") {
  std::mt19937 rng(99);
  std::normal_distribution<float> g(0.f, 1.f);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  struct Geo {
    int pw, ph, iw, ih;
  };
  for (const Geo geo : {Geo{40, 40, 160, 160}, Geo{80, 80, 320, 320}, Geo{48, 32, 192, 128}}) {
    const int C = 8;
    std::vector<float> protos((size_t)C * geo.ph * geo.pw);
    // Smooth-ish prototypes (so masks have real structure) plus noise.
    for (int k = 0; k < C; ++k) {
      const float fx = 0.05f + 0.3f * u(rng), fy = 0.05f + 0.3f * u(rng), ph = 6.28f * u(rng);
      for (int r = 0; r < geo.ph; ++r)
        for (int c = 0; c < geo.pw; ++c)
          protos[(size_t)k * geo.ph * geo.pw + (size_t)r * geo.pw + c] =
              std::sin(fx * c + fy * r + ph) + 0.3f * g(rng);
    }
    std::vector<Detection> dets;
    for (int i = 0; i < 12; ++i) {
      float x1 = u(rng) * geo.iw * 1.1f - 0.05f * geo.iw, y1 = u(rng) * geo.ih * 1.1f - 0.05f * geo.ih;
      std::vector<float> coef(C);
      for (float& c : coef) c = g(rng);
      dets.push_back(det_with_box(x1, y1, x1 + u(rng) * geo.iw * 0.6f, y1 + u(rng) * geo.ih * 0.6f, coef));
    }
    dets.push_back(det_with_box(-50, -50, geo.iw + 50.f, geo.ih + 50.f, dets[0].coef));  // larger than the image
    for (bool sigmoid : {false, true}) {
      MaskOptions opt;
      opt.sigmoid = sigmoid;
      const double thr = sigmoid ? 0.5 : 0.0;
      auto masks = process_masks(dets, Protos{protos.data(), C, geo.ph, geo.pw}, geo.iw, geo.ih, opt);
      REQUIRE(masks.size() == dets.size());
      int64_t set = 0, near = 0;
      for (size_t i = 0; i < dets.size(); ++i) {
        const auto ref = ref_mask_values(dets[i], protos, C, geo.ph, geo.pw, geo.iw, geo.ih, sigmoid);
        for (size_t p = 0; p < ref.size(); ++p) {
          const bool want = ref[p] > thr;
          if ((masks[i].data[p] != 0) != want) {
            INFO("det " << i << " pixel " << p << " ref value " << ref[p]);
            REQUIRE(std::fabs(ref[p] - thr) < 1e-4);  // only float-vs-double rounding right at the threshold
            ++near;
          }
          set += want;
        }
      }
      CHECK(set > 1000);
      CHECK(near < 5);
    }
  }
}

TEST_CASE("masks: resize_bilinear equals a plain double reference", "[masks]") {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-3.f, 3.f);
  struct Case {
    int sw, sh, dw, dh;
  };
  for (const Case c : {Case{160, 160, 640, 640}, Case{13, 7, 40, 31}, Case{50, 50, 17, 23}, Case{9, 9, 9, 9},
                       Case{1, 5, 4, 2}, Case{640, 360, 1280, 720}}) {
    std::vector<float> src((size_t)c.sw * c.sh);
    for (float& v : src) v = u(rng);
    std::vector<double> srcd(src.begin(), src.end());
    std::vector<float> dst((size_t)c.dw * c.dh);
    resize_bilinear(src.data(), c.sw, c.sh, dst.data(), c.dw, c.dh);
    double worst = 0;
    for (int y = 0; y < c.dh; ++y)
      for (int x = 0; x < c.dw; ++x)
        worst = std::max(worst, std::fabs(dst[(size_t)y * c.dw + x] - ref_sample(srcd, c.sw, c.sh, c.dw, c.dh, x, y)));
    INFO(c.sw << "x" << c.sh << " -> " << c.dw << "x" << c.dh);
    CHECK(worst < 2e-5);
  }
  // Known values: 2 -> 4 upsampling of [0, 1]: sources -0.25 (clamped 0), 0.25, 0.75, 1.25 (i1 clamped).
  const float two[2] = {0.f, 1.f};
  float four[4];
  resize_bilinear(two, 2, 1, four, 4, 1);
  CHECK(four[0] == 0.f);
  CHECK(four[1] == 0.25f);
  CHECK(four[2] == 0.75f);
  CHECK(four[3] == 1.f);
}

TEST_CASE("masks: mask_to_source equals a plain reference; fused path equals the two-step path", "[masks]") {
  std::mt19937 rng(17);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  std::normal_distribution<float> g(0.f, 1.f);
  const int P = 160, I = 640, C = 32;
  std::vector<float> protos((size_t)C * P * P);
  for (int k = 0; k < C; ++k)
    for (int r = 0; r < P; ++r)
      for (int c = 0; c < P; ++c)
        protos[(size_t)k * P * P + (size_t)r * P + c] =
            std::sin(0.1f * (k + 1) * c + 0.07f * (k + 2) * r) + 0.2f * g(rng);
  struct Src {
    int w, h;
  };
  for (const Src s : {Src{1280, 720}, Src{854, 480}, Src{480, 640}, Src{640, 640}, Src{300, 200}}) {
    const float scale = std::min((float)I / s.w, (float)I / s.h);
    const int nw = (int)std::nearbyint(s.w * (double)scale), nh = (int)std::nearbyint(s.h * (double)scale);
    const int pl = (I - nw) / 2, pt = (I - nh) / 2;
    std::vector<Detection> dets;
    for (int i = 0; i < 8; ++i) {
      float x1 = pl + u(rng) * nw * 0.8f, y1 = pt + u(rng) * nh * 0.8f;
      std::vector<float> coef(C);
      for (float& c : coef) c = g(rng) * 0.5f;
      dets.push_back(det_with_box(x1, y1, std::min(x1 + 20 + u(rng) * 300, (float)pl + nw),
                                  std::min(y1 + 20 + u(rng) * 300, (float)pt + nh), coef));
    }
    const Protos pr{protos.data(), C, P, P};
    auto in_masks = process_masks(dets, pr, I, I);
    auto fused = process_masks_to_source(dets, pr, I, I, scale, pl, pt, s.w, s.h);
    REQUIRE(fused.size() == dets.size());
    auto fused_explicit = process_masks_to_source(dets, pr, I, I, pl, pt, nw, nh, s.w, s.h);
    REQUIRE(fused_explicit.size() == dets.size());
    int64_t total = 0;
    for (size_t i = 0; i < dets.size(); ++i) {
      Mask two = mask_to_source(in_masks[i], scale, pl, pt, s.w, s.h);
      INFO("source " << s.w << "x" << s.h << " det " << i);
      REQUIRE(two.width == s.w);
      REQUIRE(two.height == s.h);
      REQUIRE(fused[i].data == two.data);
      REQUIRE(fused_explicit[i].data == two.data);
      // Plain reference of the crop + resize + threshold.
      std::vector<double> crop((size_t)nw * nh);
      for (int y = 0; y < nh; ++y)
        for (int x = 0; x < nw; ++x) crop[(size_t)y * nw + x] = px(in_masks[i], x + pl, y + pt);
      int bad = 0;
      for (int y = 0; y < s.h; ++y)
        for (int x = 0; x < s.w; ++x) {
          const double v = ref_sample(crop, nw, nh, s.w, s.h, x, y);
          if ((v > 0.5) != px(two, x, y) && std::fabs(v - 0.5) > 1e-6) ++bad;
        }
      CHECK(bad == 0);
      total += mask_area(two);
    }
    CHECK(total > 1000);
  }
}

TEST_CASE("masks: errors", "[masks]") {
  std::vector<float> proto(4 * 4 * 2, 1.f);
  Protos pr{proto.data(), 2, 4, 4};
  CHECK_THROWS_AS(process_masks({det_with_box(0, 0, 8, 8, {1.f})}, pr, 16, 16), fx::Error);  // 1 coef, 2 protos
  CHECK_THROWS_AS(process_masks({}, Protos{}, 16, 16), fx::Error);
  Mask m;
  m.width = 16;
  m.height = 16;
  m.data.assign(256, 1);
  CHECK_THROWS_AS(mask_to_source(m, 0, 0, 17, 16, 32, 32), fx::Error);  // content wider than the mask
  Mask other;
  other.width = 8;
  other.height = 8;
  other.data.assign(64, 0);
  CHECK_THROWS_AS(mask_iou(m, other), fx::Error);
}

TEST_CASE("masks: 20 detections per frame (timing printed)", "[masks][perf]") {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  std::normal_distribution<float> g(0.f, 1.f);
  const int P = 160, I = 640, C = 32;
  std::vector<float> protos((size_t)C * P * P);
  for (float& v : protos) v = g(rng);
  std::vector<Detection> dets;
  for (int i = 0; i < 20; ++i) {
    float x1 = u(rng) * 500, y1 = 140 + u(rng) * 250;
    std::vector<float> coef(C);
    for (float& c : coef) c = g(rng) * 0.3f;
    dets.push_back(det_with_box(x1, y1, x1 + 30 + u(rng) * 150, y1 + 30 + u(rng) * 150, coef));
  }
  double best = 1e9;
  for (int rep = 0; rep < 5; ++rep) {
    auto t0 = std::chrono::steady_clock::now();
    auto m = process_masks_to_source(dets, Protos{protos.data(), C, P, P}, I, I, 0.5f, 0, 140, 1280, 720);
    auto t1 = std::chrono::steady_clock::now();
    best = std::min(best, std::chrono::duration<double, std::milli>(t1 - t0).count());
    REQUIRE(m.size() == 20);
  }
  WARN("20 masks to 1280x720: " << best << " ms (best of 5)");
  // Informational only (timings are not pass/fail); typically ~2 ms in a Release build.
}

// ---------------------------------------------------------------------------------------------------
// RLE

namespace {
Mask make_mask(int w, int h, std::vector<uint8_t> rows) {
  Mask m;
  m.width = w;
  m.height = h;
  m.data = std::move(rows);
  return m;
}
}  // namespace

TEST_CASE("rle: known small examples (column-major, zeros first)", "[rle]") {
  // 3 wide, 2 high:   0 1 1      columns top to bottom: (0,0) (1,1) (1,0)
  //                   0 1 0  ->  0 0 1 1 1 0 -> counts 2, 3, 1
  const Mask m = make_mask(3, 2, {0, 1, 1, 0, 1, 0});
  CHECK(rle_encode(m) == std::vector<uint32_t>{2, 3, 1});
  CHECK(rle_to_coco_string({2, 3, 1}) == "231");
  // Starting with a set pixel: a zero-length run of zeros first.
  CHECK(rle_encode(make_mask(2, 2, {1, 0, 1, 1})) == std::vector<uint32_t>{0, 2, 1, 1});
  CHECK(rle_encode(make_mask(5, 4, std::vector<uint8_t>(20, 0))) == std::vector<uint32_t>{20});
  CHECK(rle_encode(make_mask(5, 4, std::vector<uint8_t>(20, 1))) == std::vector<uint32_t>{0, 20});
  CHECK(rle_encode(make_mask(0, 0, {})) == std::vector<uint32_t>{0});
  // Values other than 0/1 count as set.
  CHECK(rle_encode(make_mask(2, 1, {0, 255})) == std::vector<uint32_t>{1, 1});
  CHECK(rle_area({2, 3, 1}) == 3);
  // Compressed strings (pycocotools rleToString), derived by hand:
  // 100 = 0b11'00100: low 5 bits 4 with the continuation bit -> 36 + 48 = 'T', then 3 -> '3'.
  CHECK(rle_to_coco_string({100}) == "T3");
  // From the 4th count on, the difference to the count two before: 1 - 2 = -1 -> 31 + 48 = 'O'.
  CHECK(rle_to_coco_string({5, 2, 10, 1}) == "52:O");
  CHECK(rle_from_coco_string("52:O") == std::vector<uint32_t>{5, 2, 10, 1});
  CHECK(rle_from_coco_string("T3") == std::vector<uint32_t>{100});
  CHECK(rle_from_coco_string("").empty());
}

TEST_CASE("rle: random round trips", "[rle]") {
  std::mt19937 rng(11);
  for (int t = 0; t < 200; ++t) {
    const int w = 1 + (int)(rng() % 70), h = 1 + (int)(rng() % 50);
    Mask m = make_mask(w, h, std::vector<uint8_t>((size_t)w * h));
    const int mode = t % 4;  // noise, blobs, empty, full
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        uint8_t v = 0;
        if (mode == 0) v = rng() % 2;
        if (mode == 1) v = ((x / 7 + y / 5) % 3) == 0;
        if (mode == 3) v = 1;
        m.data[(size_t)y * w + x] = v;
      }
    const auto counts = rle_encode(m);
    uint64_t sum = 0;
    for (auto c : counts) sum += c;
    REQUIRE(sum == (uint64_t)w * h);
    for (size_t i = 1; i + 1 < counts.size(); ++i) REQUIRE(counts[i] > 0);  // only the first run may be empty
    REQUIRE(rle_decode(counts, w, h).data == m.data);
    REQUIRE(rle_area(counts) == mask_area(m));
    REQUIRE(rle_from_coco_string(rle_to_coco_string(counts)) == counts);
  }
  // Large counts survive the string form.
  const std::vector<uint32_t> big{0, 4000000000u, 7, 1, 123456789u, 5};
  CHECK(rle_from_coco_string(rle_to_coco_string(big)) == big);
}

TEST_CASE("rle: malformed input is rejected", "[rle]") {
  CHECK_THROWS_AS(rle_decode({2, 3}, 3, 2), fx::Error);        // sums to 5, not 6
  CHECK_THROWS_AS(rle_from_coco_string("T"), fx::Error);       // continuation bit at the end
  CHECK_THROWS_AS(rle_from_coco_string("2~"), fx::Error);      // '~' is outside 48..111
  CHECK_THROWS_AS(rle_from_coco_string("\x01"), fx::Error);
  CHECK_THROWS_AS(rle_from_coco_string("oooooooooo1"), fx::Error);  // endless continuation
  CHECK_THROWS_AS(rle_from_coco_string("O"), fx::Error);       // first count -1
  CHECK_THROWS_AS(rle_from_coco_string("1O"), fx::Error);      // second count -1 (absolute for i < 3)
  CHECK_THROWS_AS(rle_from_coco_string("505O"), fx::Error);    // fourth count 0 + (-1)
  CHECK(rle_from_coco_string("525O") == std::vector<uint32_t>{5, 2, 5, 1});
}

TEST_CASE("masks: area and IoU", "[masks]") {
  const Mask a = make_mask(3, 2, {1, 1, 0, 0, 0, 0});
  const Mask b = make_mask(3, 2, {0, 1, 1, 0, 1, 0});
  CHECK(mask_area(a) == 2);
  CHECK(mask_area(b) == 3);
  CHECK(mask_iou(a, b) == Approx(1.0 / 4.0));
  CHECK(mask_iou(a, a) == 1.0);
  const Mask z = make_mask(3, 2, std::vector<uint8_t>(6, 0));
  CHECK(mask_iou(z, z) == 1.0);
  CHECK(mask_iou(a, z) == 0.0);
}
