// Whole-model checks against the ONNX Runtime goldens (tests/goldens/*.fxg), shared by test_models
// (plans compiled in process) and test_model_plan (a plan compiled beforehand, e.g. on the host of a
// cross build).
#pragma once

#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "golden_compare.h"
#include "golden_format.h"
#include "runtime/dense_executor.h"
#include "runtime/detector.h"
#include "runtime/io/letterbox.h"

namespace fx::test {

// Runs the plan on the golden's input; returns every output (copied).
inline std::vector<std::vector<float>> run(std::shared_ptr<const Plan> plan, const Golden& g, int threads) {
  DenseExecutor exec(plan, std::make_shared<ThreadPool>(threads));
  rgb_to_planar_float(g.rgb.data(), g.width, g.height, exec.input_data());
  exec.invoke();
  std::vector<std::vector<float>> outs;
  for (size_t i = 0; i < plan->outputs().size(); ++i) {
    const TensorInfo& t = plan->tensor(plan->outputs()[i]);
    outs.emplace_back(exec.output_data(i), exec.output_data(i) + t.numel);
  }
  return outs;
}

inline bool bit_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * 4) == 0;
}

inline FrameResult detections_of(const Plan& plan, const std::vector<std::vector<float>>& outs, const Golden& g) {
  OutputLayout layout = output_layout(plan);
  LetterboxInfo lb = letterbox_info(g.width, g.height, g.width, g.height);  // identity geometry
  PostOptions opt;
  return postprocess(layout, outs[0].data(), outs.size() > 1 ? outs[1].data() : nullptr, lb, opt);
}

// The plan's outputs on the golden's input against ONNX Runtime's, channel by channel (golden_compare.h),
// then the same detections (and masks) after decoding and NMS. `file` names the golden in messages.
inline void check_against_golden(std::shared_ptr<const Plan> plan, const Golden& g, const std::string& file) {
  INFO(file);
  REQUIRE(plan->outputs().size() == g.outputs.size());
  auto outs = run(plan, g, 2);
  for (size_t i = 0; i < g.outputs.size(); ++i) {
    const GoldenOutput& ref = g.outputs[i];
    const TensorInfo& t = plan->tensor(plan->outputs()[i]);
    INFO("output " << ref.name);
    REQUIRE(t.name == ref.name);
    REQUIRE(t.shape == ref.shape);
    // Class scores (rows 4.. of output0) within an absolute bound, every other channel (box rows, mask
    // coefficients, prototype maps) within 1e-3 of its own range; the measured figures are printed
    // (perf/RESULTS.md quotes them).
    const OutputLayout layout = output_layout(*plan);
    const bool scores = i == 0;
    const ChannelError e =
        channel_error(outs[i].data(), ref, scores ? 4 : 0, scores ? 4 + static_cast<size_t>(layout.num_classes) : 0);
    WARN(file << " " << ref.name << ": " << e.str());
    CHECK(e.non_finite == 0);
    CHECK(e.rel <= 1e-3);
    CHECK(e.score_abs <= 1e-4);
  }
  // Identical detections after NMS (and, for segmentation, the same masks).
  std::vector<std::vector<float>> ref_outs;
  for (const auto& o : g.outputs) ref_outs.push_back(o.values);
  FrameResult ours = detections_of(*plan, outs, g), theirs = detections_of(*plan, ref_outs, g);
  {
    // Decoding at a lower threshold and keeping the scores above the reporting one gives the same
    // detections (a lower box never suppresses a higher one): what the sessions rely on for their
    // salience prior.
    OutputLayout layout = output_layout(*plan);
    DecodeOptions lo;
    lo.conf = 0.1f;
    auto all =
        decode_detections(outs[0].data(), layout.rows, layout.anchors, layout.num_classes, layout.num_mask_coef, lo);
    auto direct = decode_detections(outs[0].data(), layout.rows, layout.anchors, layout.num_classes,
                                    layout.num_mask_coef, DecodeOptions{});
    std::vector<Detection> kept;
    for (const Detection& d : all)
      if (d.score > DecodeOptions{}.conf) kept.push_back(d);
    REQUIRE(kept.size() == direct.size());
    for (size_t k = 0; k < kept.size(); ++k) {
      CHECK(kept[k].anchor == direct[k].anchor);
      CHECK(kept[k].cls == direct[k].cls);
    }
    CHECK(all.size() >= direct.size());
  }
  REQUIRE(!theirs.detections.empty());
  REQUIRE(ours.detections.size() == theirs.detections.size());
  for (size_t k = 0; k < ours.detections.size(); ++k) {
    const Detection &a = ours.detections[k], &b = theirs.detections[k];
    CHECK(a.cls == b.cls);
    CHECK(std::fabs(a.score - b.score) < 1e-3);
    for (int j = 0; j < 4; ++j) CHECK(std::fabs(a.box[j] - b.box[j]) < 0.25);
    if (k < ours.masks.size()) CHECK(mask_iou(ours.masks[k], theirs.masks[k]) > 0.99);
  }
}

}  // namespace fx::test
