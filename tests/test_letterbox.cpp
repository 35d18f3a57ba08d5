// Letterbox geometry (Ultralytics LetterBox), cv2-style INTER_LINEAR resize, model-input conversion and
// box mapping back to source pixels.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "ops/thread_pool.h"
#include "runtime/io/letterbox.h"

using fx::LetterboxInfo;

namespace {

std::vector<uint8_t> random_image(int w, int h, int cn, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(static_cast<size_t>(w) * h * cn);
  for (auto& x : v) x = static_cast<uint8_t>(rng() & 0xff);
  return v;
}

// Straightforward double-precision bilinear with cv2's INTER_LINEAR coordinate mapping
// (half-pixel centres, edge clamping), rounded to nearest.
std::vector<uint8_t> reference_resize(const std::vector<uint8_t>& src, int sw, int sh, int dw, int dh, int cn) {
  std::vector<uint8_t> out(static_cast<size_t>(dw) * dh * cn);
  const double sx_scale = static_cast<double>(sw) / dw, sy_scale = static_cast<double>(sh) / dh;
  for (int y = 0; y < dh; ++y) {
    double fy = (y + 0.5) * sy_scale - 0.5;
    int y0 = static_cast<int>(std::floor(fy));
    double wy = fy - y0;
    if (y0 < 0) y0 = 0, wy = 0;
    if (y0 >= sh - 1) y0 = sh - 1, wy = 0;
    const int y1 = std::min(y0 + 1, sh - 1);
    for (int x = 0; x < dw; ++x) {
      double fx = (x + 0.5) * sx_scale - 0.5;
      int x0 = static_cast<int>(std::floor(fx));
      double wx = fx - x0;
      if (x0 < 0) x0 = 0, wx = 0;
      if (x0 >= sw - 1) x0 = sw - 1, wx = 0;
      const int x1 = std::min(x0 + 1, sw - 1);
      for (int c = 0; c < cn; ++c) {
        auto at = [&](int xx, int yy) {
          return static_cast<double>(src[(static_cast<size_t>(yy) * sw + xx) * cn + c]);
        };
        const double v =
            (at(x0, y0) * (1 - wx) + at(x1, y0) * wx) * (1 - wy) + (at(x0, y1) * (1 - wx) + at(x1, y1) * wx) * wy;
        out[(static_cast<size_t>(y) * dw + x) * cn + c] =
            static_cast<uint8_t>(std::lround(std::min(255.0, std::max(0.0, v))));
      }
    }
  }
  return out;
}

}  // namespace

TEST_CASE("letterbox_info matches Ultralytics LetterBox geometry", "[letterbox]") {
  LetterboxInfo a = fx::letterbox_info(1280, 720, 640, 640);
  CHECK(a.scale == 0.5f);
  CHECK(a.new_w == 640);
  CHECK(a.new_h == 360);
  CHECK(a.pad_left == 0);
  CHECK(a.pad_top == 140);
  CHECK(a.src_w == 1280);
  CHECK(a.dst_h == 640);

  LetterboxInfo b = fx::letterbox_info(960, 540, 640, 640);
  CHECK(b.scale == Approx(2.0 / 3.0));
  CHECK(b.new_w == 640);
  CHECK(b.new_h == 360);
  CHECK(b.pad_top == 140);

  // Portrait, and upscaling (scaleup=True).
  LetterboxInfo c = fx::letterbox_info(480, 854, 640, 640);
  CHECK(c.new_h == 640);
  CHECK(c.new_w == 360);  // round(480 * 640/854 = 359.7)
  CHECK(c.pad_left == 140);
  LetterboxInfo d = fx::letterbox_info(160, 120, 320, 320);
  CHECK(d.scale == 2.0f);
  CHECK(d.new_w == 320);
  CHECK(d.new_h == 240);
  CHECK(d.pad_top == 40);

  // Odd padding: dh = 81 -> top round(80.9) = 81; 641x479 -> r = 640/641.
  LetterboxInfo e = fx::letterbox_info(641, 479, 640, 640);
  CHECK(e.new_w == 640);
  CHECK(e.new_h == 478);  // round(478.25)
  CHECK(e.pad_top == 81);
  CHECK(e.pad_left == 0);

  // dw = 2.5: left = round(2.4) = 2, right = round(2.6) = 3.
  LetterboxInfo f = fx::letterbox_info(10, 10, 15, 10);
  CHECK(f.new_w == 10);
  CHECK(f.pad_left == 2);

  // Python's round() is half-to-even: round(33 * 0.5 = 16.5) = 16, so dh = 8 and top = 8
  // (half-up rounding would give new_h 17 and top 7).
  LetterboxInfo g = fx::letterbox_info(64, 33, 32, 32);
  CHECK(g.new_h == 16);
  CHECK(g.pad_top == 8);
  LetterboxInfo h = fx::letterbox_info(64, 35, 32, 32);  // round(17.5) = 18
  CHECK(h.new_h == 18);
  CHECK(h.pad_top == 7);
}

TEST_CASE("letterbox_rgb: padding is exactly 114, content in place", "[letterbox]") {
  const int sw = 1280, sh = 720;
  auto src = random_image(sw, sh, 3, 1);
  std::vector<uint8_t> dst(640 * 640 * 3, 0);
  LetterboxInfo info;
  fx::letterbox_rgb(src.data(), sw, sh, 640, 640, dst.data(), &info);
  CHECK(info.pad_top == 140);
  for (int y = 0; y < 640; ++y) {
    const uint8_t* row = &dst[static_cast<size_t>(y) * 640 * 3];
    const bool pad_row = y < 140 || y >= 500;
    if (pad_row) {
      REQUIRE(std::all_of(row, row + 640 * 3, [](uint8_t v) { return v == 114; }));
    }
  }
  // The content rows equal resize_linear of the whole image.
  std::vector<uint8_t> resized(640 * 360 * 3);
  fx::resize_linear(src.data(), sw, sh, 0, resized.data(), 640, 360, 0, 3);
  CHECK(std::equal(resized.begin(), resized.end(), dst.begin() + 140 * 640 * 3));

  // Left/right padding with a portrait source.
  auto p = random_image(300, 600, 3, 2);
  std::vector<uint8_t> q(320 * 320 * 3);
  fx::letterbox_rgb(p.data(), 300, 600, 320, 320, q.data(), &info);
  CHECK(info.new_w == 160);
  CHECK(info.pad_left == 80);
  for (int y = 0; y < 320; ++y)
    for (int x = 0; x < 320; ++x) {
      if (x >= 80 && x < 240) continue;
      for (int c = 0; c < 3; ++c) REQUIRE(q[(y * 320 + x) * 3 + c] == 114);
    }

  // Same size: a plain copy.
  std::vector<uint8_t> same(320 * 320 * 3);
  auto s = random_image(320, 320, 3, 3);
  fx::letterbox_rgb(s.data(), 320, 320, 320, 320, same.data(), &info);
  CHECK((same == s));
  CHECK(info.pad_left == 0);
  CHECK(info.pad_top == 0);
}

TEST_CASE("resize_linear: a constant image stays constant", "[letterbox]") {
  const int sizes[][4] = {{37, 23, 100, 61}, {1280, 720, 640, 360}, {7, 5, 3, 2}, {1, 1, 9, 4}, {640, 480, 641, 479}};
  for (const auto& s : sizes)
    for (int v : {0, 1, 114, 254, 255}) {
      std::vector<uint8_t> src(static_cast<size_t>(s[0]) * s[1] * 3, static_cast<uint8_t>(v));
      std::vector<uint8_t> dst(static_cast<size_t>(s[2]) * s[3] * 3, 0);
      fx::resize_linear(src.data(), s[0], s[1], 0, dst.data(), s[2], s[3], 0, 3);
      INFO(s[0] << "x" << s[1] << " -> " << s[2] << "x" << s[3] << " value " << v);
      CHECK(std::all_of(dst.begin(), dst.end(), [v](uint8_t x) { return x == v; }));
    }
}

TEST_CASE("resize_linear matches a double-precision INTER_LINEAR reference within 1 LSB", "[letterbox]") {
  const int sizes[][4] = {{1280, 720, 640, 360}, {960, 540, 640, 360}, {100, 70, 640, 448}, {33, 17, 200, 9},
                          {2, 3, 1, 1},          {1, 1, 5, 5},         {641, 479, 640, 478}, {854, 480, 640, 360},
                          {17, 400, 3, 401}};
  for (const auto& s : sizes)
    for (int cn : {1, 3, 4}) {
      auto src = random_image(s[0], s[1], cn, static_cast<uint32_t>(s[0] * 31 + s[2] + cn));
      std::vector<uint8_t> dst(static_cast<size_t>(s[2]) * s[3] * cn);
      fx::resize_linear(src.data(), s[0], s[1], 0, dst.data(), s[2], s[3], 0, cn);
      auto ref = reference_resize(src, s[0], s[1], s[2], s[3], cn);
      int max_diff = 0;
      size_t ndiff = 0;
      for (size_t i = 0; i < dst.size(); ++i) {
        const int d = std::abs(int(dst[i]) - int(ref[i]));
        max_diff = std::max(max_diff, d);
        ndiff += d != 0;
      }
      INFO(s[0] << "x" << s[1] << " -> " << s[2] << "x" << s[3] << " cn " << cn << ": " << ndiff << " of " << dst.size()
                << " differ");
      CHECK(max_diff <= 1);
      CHECK(ndiff * 20 < dst.size());  // off-by-one only near rounding ties
    }

  // Hand-checked against cv2: cv2.resize(np.array([[0, 255]], np.uint8), (4, 1)) == [[0, 64, 191, 255]]
  const uint8_t two[2] = {0, 255};
  uint8_t four[4];
  fx::resize_linear(two, 2, 1, 0, four, 4, 1, 0, 1);
  CHECK(four[0] == 0);
  CHECK(four[1] == 64);
  CHECK(four[2] == 191);
  CHECK(four[3] == 255);

  // Exact 2x downscale = the mean of each 2x2 block, rounded half up (cv2 uses INTER_AREA there).
  const uint8_t quad[8] = {10, 20, 0, 255, 31, 40, 1, 255};  // 4x2, one channel
  uint8_t half[2];
  fx::resize_linear(quad, 4, 2, 0, half, 2, 1, 0, 1);
  CHECK(half[0] == 25);   // (10 + 20 + 31 + 40 + 2) / 4 = 25.75 -> 25
  CHECK(half[1] == 128);  // (0 + 255 + 1 + 255 + 2) / 4 = 128.25 -> 128
}

TEST_CASE("resize_linear honours strides", "[letterbox]") {
  const int sw = 50, sh = 30, dw = 20, dh = 40;
  auto packed = random_image(sw, sh, 3, 9);
  std::vector<uint8_t> strided(static_cast<size_t>(sw * 3 + 7) * sh, 0);
  for (int y = 0; y < sh; ++y) std::copy_n(&packed[y * sw * 3], sw * 3, &strided[y * (sw * 3 + 7)]);
  std::vector<uint8_t> a(dw * dh * 3), b(static_cast<size_t>(dw * 3 + 5) * dh, 0xEE);
  fx::resize_linear(packed.data(), sw, sh, 0, a.data(), dw, dh, 0, 3);
  fx::resize_linear(strided.data(), sw, sh, sw * 3 + 7, b.data(), dw, dh, dw * 3 + 5, 3);
  for (int y = 0; y < dh; ++y) {
    CHECK(std::equal(&a[y * dw * 3], &a[y * dw * 3] + dw * 3, &b[y * (dw * 3 + 5)]));
    for (int k = 0; k < 5; ++k) CHECK(b[y * (dw * 3 + 5) + dw * 3 + k] == 0xEE);  // row padding untouched
  }
}

TEST_CASE("letterbox with a thread pool gives the same bytes", "[letterbox]") {
  struct Size {
    int sw, sh, dw, dh;
  };
  for (Size z : {Size{854, 480, 640, 640}, Size{300, 500, 320, 320}, Size{7, 3, 64, 64}, Size{640, 2, 16, 16}}) {
    auto src = random_image(z.sw, z.sh, 3, static_cast<uint32_t>(z.sw));
    std::vector<uint8_t> one(static_cast<size_t>(z.dw) * z.dh * 3), many(one.size());
    fx::letterbox_rgb(src.data(), z.sw, z.sh, z.dw, z.dh, one.data());
    for (int threads : {2, 3, 5}) {
      fx::ThreadPool pool(threads);
      std::fill(many.begin(), many.end(), 0);
      fx::letterbox_rgb(src.data(), z.sw, z.sh, z.dw, z.dh, many.data(), nullptr, &pool);
      INFO(z.sw << "x" << z.sh << " -> " << z.dw << "x" << z.dh << ", " << threads << " threads");
      CHECK(one == many);
    }
  }
}

TEST_CASE("letterbox 1280x720 -> 640x640 (timing printed)", "[letterbox][perf]") {
  auto src = random_image(1280, 720, 3, 4);
  std::vector<uint8_t> dst(640 * 640 * 3);
  fx::ThreadPool pool(2);
  for (fx::ThreadPool* p : {static_cast<fx::ThreadPool*>(nullptr), &pool}) {
    double best = 1e9;
    for (int i = 0; i < 15; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      fx::letterbox_rgb(src.data(), 1280, 720, 640, 640, dst.data(), nullptr, p);
      best = std::min(best, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    // Informational, not pass/fail.
    WARN("letterbox 1280x720 -> 640x640, " << (p ? 2 : 1) << " thread(s): " << best << " ms (best of 15)");
  }
}

TEST_CASE("rgb_to_planar_float: /255 into RGB planes", "[letterbox]") {
  const int w = 5, h = 3;
  auto rgb = random_image(w, h, 3, 5);
  rgb[0] = 0, rgb[1] = 255, rgb[2] = 114;
  std::vector<float> out(3 * w * h, -1.f);
  fx::rgb_to_planar_float(rgb.data(), w, h, out.data());
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < w * h; ++i) REQUIRE(out[c * w * h + i] == static_cast<float>(rgb[i * 3 + c]) / 255.0f);
  CHECK(out[0] == 0.0f);
  CHECK(out[w * h] == 1.0f);
  CHECK(out[2 * w * h] == 114.0f / 255.0f);
}

TEST_CASE("unletterbox_box maps back to source pixels and clips", "[letterbox]") {
  const LetterboxInfo info = fx::letterbox_info(1280, 720, 640, 640);
  float b[4] = {100.f, 200.f, 300.f, 400.f};  // model-input pixels
  fx::unletterbox_box(info, b);
  CHECK(b[0] == Approx(200.f));
  CHECK(b[1] == Approx(120.f));  // (200 - 140) / 0.5
  CHECK(b[2] == Approx(600.f));
  CHECK(b[3] == Approx(520.f));

  // Round trip through letterbox_box for several geometries.
  const int geoms[][4] = {{960, 540, 640, 640}, {641, 479, 640, 640}, {480, 854, 320, 320}, {100, 100, 640, 384}};
  for (const auto& g : geoms) {
    const LetterboxInfo li = fx::letterbox_info(g[0], g[1], g[2], g[3]);
    const float src[4] = {3.5f, 7.25f, g[0] * 0.8f, g[1] * 0.9f};
    float box[4] = {src[0], src[1], src[2], src[3]};
    fx::letterbox_box(li, box);
    fx::unletterbox_box(li, box);
    for (int k = 0; k < 4; ++k) CHECK(box[k] == Approx(src[k]).margin(1e-3));
  }

  // Parts in the padding or beyond the image clip to the source frame.
  float out[4] = {-50.f, 10.f, 700.f, 639.f};
  fx::unletterbox_box(info, out);
  CHECK(out[0] == 0.f);
  CHECK(out[1] == 0.f);  // (10 - 140) / 0.5 < 0
  CHECK(out[2] == 1280.f);
  CHECK(out[3] == 720.f);
}
