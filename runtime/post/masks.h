// Instance masks of YOLO11 segment models: Ultralytics process_mask (retina_masks=False) followed by
// scale_masks, in C++.
//
// For each detection (box in letterboxed input pixels, coef = its 32 mask coefficients):
//  1. logits m = coef . protos over the proto grid (protos: output1 [1, nm, ph, pw], NCHW);
//  2. crop to the box scaled into proto cells (box * pw / input_w, box * ph / input_h): cells outside
//     x1 <= c < x2, y1 <= r < y2 (c, r the integer cell indices, Ultralytics' crop_mask) become 0;
//  3. bilinear upsampling to input_w x input_h (PyTorch F.interpolate, align_corners=False, float32,
//     same operation order);
//  4. threshold: value > 0 (current Ultralytics thresholds the logits with gt_(0.0)); with
//     MaskOptions::sigmoid (older Ultralytics / YOLOv5) the sigmoid is applied before the crop and the
//     threshold is > 0.5 instead. The two differ only along box edges and within bilinear reach of them.
//  5. to the source image (mask_to_source): crop the letterbox padding
//     [pad_left, pad_left + new_w) x [pad_top, pad_top + new_h), resize the 0/1 mask bilinearly
//     (align_corners=False) to src_w x src_h and keep values > 0.5.
// Work is bounded by the boxes: the dot product is evaluated only on the cells inside each box's crop, the
// upsampling only on the input pixels that can see those cells, the source resize only on the source pixels
// that can see a set input pixel.
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/post/detections.h"

namespace fx {

struct Mask {
  int width = 0, height = 0;
  std::vector<uint8_t> data;  // 0/1, row-major, width * height
};

struct MaskOptions {
  bool sigmoid = false;  // legacy: sigmoid before crop, threshold 0.5 (see above)
};

// Prototype tensor view: data[k * h * w + y * w + x], k < channels.
struct Protos {
  const float* data = nullptr;
  int channels = 0, height = 0, width = 0;
};

// Steps 1-4: one input-sized (input_w x input_h) mask per detection, whose boxes must be in letterboxed input
// coordinates (call before scale_boxes_to_source). Throws fx::Error when a detection's coef size differs
// from protos.channels or sizes are not positive.
std::vector<Mask> process_masks(const std::vector<Detection>& dets, const Protos& protos, int input_w, int input_h,
                                const MaskOptions& opt = {});

// Step 5 for one input-space mask. new_w/new_h: the size of the resized image inside the letterbox; the
// overload without them uses round(src_w * scale), round(src_h * scale) (Ultralytics LetterBox, Python
// rounding: half to even), clamped to the mask size.
Mask mask_to_source(const Mask& m, float scale, int pad_left, int pad_top, int src_w, int src_h);
Mask mask_to_source(const Mask& m, int pad_left, int pad_top, int new_w, int new_h, int src_w, int src_h);

// Steps 1-5 in one go, touching only the pixels each box can reach (the fast path for a frame). Prefer the
// overload with new_w/new_h when the letterbox's own values are at hand (LetterboxInfo::new_w/new_h); the
// other derives them as round(src * scale) (Python rounding, clamped to the input size).
std::vector<Mask> process_masks_to_source(const std::vector<Detection>& dets, const Protos& protos, int input_w,
                                          int input_h, int pad_left, int pad_top, int new_w, int new_h, int src_w,
                                          int src_h, const MaskOptions& opt = {});
std::vector<Mask> process_masks_to_source(const std::vector<Detection>& dets, const Protos& protos, int input_w,
                                          int input_h, float scale, int pad_left, int pad_top, int src_w,
                                          int src_h, const MaskOptions& opt = {});

// Bilinear resize of one float plane, PyTorch F.interpolate(mode="bilinear", align_corners=False)
// semantics and float32 operation order. Exposed for tests.
void resize_bilinear(const float* src, int src_w, int src_h, float* dst, int dst_w, int dst_h);

// Number of set pixels; IoU of two masks of the same size (1 when both are empty; throws fx::Error on a size
// mismatch).
int64_t mask_area(const Mask& m);
double mask_iou(const Mask& a, const Mask& b);

}  // namespace fx
