// Model-input preprocessing, as Ultralytics does it:
//   LetterBox(new_shape, auto=False, scaleup=True, center=True)  ->  grey (114) padded, aspect kept
//   cv2.resize(..., interpolation=cv2.INTER_LINEAR)               ->  resize_linear()
//   im / 255, HWC -> CHW                                         ->  rgb_to_planar_float()
//   ops.scale_boxes(...)                                          ->  unletterbox_box()
#pragma once

#include <cstdint>

namespace fx {

class ThreadPool;

struct LetterboxInfo {
  float scale = 1.0f;         // r = min(dst_h / src_h, dst_w / src_w)
  int pad_left = 0, pad_top = 0;  // where the resized image starts in the destination
  int new_w = 0, new_h = 0;   // size of the resized image: (round(src_w * r), round(src_h * r))
  int src_w = 0, src_h = 0;
  int dst_w = 0, dst_h = 0;
};

// Geometry only. Rounding follows Python's round() (half to even), like Ultralytics:
//   new = (round(w*r), round(h*r)); dw = (dst_w - new_w) / 2; left = round(dw - 0.1), right = round(dw + 0.1)
LetterboxInfo letterbox_info(int src_w, int src_h, int dst_w, int dst_h);

// Letterboxes a packed RGB24 image (stride src_w * 3) into dst_rgb (dst_w x dst_h, stride dst_w * 3):
// resize_linear() of the image into [pad_left, pad_left + new_w) x [pad_top, pad_top + new_h), the rest
// (114, 114, 114). `info` (optional) receives the geometry.
// With a pool, bands of rows are resized in parallel (the same bytes).
void letterbox_rgb(const uint8_t* src_rgb, int src_w, int src_h, int dst_w, int dst_h, uint8_t* dst_rgb,
                   LetterboxInfo* info = nullptr, ThreadPool* pool = nullptr);

// Bilinear resize of 8-bit images with `channels` interleaved channels (1..4), with OpenCV's
// cv::resize(INTER_LINEAR) semantics for both up- and down-scaling: half-pixel centres
// (sx = (dx + 0.5) * src_w / dst_w - 0.5), edge clamping, and cv2's 11-bit fixed-point weights
// (coefficients round(w * 2048), result (sum + 2^21) >> 22). This is the arithmetic of OpenCV's generic
// C path; OpenCV's SIMD paths may differ from it by 1 LSB. Strides in bytes (0 = tightly packed).
void resize_linear(const uint8_t* src, int src_w, int src_h, int src_stride, uint8_t* dst, int dst_w,
                   int dst_h, int dst_stride, int channels, ThreadPool* pool = nullptr);

// Packed RGB24 -> planar float32 [3][h][w] with value / 255 (the model input [1, 3, H, W]).
void rgb_to_planar_float(const uint8_t* rgb, int w, int h, float* nchw);

// Maps a box (x1, y1, x2, y2) in letterboxed (model input) pixels back to source pixels and clips it
// to [0, src_w] x [0, src_h], as Ultralytics' ops.scale_boxes(padding=True) + clip_boxes.
void unletterbox_box(const LetterboxInfo& info, float box[4]);

// The inverse direction: source pixels -> letterboxed pixels (no clipping).
void letterbox_box(const LetterboxInfo& info, float box[4]);

}  // namespace fx
