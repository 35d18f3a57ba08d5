#include "runtime/io/draw.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace fx {

namespace {

// The font: one entry per character 32..126, eight rows of five pixels, bit 4 = leftmost column.
// Rows 0-6 hold the glyph (cap height 7), row 7 the descenders of g, j, p, q, y, ',' and '_'.
const uint8_t kFont[95][8] = {
    {0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000},  // 32 ' '
    {0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00000, 0b00100, 0b00000},  // 33 '!'
    {0b01010, 0b01010, 0b01010, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000},  // 34 '"'
    {0b01010, 0b01010, 0b11111, 0b01010, 0b11111, 0b01010, 0b01010, 0b00000},  // 35 '#'
    {0b00100, 0b01111, 0b10100, 0b01110, 0b00101, 0b11110, 0b00100, 0b00000},  // 36 '$'
    {0b11000, 0b11001, 0b00010, 0b00100, 0b01000, 0b10011, 0b00011, 0b00000},  // 37 '%'
    {0b01100, 0b10010, 0b10100, 0b01000, 0b10101, 0b10010, 0b01101, 0b00000},  // 38 '&'
    {0b00100, 0b00100, 0b01000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000},  // 39 quote
    {0b00010, 0b00100, 0b01000, 0b01000, 0b01000, 0b00100, 0b00010, 0b00000},  // 40 '('
    {0b01000, 0b00100, 0b00010, 0b00010, 0b00010, 0b00100, 0b01000, 0b00000},  // 41 ')'
    {0b00000, 0b00100, 0b10101, 0b01110, 0b10101, 0b00100, 0b00000, 0b00000},  // 42 '*'
    {0b00000, 0b00100, 0b00100, 0b11111, 0b00100, 0b00100, 0b00000, 0b00000},  // 43 '+'
    {0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b01100, 0b00100, 0b01000},  // 44 ','
    {0b00000, 0b00000, 0b00000, 0b11111, 0b00000, 0b00000, 0b00000, 0b00000},  // 45 '-'
    {0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b01100, 0b01100, 0b00000},  // 46 '.'
    {0b00000, 0b00001, 0b00010, 0b00100, 0b01000, 0b10000, 0b00000, 0b00000},  // 47 '/'
    {0b01110, 0b10001, 0b10011, 0b10101, 0b11001, 0b10001, 0b01110, 0b00000},  // 48 '0'
    {0b00100, 0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110, 0b00000},  // 49 '1'
    {0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0b01000, 0b11111, 0b00000},  // 50 '2'
    {0b11111, 0b00010, 0b00100, 0b00010, 0b00001, 0b10001, 0b01110, 0b00000},  // 51 '3'
    {0b00010, 0b00110, 0b01010, 0b10010, 0b11111, 0b00010, 0b00010, 0b00000},  // 52 '4'
    {0b11111, 0b10000, 0b11110, 0b00001, 0b00001, 0b10001, 0b01110, 0b00000},  // 53 '5'
    {0b00110, 0b01000, 0b10000, 0b11110, 0b10001, 0b10001, 0b01110, 0b00000},  // 54 '6'
    {0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b01000, 0b01000, 0b00000},  // 55 '7'
    {0b01110, 0b10001, 0b10001, 0b01110, 0b10001, 0b10001, 0b01110, 0b00000},  // 56 '8'
    {0b01110, 0b10001, 0b10001, 0b01111, 0b00001, 0b00010, 0b01100, 0b00000},  // 57 '9'
    {0b00000, 0b01100, 0b01100, 0b00000, 0b01100, 0b01100, 0b00000, 0b00000},  // 58 ':'
    {0b00000, 0b01100, 0b01100, 0b00000, 0b01100, 0b00100, 0b01000, 0b00000},  // 59 ';'
    {0b00010, 0b00100, 0b01000, 0b10000, 0b01000, 0b00100, 0b00010, 0b00000},  // 60 '<'
    {0b00000, 0b00000, 0b11111, 0b00000, 0b11111, 0b00000, 0b00000, 0b00000},  // 61 '='
    {0b01000, 0b00100, 0b00010, 0b00001, 0b00010, 0b00100, 0b01000, 0b00000},  // 62 '>'
    {0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0b00000, 0b00100, 0b00000},  // 63 '?'
    {0b01110, 0b10001, 0b00001, 0b01101, 0b10101, 0b10101, 0b01110, 0b00000},  // 64 '@'
    {0b01110, 0b10001, 0b10001, 0b11111, 0b10001, 0b10001, 0b10001, 0b00000},  // 65 'A'
    {0b11110, 0b10001, 0b10001, 0b11110, 0b10001, 0b10001, 0b11110, 0b00000},  // 66 'B'
    {0b01110, 0b10001, 0b10000, 0b10000, 0b10000, 0b10001, 0b01110, 0b00000},  // 67 'C'
    {0b11100, 0b10010, 0b10001, 0b10001, 0b10001, 0b10010, 0b11100, 0b00000},  // 68 'D'
    {0b11111, 0b10000, 0b10000, 0b11110, 0b10000, 0b10000, 0b11111, 0b00000},  // 69 'E'
    {0b11111, 0b10000, 0b10000, 0b11110, 0b10000, 0b10000, 0b10000, 0b00000},  // 70 'F'
    {0b01110, 0b10001, 0b10000, 0b10111, 0b10001, 0b10001, 0b01111, 0b00000},  // 71 'G'
    {0b10001, 0b10001, 0b10001, 0b11111, 0b10001, 0b10001, 0b10001, 0b00000},  // 72 'H'
    {0b01110, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110, 0b00000},  // 73 'I'
    {0b00111, 0b00010, 0b00010, 0b00010, 0b00010, 0b10010, 0b01100, 0b00000},  // 74 'J'
    {0b10001, 0b10010, 0b10100, 0b11000, 0b10100, 0b10010, 0b10001, 0b00000},  // 75 'K'
    {0b10000, 0b10000, 0b10000, 0b10000, 0b10000, 0b10000, 0b11111, 0b00000},  // 76 'L'
    {0b10001, 0b11011, 0b10101, 0b10101, 0b10001, 0b10001, 0b10001, 0b00000},  // 77 'M'
    {0b10001, 0b10001, 0b11001, 0b10101, 0b10011, 0b10001, 0b10001, 0b00000},  // 78 'N'
    {0b01110, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01110, 0b00000},  // 79 'O'
    {0b11110, 0b10001, 0b10001, 0b11110, 0b10000, 0b10000, 0b10000, 0b00000},  // 80 'P'
    {0b01110, 0b10001, 0b10001, 0b10001, 0b10101, 0b10010, 0b01101, 0b00000},  // 81 'Q'
    {0b11110, 0b10001, 0b10001, 0b11110, 0b10100, 0b10010, 0b10001, 0b00000},  // 82 'R'
    {0b01111, 0b10000, 0b10000, 0b01110, 0b00001, 0b00001, 0b11110, 0b00000},  // 83 'S'
    {0b11111, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00000},  // 84 'T'
    {0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01110, 0b00000},  // 85 'U'
    {0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01010, 0b00100, 0b00000},  // 86 'V'
    {0b10001, 0b10001, 0b10001, 0b10101, 0b10101, 0b10101, 0b01010, 0b00000},  // 87 'W'
    {0b10001, 0b10001, 0b01010, 0b00100, 0b01010, 0b10001, 0b10001, 0b00000},  // 88 'X'
    {0b10001, 0b10001, 0b01010, 0b00100, 0b00100, 0b00100, 0b00100, 0b00000},  // 89 'Y'
    {0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b10000, 0b11111, 0b00000},  // 90 'Z'
    {0b01110, 0b01000, 0b01000, 0b01000, 0b01000, 0b01000, 0b01110, 0b00000},  // 91 '['
    {0b00000, 0b10000, 0b01000, 0b00100, 0b00010, 0b00001, 0b00000, 0b00000},  // 92 backslash
    {0b01110, 0b00010, 0b00010, 0b00010, 0b00010, 0b00010, 0b01110, 0b00000},  // 93 ']'
    {0b00100, 0b01010, 0b10001, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000},  // 94 '^'
    {0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b11111},  // 95 '_'
    {0b01000, 0b00100, 0b00010, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000},  // 96 '`'
    {0b00000, 0b00000, 0b01110, 0b00001, 0b01111, 0b10001, 0b01111, 0b00000},  // 97 'a'
    {0b10000, 0b10000, 0b10110, 0b11001, 0b10001, 0b10001, 0b11110, 0b00000},  // 98 'b'
    {0b00000, 0b00000, 0b01110, 0b10000, 0b10000, 0b10001, 0b01110, 0b00000},  // 99 'c'
    {0b00001, 0b00001, 0b01101, 0b10011, 0b10001, 0b10001, 0b01111, 0b00000},  // 100 'd'
    {0b00000, 0b00000, 0b01110, 0b10001, 0b11111, 0b10000, 0b01110, 0b00000},  // 101 'e'
    {0b00110, 0b01001, 0b01000, 0b11100, 0b01000, 0b01000, 0b01000, 0b00000},  // 102 'f'
    {0b00000, 0b00000, 0b01111, 0b10001, 0b10001, 0b01111, 0b00001, 0b01110},  // 103 'g'
    {0b10000, 0b10000, 0b10110, 0b11001, 0b10001, 0b10001, 0b10001, 0b00000},  // 104 'h'
    {0b00100, 0b00000, 0b01100, 0b00100, 0b00100, 0b00100, 0b01110, 0b00000},  // 105 'i'
    {0b00010, 0b00000, 0b00110, 0b00010, 0b00010, 0b00010, 0b10010, 0b01100},  // 106 'j'
    {0b10000, 0b10000, 0b10010, 0b10100, 0b11000, 0b10100, 0b10010, 0b00000},  // 107 'k'
    {0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110, 0b00000},  // 108 'l'
    {0b00000, 0b00000, 0b11010, 0b10101, 0b10101, 0b10001, 0b10001, 0b00000},  // 109 'm'
    {0b00000, 0b00000, 0b10110, 0b11001, 0b10001, 0b10001, 0b10001, 0b00000},  // 110 'n'
    {0b00000, 0b00000, 0b01110, 0b10001, 0b10001, 0b10001, 0b01110, 0b00000},  // 111 'o'
    {0b00000, 0b00000, 0b11110, 0b10001, 0b10001, 0b11110, 0b10000, 0b10000},  // 112 'p'
    {0b00000, 0b00000, 0b01111, 0b10001, 0b10001, 0b01111, 0b00001, 0b00001},  // 113 'q'
    {0b00000, 0b00000, 0b10110, 0b11001, 0b10000, 0b10000, 0b10000, 0b00000},  // 114 'r'
    {0b00000, 0b00000, 0b01111, 0b10000, 0b01110, 0b00001, 0b11110, 0b00000},  // 115 's'
    {0b01000, 0b01000, 0b11100, 0b01000, 0b01000, 0b01001, 0b00110, 0b00000},  // 116 't'
    {0b00000, 0b00000, 0b10001, 0b10001, 0b10001, 0b10011, 0b01101, 0b00000},  // 117 'u'
    {0b00000, 0b00000, 0b10001, 0b10001, 0b10001, 0b01010, 0b00100, 0b00000},  // 118 'v'
    {0b00000, 0b00000, 0b10001, 0b10001, 0b10101, 0b10101, 0b01010, 0b00000},  // 119 'w'
    {0b00000, 0b00000, 0b10001, 0b01010, 0b00100, 0b01010, 0b10001, 0b00000},  // 120 'x'
    {0b00000, 0b00000, 0b10001, 0b10001, 0b10001, 0b01111, 0b00001, 0b01110},  // 121 'y'
    {0b00000, 0b00000, 0b11111, 0b00010, 0b00100, 0b01000, 0b11111, 0b00000},  // 122 'z'
    {0b00010, 0b00100, 0b00100, 0b01000, 0b00100, 0b00100, 0b00010, 0b00000},  // 123 '{'
    {0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00000},  // 124 '|'
    {0b01000, 0b00100, 0b00100, 0b00010, 0b00100, 0b00100, 0b01000, 0b00000},  // 125 '}'
    {0b00000, 0b00000, 0b01000, 0b10101, 0b00010, 0b00000, 0b00000, 0b00000},  // 126 '~'
};

inline void put(uint8_t* p, Color c) {
  p[0] = c.r;
  p[1] = c.g;
  p[2] = c.b;
}

inline int clampi(long long v, int lo, int hi) {
  return static_cast<int>(std::min<long long>(std::max<long long>(v, lo), hi));
}

// Float box coordinate -> int, NaN-safe, within a generous range (no overflow in later arithmetic).
inline int to_int(float v) {
  if (!(v == v)) return 0;
  const float lim = 1e8f;
  return static_cast<int>(std::lround(std::min(std::max(v, -lim), lim)));
}

}  // namespace

Color palette_color(int i) {
  static const Color kPalette[20] = {
      {0x04, 0x2A, 0xFF}, {0x0B, 0xDB, 0xEB}, {0xF3, 0xF3, 0xF3}, {0x00, 0xDF, 0xB7}, {0x11, 0x1F, 0x68},
      {0xFF, 0x6F, 0xDD}, {0xFF, 0x44, 0x4F}, {0xCC, 0xED, 0x00}, {0x00, 0xF3, 0x44}, {0xBD, 0x00, 0xFF},
      {0x00, 0xB4, 0xFF}, {0xDD, 0x00, 0xBA}, {0x00, 0xFF, 0xFF}, {0x26, 0xC0, 0x00}, {0x01, 0xFF, 0xB3},
      {0x7D, 0x24, 0xFF}, {0x7B, 0x00, 0x68}, {0xFF, 0x1B, 0x6C}, {0xFC, 0x6D, 0x2F}, {0xA2, 0xFF, 0x0B}};
  int k = i % 20;
  if (k < 0) k += 20;
  return kPalette[k];
}

void fill_rect(ImageRgb img, int x0, int y0, int x1, int y1, Color c) {
  if (!img.data || img.width <= 0 || img.height <= 0) return;
  const int stride = img.stride > 0 ? img.stride : img.width * 3;
  const int xa = clampi(x0, 0, img.width), xb = clampi(x1, 0, img.width);
  const int ya = clampi(y0, 0, img.height), yb = clampi(y1, 0, img.height);
  for (int y = ya; y < yb; ++y) {
    uint8_t* row = img.data + static_cast<size_t>(y) * stride;
    for (int x = xa; x < xb; ++x) put(row + 3 * x, c);
  }
}

void draw_rect(ImageRgb img, int x0, int y0, int x1, int y1, Color c, int thickness) {
  if (x1 < x0) std::swap(x0, x1);
  if (y1 < y0) std::swap(y0, y1);
  const long long t = std::max(1, thickness);
  // Bands inside the inclusive rectangle [x0, x1] x [y0, y1]; use 64-bit sums, then clamp.
  const long long X0 = x0, Y0 = y0, X1 = static_cast<long long>(x1) + 1, Y1 = static_cast<long long>(y1) + 1;
  auto fill = [&](long long a, long long b, long long cc, long long d) {
    fill_rect(img, clampi(a, -1, img.width + 1), clampi(b, -1, img.height + 1), clampi(cc, -1, img.width + 1),
              clampi(d, -1, img.height + 1), c);
  };
  fill(X0, Y0, X1, std::min(Y0 + t, Y1));  // top
  fill(X0, std::max(Y1 - t, Y0), X1, Y1);  // bottom
  fill(X0, Y0, std::min(X0 + t, X1), Y1);  // left
  fill(std::max(X1 - t, X0), Y0, X1, Y1);  // right
}

int text_width(const std::string& text, int scale) {
  return static_cast<int>(text.size()) * kGlyphCellW * std::max(1, scale);
}

int text_height(int scale) { return kGlyphCellH * std::max(1, scale); }

void draw_text(ImageRgb img, int x, int y, const std::string& text, Color c, int scale) {
  if (!img.data || img.width <= 0 || img.height <= 0) return;
  scale = std::max(1, std::min(scale, 64));
  const int stride = img.stride > 0 ? img.stride : img.width * 3;
  long long gx = x;
  for (unsigned char ch : text) {
    if (gx >= img.width) break;
    if (ch < 32 || ch > 126) ch = '?';
    const uint8_t* glyph = kFont[ch - 32];
    for (int row = 0; row < 8; ++row) {
      const uint8_t bits = glyph[row];
      if (!bits) continue;
      for (int col = 0; col < 5; ++col) {
        if (!(bits & (0x10 >> col))) continue;
        const long long px = gx + static_cast<long long>(col) * scale;
        const long long py = static_cast<long long>(y) + static_cast<long long>(row) * scale;
        // One font pixel = a scale x scale square, clipped.
        const int xa = clampi(px, 0, img.width), xb = clampi(px + scale, 0, img.width);
        const int ya = clampi(py, 0, img.height), yb = clampi(py + scale, 0, img.height);
        for (int yy = ya; yy < yb; ++yy) {
          uint8_t* r = img.data + static_cast<size_t>(yy) * stride;
          for (int xx = xa; xx < xb; ++xx) put(r + 3 * xx, c);
        }
      }
    }
    gx += static_cast<long long>(kGlyphCellW) * scale;
  }
}

void blend_mask(ImageRgb img, const uint8_t* mask, int mask_stride, Color c, float alpha) {
  if (!img.data || !mask || img.width <= 0 || img.height <= 0) return;
  if (!(alpha > 0.f)) return;
  const int a = static_cast<int>(std::lround(std::min(alpha, 1.f) * 256.f));
  const int stride = img.stride > 0 ? img.stride : img.width * 3;
  if (mask_stride <= 0) mask_stride = img.width;
  const int cr = c.r * a, cg = c.g * a, cb = c.b * a;
  for (int y = 0; y < img.height; ++y) {
    uint8_t* row = img.data + static_cast<size_t>(y) * stride;
    const uint8_t* m = mask + static_cast<size_t>(y) * mask_stride;
    for (int x = 0; x < img.width; ++x) {
      if (!m[x]) continue;
      uint8_t* p = row + 3 * x;
      p[0] = static_cast<uint8_t>((p[0] * (256 - a) + cr + 128) >> 8);
      p[1] = static_cast<uint8_t>((p[1] * (256 - a) + cg + 128) >> 8);
      p[2] = static_cast<uint8_t>((p[2] * (256 - a) + cb + 128) >> 8);
    }
  }
}

void draw_box_label(ImageRgb img, const float box[4], const std::string& label, Color c, int thickness,
                    int scale) {
  if (!img.data || img.width <= 0 || img.height <= 0) return;
  const double half_sum = (img.width + img.height) / 2.0;
  if (thickness <= 0) thickness = std::max(2, static_cast<int>(std::lround(half_sum * 0.003)));
  if (scale <= 0) scale = std::max(1, static_cast<int>(std::lround(half_sum / 400.0)));
  const int x0 = to_int(box[0]), y0 = to_int(box[1]), x1 = to_int(box[2]), y1 = to_int(box[3]);
  draw_rect(img, x0, y0, x1, y1, c, thickness);
  if (label.empty()) return;
  const int pad = scale;  // margin around the text inside its background
  const int tw = text_width(label, scale) - scale + 2 * pad;  // the last glyph's spacing column dropped
  const int th = text_height(scale) + 2 * pad;
  const int bx0 = std::min(x0, x1), by0 = std::min(y0, y1);
  const bool above = by0 - th >= 0;
  const int ly = above ? by0 - th : by0;  // above the box, else inside it under the top edge
  const int lx = std::max(0, std::min(bx0, img.width - tw));
  fill_rect(img, lx, ly, lx + tw, ly + th, c);
  // Ultralytics uses dark text on its lightest palette colours; decide by luminance here.
  const double lum = 0.299 * c.r + 0.587 * c.g + 0.114 * c.b;
  const Color text = lum > 160 ? Color{17, 31, 104} : Color{255, 255, 255};
  draw_text(img, lx + pad, ly + pad, label, text, scale);
}

}  // namespace fx
