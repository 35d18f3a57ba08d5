// Drawing primitives: the bitmap font, rectangles, labels, mask blending, the palette, and clipping
// (guard bytes around and between the rows must never change).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "runtime/io/draw.h"

using fx::Color;
using fx::ImageRgb;

namespace {

// An image with guard bytes before, after and between the rows (stride > width * 3).
struct Guarded {
  static constexpr int kGuard = 256;
  static constexpr int kRowPad = 5;
  static constexpr uint8_t kMark = 0xA5;
  int w, h, stride;
  std::vector<uint8_t> buf;
  Guarded(int w_, int h_, uint8_t fill = 0) : w(w_), h(h_), stride(w_ * 3 + kRowPad) {
    buf.assign(static_cast<size_t>(kGuard) * 2 + static_cast<size_t>(stride) * h, kMark);
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w * 3; ++x) buf[kGuard + static_cast<size_t>(y) * stride + x] = fill;
  }
  ImageRgb view() { return ImageRgb(buf.data() + kGuard, w, h, stride); }
  const uint8_t* px(int x, int y) const { return &buf[kGuard + static_cast<size_t>(y) * stride + x * 3]; }
  bool guards_intact() const {
    for (int i = 0; i < kGuard; ++i)
      if (buf[i] != kMark || buf[buf.size() - 1 - i] != kMark) return false;
    for (int y = 0; y < h; ++y)
      for (int k = 0; k < kRowPad; ++k)
        if (buf[kGuard + static_cast<size_t>(y) * stride + w * 3 + k] != kMark) return false;
    return true;
  }
  bool is(int x, int y, Color c) const {
    const uint8_t* p = px(x, y);
    return p[0] == c.r && p[1] == c.g && p[2] == c.b;
  }
  bool is_black(int x, int y) const { return is(x, y, Color{0, 0, 0}); }
};

}  // namespace

TEST_CASE("palette is Ultralytics' colors(i)", "[draw]") {
  auto eq = [](Color a, int r, int g, int b) { return a.r == r && a.g == g && a.b == b; };
  CHECK(eq(fx::palette_color(0), 4, 42, 255));
  CHECK(eq(fx::palette_color(1), 11, 219, 235));
  CHECK(eq(fx::palette_color(5), 255, 111, 221));
  CHECK(eq(fx::palette_color(19), 162, 255, 11));
  CHECK(eq(fx::palette_color(20), 4, 42, 255));
  CHECK(eq(fx::palette_color(-1), 162, 255, 11));
}

TEST_CASE("text renders inside its box only, every printable glyph is distinct", "[draw]") {
  for (int scale : {1, 2, 3}) {
    Guarded g(200, 60);
    const std::string text = "person 0.87";
    const int x0 = 10, y0 = 20;
    const Color white{255, 255, 255};
    fx::draw_text(g.view(), x0, y0, text, white, scale);
    const int tw = fx::text_width(text, scale), th = fx::text_height(scale);
    CHECK(tw == 11 * 6 * scale);
    CHECK(th == 8 * scale);
    int inside = 0;
    for (int y = 0; y < g.h; ++y)
      for (int x = 0; x < g.w; ++x) {
        if (g.is_black(x, y)) continue;
        REQUIRE(g.is(x, y, white));
        REQUIRE(x >= x0);
        REQUIRE(x < x0 + tw);
        REQUIRE(y >= y0);
        REQUIRE(y < y0 + th);
        ++inside;
      }
    CHECK(inside > 30 * scale * scale);
    CHECK(g.guards_intact());
  }

  // Each of ASCII 33..126 draws something, and no two glyphs look the same.
  std::set<std::vector<uint8_t>> seen;
  for (int ch = 32; ch <= 126; ++ch) {
    Guarded g(8, 10);
    fx::draw_text(g.view(), 1, 1, std::string(1, static_cast<char>(ch)), Color{255, 255, 255}, 1);
    std::vector<uint8_t> bits;
    int on = 0;
    for (int y = 0; y < g.h; ++y)
      for (int x = 0; x < g.w; ++x) {
        bits.push_back(!g.is_black(x, y));
        on += !g.is_black(x, y);
      }
    INFO("character " << ch);
    if (ch == 32) {
      CHECK(on == 0);
    } else {
      CHECK(on > 0);
    }
    CHECK(seen.insert(bits).second);
  }
  // Bytes outside the font render as '?'.
  Guarded a(8, 10), b(8, 10);
  fx::draw_text(a.view(), 1, 1, "\x01", Color{255, 255, 255}, 1);
  fx::draw_text(b.view(), 1, 1, "?", Color{255, 255, 255}, 1);
  CHECK((a.buf == b.buf));
}

TEST_CASE("clipping: nothing outside the image is ever written", "[draw]") {
  Guarded g(64, 48);
  ImageRgb v = g.view();
  const Color c{200, 100, 50};
  const int big = std::numeric_limits<int>::max(), small = std::numeric_limits<int>::min();
  fx::draw_text(v, -17, -5, "clipped at the top left", c, 3);
  fx::draw_text(v, 50, 40, "bottom right", c, 2);
  fx::draw_text(v, big - 3, 10, "far away", c, 64);
  fx::draw_text(v, small, small, "far away", c, 1000);
  fx::fill_rect(v, -100, -100, 5, 5, c);
  fx::fill_rect(v, 60, 44, 1000, 1000, c);
  fx::fill_rect(v, small, small, big, big, c);
  fx::draw_rect(v, -10, -10, 100, 100, Color{1, 2, 3}, 4);
  fx::draw_rect(v, small, small, big, big, c, big);
  fx::draw_rect(v, 30, 30, 20, 20, c, 3);  // swapped corners
  const float boxes[][4] = {{-50.f, -50.f, 30.f, 30.f},
                            {40.f, 40.f, 500.f, 500.f},
                            {NAN, 1.f, 2.f, NAN},
                            {-INFINITY, -1e30f, INFINITY, 1e30f},
                            {0.f, 0.f, 63.f, 47.f}};
  for (const auto& b : boxes) fx::draw_box_label(v, b, "person 0.87 with a long label", fx::palette_color(3));
  std::vector<uint8_t> mask(64 * 48, 1);
  fx::blend_mask(v, mask.data(), 0, c, 0.4f);
  CHECK(g.guards_intact());
  // A degenerate image is a no-op.
  fx::draw_text(ImageRgb(), 0, 0, "x", c, 1);
  fx::fill_rect(ImageRgb(nullptr, 0, 0), 0, 0, 10, 10, c);
}

TEST_CASE("draw_rect and fill_rect cover the right pixels", "[draw]") {
  Guarded g(80, 60);
  const Color c{10, 200, 30};
  fx::draw_rect(g.view(), 10, 10, 50, 40, c, 3);
  CHECK(g.is(10, 10, c));
  CHECK(g.is(50, 40, c));  // corners inclusive
  CHECK(g.is(12, 25, c));  // left band: x = 10..12
  CHECK(g.is_black(13, 25));
  CHECK(g.is(48, 25, c));  // right band: x = 48..50
  CHECK(g.is_black(47, 25));
  CHECK(g.is(30, 12, c));
  CHECK(g.is_black(30, 13));
  CHECK(g.is(30, 38, c));
  CHECK(g.is_black(30, 37));
  CHECK(g.is_black(9, 10));
  CHECK(g.is_black(51, 40));
  CHECK(g.is_black(30, 25));
  fx::fill_rect(g.view(), 60, 50, 62, 53, c);
  int n = 0;
  for (int y = 45; y < 60; ++y)
    for (int x = 55; x < 80; ++x) n += g.is(x, y, c);
  CHECK(n == 6);
  CHECK(g.guards_intact());
}

TEST_CASE("blend_mask mixes colour into masked pixels only", "[draw]") {
  Guarded g(4, 2, 100);
  const uint8_t mask[8] = {0, 1, 255, 0, 0, 0, 7, 0};
  fx::blend_mask(g.view(), mask, 4, Color{200, 0, 50}, 0.5f);
  auto p = [&](int x, int y) { return std::vector<int>{g.px(x, y)[0], g.px(x, y)[1], g.px(x, y)[2]}; };
  CHECK(p(0, 0) == std::vector<int>{100, 100, 100});
  CHECK(p(1, 0) == std::vector<int>{150, 50, 75});
  CHECK(p(2, 0) == std::vector<int>{150, 50, 75});
  CHECK(p(3, 1) == std::vector<int>{100, 100, 100});
  CHECK(p(2, 1) == std::vector<int>{150, 50, 75});
  fx::blend_mask(g.view(), mask, 4, Color{0, 0, 0}, 0.f);  // alpha 0: unchanged
  CHECK(p(1, 0) == std::vector<int>{150, 50, 75});
  fx::blend_mask(g.view(), mask, 4, Color{1, 2, 3}, 1.f);  // alpha 1: the colour
  CHECK(p(1, 0) == std::vector<int>{1, 2, 3});
  CHECK(g.guards_intact());
}

TEST_CASE("draw_box_label puts the label above the box, or inside at the top edge", "[draw]") {
  const Color c = fx::palette_color(0);  // dark blue: white text
  Guarded g(320, 240);
  const float box[4] = {100.f, 100.f, 200.f, 180.f};
  fx::draw_box_label(g.view(), box, "person 0.87", c, 2, 1);
  // Label background directly above the box's top-left corner, white text in it.
  CHECK(g.is(100, 99, c));
  CHECK(g.is(100, 100 - fx::text_height(1) - 2, c));
  CHECK(g.is_black(100, 100 - fx::text_height(1) - 3));
  int white = 0;
  for (int y = 80; y < 100; ++y)
    for (int x = 100; x < 100 + fx::text_width("person 0.87", 1); ++x) white += g.is(x, y, Color{255, 255, 255});
  CHECK(white > 30);
  CHECK(g.is(200, 180, c));  // the box itself

  Guarded top(320, 240);
  const float at_top[4] = {10.f, 2.f, 100.f, 100.f};
  fx::draw_box_label(top.view(), at_top, "cup 0.50", c, 2, 1);
  CHECK(top.is(10, 2 + fx::text_height(1), c));  // inside, below the top edge
  CHECK(top.guards_intact());
}
