// The per-frame pipeline around an executor: letterbox a decoded frame into the model input, and turn
// the raw outputs into detections (and masks) in source-image pixels.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "runtime/io/letterbox.h"
#include "runtime/plan.h"
#include "runtime/post/detections.h"
#include "runtime/post/masks.h"

namespace fx {

struct Frame;
class JsonWriter;

struct FrameResult {
  std::vector<Detection> detections;  // boxes in source pixels
  std::vector<Mask> masks;            // segment models: one per detection, source resolution
};

struct PostOptions {
  DecodeOptions decode;
  bool masks = true;  // segment models: compute masks
};

// Geometry of the plan's output tensors (detect: output0; segment: output0 + prototypes).
struct OutputLayout {
  int rows = 0, anchors = 0, num_classes = 0, num_mask_coef = 0;
  int output0 = -1, protos = -1;  // plan tensor ids
  int proto_c = 0, proto_h = 0, proto_w = 0;
};
// Throws fx::Error when the plan's outputs are not a YOLO detect/segment head.
OutputLayout output_layout(const Plan& plan);

// Letterboxes `frame` into `rgb_scratch` (input_w x input_h RGB24) and writes the planar float input.
LetterboxInfo preprocess_frame(const Frame& frame, int input_w, int input_h, std::vector<uint8_t>& rgb_scratch,
                               float* input_nchw);

FrameResult postprocess(const OutputLayout& layout, const float* output0, const float* protos,
                        const LetterboxInfo& lb, const PostOptions& opt);

// `"detections": [...]` of one frame's JSON line (class names from the plan).
void write_detections_json(JsonWriter& w, const FrameResult& r, const std::vector<std::string>& names);

// Draws the result on the frame (masks, then boxes with "name score" labels), as `--annotate` writes it.
void draw_result(Frame& f, const FrameResult& r, const std::vector<std::string>& names);

// The second half of postprocess: detections already decoded (input pixels) -> masks and source pixels.
FrameResult finish_detections(const OutputLayout& layout, std::vector<Detection> detections, const float* protos,
                              const LetterboxInfo& lb, const PostOptions& opt);

}  // namespace fx
