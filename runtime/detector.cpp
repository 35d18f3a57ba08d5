#include "runtime/detector.h"

#include <cstdio>

#include "runtime/error.h"
#include "runtime/io/draw.h"
#include "runtime/io/video_reader.h"
#include "runtime/util/json.h"

namespace fx {

OutputLayout output_layout(const Plan& plan) {
  OutputLayout l;
  const auto& outs = plan.outputs();
  bool seg = plan.task() == "segment";
  if (outs.size() != (seg ? 2u : 1u))
    throw Error("'" + plan.source() + "': a " + plan.task() + " model must have " + (seg ? "2 outputs" : "1 output"));
  const TensorInfo& o0 = plan.tensor(outs[0]);
  if (o0.shape.size() != 3 || o0.shape[0] != 1)
    throw Error("'" + plan.source() + "': output0 must be [1, rows, anchors]");
  l.output0 = outs[0];
  l.rows = static_cast<int>(o0.shape[1]);
  l.anchors = static_cast<int>(o0.shape[2]);
  if (seg) {
    const TensorInfo& p = plan.tensor(outs[1]);
    if (p.shape.size() != 4 || p.shape[0] != 1 || p.layout != PlanLayout::Plain)
      throw Error("'" + plan.source() + "': the prototype output must be [1, C, H, W]");
    l.protos = outs[1];
    l.proto_c = static_cast<int>(p.shape[1]);
    l.proto_h = static_cast<int>(p.shape[2]);
    l.proto_w = static_cast<int>(p.shape[3]);
    l.num_mask_coef = l.proto_c;
  }
  l.num_classes = l.rows - 4 - l.num_mask_coef;
  if (l.num_classes <= 0) throw Error("'" + plan.source() + "': output0 has too few rows for boxes and classes");
  return l;
}

LetterboxInfo preprocess_frame(const Frame& frame, int input_w, int input_h, std::vector<uint8_t>& rgb_scratch,
                               float* input_nchw) {
  rgb_scratch.resize(static_cast<size_t>(input_w) * input_h * 3);
  LetterboxInfo info;
  letterbox_rgb(frame.rgb.data(), frame.width, frame.height, input_w, input_h, rgb_scratch.data(), &info);
  rgb_to_planar_float(rgb_scratch.data(), input_w, input_h, input_nchw);
  return info;
}

FrameResult postprocess(const OutputLayout& layout, const float* output0, const float* protos,
                        const LetterboxInfo& lb, const PostOptions& opt) {
  return finish_detections(layout,
                           decode_detections(output0, layout.rows, layout.anchors, layout.num_classes,
                                             layout.num_mask_coef, opt.decode),
                           protos, lb, opt);
}

FrameResult finish_detections(const OutputLayout& layout, std::vector<Detection> detections, const float* protos,
                              const LetterboxInfo& lb, const PostOptions& opt) {
  FrameResult r;
  r.detections = std::move(detections);
  if (layout.protos >= 0 && opt.masks) {
    Protos p{protos, layout.proto_c, layout.proto_h, layout.proto_w};
    r.masks = process_masks_to_source(r.detections, p, lb.dst_w, lb.dst_h, lb.pad_left, lb.pad_top, lb.new_w,
                                      lb.new_h, lb.src_w, lb.src_h);
  }
  scale_boxes_to_source(r.detections, lb.scale, lb.pad_left, lb.pad_top, lb.src_w, lb.src_h);
  return r;
}

void write_detections_json(JsonWriter& w, const FrameResult& r, const std::vector<std::string>& names) {
  w.key("detections").begin_array();
  for (size_t i = 0; i < r.detections.size(); ++i) {
    const Detection& d = r.detections[i];
    std::string name = d.cls < static_cast<int>(names.size()) ? names[static_cast<size_t>(d.cls)] : "";
    write_detection_json(w, d, name, i < r.masks.size() ? &r.masks[i] : nullptr);
  }
  w.end_array();
}

void draw_result(Frame& f, const FrameResult& r, const std::vector<std::string>& names) {
  ImageRgb img(f.rgb.data(), f.width, f.height);
  for (size_t i = 0; i < r.masks.size() && i < r.detections.size(); ++i)
    blend_mask(img, r.masks[i].data.data(), r.masks[i].width, palette_color(r.detections[i].cls), 0.4f);
  for (const Detection& d : r.detections) {
    std::string name =
        d.cls < static_cast<int>(names.size()) ? names[static_cast<size_t>(d.cls)] : std::to_string(d.cls);
    char label[96];
    std::snprintf(label, sizeof label, "%s %.2f", name.c_str(), d.score);
    draw_box_label(img, d.box, label, palette_color(d.cls));
  }
}

}  // namespace fx
