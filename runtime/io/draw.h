// Drawing on packed RGB24 images, for annotated output (boxes, labels, masks). Every primitive clips to
// the image: any coordinates (negative, huge, NaN boxes) are safe and nothing outside the image's rows
// is ever written.
#pragma once

#include <cstdint>
#include <string>

namespace fx {

struct Color {
  uint8_t r = 0, g = 0, b = 0;
};

// A view of an RGB24 image; stride in bytes (0 = width * 3).
struct ImageRgb {
  uint8_t* data = nullptr;
  int width = 0, height = 0;
  int stride = 0;
  ImageRgb() = default;
  ImageRgb(uint8_t* d, int w, int h, int s = 0) : data(d), width(w), height(h), stride(s > 0 ? s : w * 3) {}
};

// Ultralytics' 20-colour palette: colors(i) (RGB order), i taken modulo 20 (negative i allowed).
Color palette_color(int i);

// Filled rectangle covering pixels x0 <= x < x1, y0 <= y < y1 (clipped).
void fill_rect(ImageRgb img, int x0, int y0, int x1, int y1, Color c);

// Rectangle outline through the corners (x0, y0) and (x1, y1) (inclusive, as cv2.rectangle), `thickness`
// pixels wide and growing inwards from those edges.
void draw_rect(ImageRgb img, int x0, int y0, int x1, int y1, Color c, int thickness = 2);

// Built-in bitmap font: 5 x 7 glyphs (plus one descender row) for ASCII 32..126 on a 6 x 8 cell, scaled
// by an integer factor; other bytes render as '?'. (x, y) is the top-left corner of the text box.
constexpr int kGlyphCellW = 6;
constexpr int kGlyphCellH = 8;
int text_width(const std::string& text, int scale = 1);  // 6 * scale * chars (last column is spacing)
int text_height(int scale = 1);                          // 8 * scale
void draw_text(ImageRgb img, int x, int y, const std::string& text, Color c, int scale = 1);

// img = img * (1 - alpha) + colour * alpha where mask != 0. The mask has the image's size (one byte per
// pixel, stride in bytes, 0 = width). alpha in [0, 1].
void blend_mask(ImageRgb img, const uint8_t* mask, int mask_stride, Color c, float alpha = 0.5f);

// A detection as Ultralytics draws it: the box outline, and `label` ("person 0.87") in a filled box of
// the same colour on top of the box (inside it when there is no room above). thickness / scale <= 0
// pick sizes from the image size. Text is white, or dark on light colours.
void draw_box_label(ImageRgb img, const float box[4], const std::string& label, Color c, int thickness = 0,
                    int scale = 0);

}  // namespace fx
