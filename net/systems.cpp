#include "net/systems.h"

#include "runtime/error.h"

namespace fx::net {

const char* group_name(SystemGroup g) {
  switch (g) {
    case SystemGroup::Baseline:
      return "baseline";
    case SystemGroup::FluxShard:
      return "fluxshard";
    case SystemGroup::Ablation:
      return "ablation";
    case SystemGroup::Sweep:
      return "sweep";
  }
  return "?";
}

const std::vector<SystemSpec>& all_systems() {
  using G = SystemGroup;
  static const std::vector<SystemSpec> table = {
      {"local", G::Baseline, "Local dense: every frame through dense inference on the edge; nothing is sent.",
       "Nothing.", "The same kernels and plan as every other system, on the (emulated) edge.", false, true},
      {"offload", G::Baseline,
       "Full offload: every frame goes to the server as one JPEG (quality 90) and runs densely there.",
       "The upload is the letterboxed model input (640x640 with grey padding), not the camera frame: the "
       "smallest a whole-frame upload can be for this model, which favours offload.",
       "Same codec and quality as FluxShard's blocks, same server, same shaped link and RTT.", false, false},
      {"deltacnn", G::Baseline,
       "DeltaCNN-style: blocks whose pixels changed by more than tau at zero shift (no motion compensation) "
       "go to the server; the sparse recompute spreads each change through every kernel's whole window (delta "
       "propagation), and recomputed values within the per-layer threshold stop spreading (truncation).",
       "Change is thresholded per 16x16 block (normalised SAD), not per pixel; deltas are not kept in buffers of "
       "their own: changed positions are recomputed from the updated input, which gives the values delta "
       "accumulation converges to.",
       "FluxShard's tau, truncation thresholds, codec, server and link; only motion compensation and salience "
       "are off (every changed block is recomputed).",
       false, false},
      {"motiondeltacnn", G::Baseline,
       "MotionDeltaCNN-style: one global shift per frame (the median of the block vectors) aligns the cache, "
       "then DeltaCNN-style deltas against the shifted reference.",
       "A translation, not a homography, chosen among the median and the most frequent of the block vectors of "
       "FluxShard's own block search (without its preference for stride multiples; its cost is paid as FluxShard "
       "pays it) by the least SAD over the frame.",
       "As DeltaCNN-style: the same thresholds, codec, server and link; the alignment is the only difference.", false,
       false},
      {"coach", G::Baseline,
       "COACH-style: whole-frame similarity decides: a frame that differs from the last computed one by at "
       "most tau (mean absolute difference / 255) keeps that frame's result (early exit); any other frame is "
       "sent whole, quantised (JPEG quality 50), and recomputed densely on the server.",
       "The similarity is on pixels, not on cached features; quantisation is the image codec's, not a "
       "per-layer feature quantiser.",
       "FluxShard's tau as the early-exit threshold; the same server and link.", false, false},
      {"roi", G::Baseline,
       "ROI-style: a small detector (yolo11n-320, dense on the edge) finds regions every frame; only the blocks "
       "its boxes cover (grown by 16 px) are sent and recomputed on the server; the rest of the server's "
       "reference stays as it was.",
       "Regions update the server's cached frame instead of being cropped and run as separate images (no "
       "resizing of crops); no motion compensation for the rest.",
       "The edge pays the small detector at the emulated edge speed, as a real ROI system does; same codec, "
       "server and link.",
       true, false},
      {"hold", G::Baseline,
       "Every k-th frame: every k-th frame is offloaded whole (as full offload) and the frames in between keep "
       "its result.",
       "Nothing: this is what a user can do without any of the methods.",
       "Same codec, server and link as full offload; its accuracy shows what holding costs.", false, false},
      {"small", G::Baseline, "A smaller input: yolo11n-320 instead of the 640 model, dense on the edge, every frame.",
       "Detect only (no 320 segment model is bundled).",
       "The same edge and kernels; accuracy is scored against the 640 model's dense output and ground truth.", true,
       true},
      {"fluxshard", G::FluxShard,
       "FluxShard: per-block motion-aligned cache reuse, salience-gated recompute, sparse execution and the "
       "edge/cloud path scheduler (the engine's defaults).",
       "-", "-", false, false},
      {"fs-no-salience", G::Ablation,
       "FluxShard without salience: every recompute candidate is recomputed (no gating by the previous "
       "detections).",
       "-", "Only the salience gate is off.", false, false},
      {"fs-dense-recompute", G::Ablation,
       "FluxShard with dense instead of spatially sparse recompute: a frame with any fresh block recomputes "
       "every cached map over the new reference (what is reused is unchanged; the compute is dense).",
       "-", "Only the executor's sparsity is off.", false, false},
      {"fs-zero-motion", G::Ablation,
       "FluxShard with zero motion vectors: no motion search (window 0), so moved content is recomputed.", "-",
       "Only the motion search is off.", false, false},
      {"fs-no-truncation", G::Ablation,
       "FluxShard without truncation: recomputed values always dirty their consumers (all thresholds 0).", "-",
       "Only truncation is off.", false, false},
      {"fs-block8", G::Sweep, "FluxShard with 8x8 blocks.", "-", "-", false, false},
      {"fs-block16", G::Sweep, "FluxShard with 16x16 blocks (the default is 32x32).", "-", "-", false, false},
      {"fs-tau0.0125", G::Sweep, "FluxShard with tau 0.0125 (half the default).", "-", "-", false, false},
      {"fs-tau0.05", G::Sweep, "FluxShard with tau 0.05 (twice the default).", "-", "-", false, false},
  };
  return table;
}

const SystemSpec* find_system(const std::string& name) {
  for (const SystemSpec& s : all_systems())
    if (s.name == name) return &s;
  return nullptr;
}

SystemSetup system_setup(const SystemSpec& s, const EdgeOptions& base, std::shared_ptr<const Plan> plan,
                         std::shared_ptr<const Plan> small_plan, int hold_k) {
  SystemSetup r;
  r.edge = base;
  r.plan = std::move(plan);
  EdgeOptions& e = r.edge;
  SessionOptions& so = e.session;
  e.codec = Codec::Jpeg;
  e.jpeg_quality = kEvalJpegQuality;
  if (s.small_plan && !small_plan) throw Error("system " + s.name + " needs the small detector (--small-plan)");
  // DeltaCNN-style change detection: no salience gate (every candidate is recomputed), and deltas spread
  // through each kernel's window.
  // 16-px blocks: DeltaCNN thresholds pixels; FluxShard's 32-px default would coarsen it.
  auto deltas = [&] {
    so.aligner.block = 16;
    so.gate_max_share = 0;
    so.tau_salient = 0;
    so.footprint_only = false;
  };
  const std::string& n = s.name;
  if (n == "local" || n == "small") {
    e.policy = Policy::Local;
    so.mode = SessionMode::Dense;
    if (n == "small") r.plan = small_plan;
  } else if (n == "offload" || n == "hold" || n == "coach") {
    e.policy = Policy::Offload;
    e.full_frames = true;
    if (n == "hold") e.hold_every = hold_k;
    if (n == "coach") {
      e.reuse_below = so.aligner.tau;
      e.jpeg_quality = kCoachJpegQuality;
    }
  } else if (n == "deltacnn") {
    e.policy = Policy::Offload;
    so.aligner.window = 0;
    so.codec_mvs = false;
    deltas();
  } else if (n == "motiondeltacnn") {
    e.policy = Policy::Offload;
    so.global_motion = true;
    // The block vectors the global one is chosen from are each block's best match: no preference for
    // stride multiples, which would snap small motions to zero.
    so.aligner.stride_aware = false;
    deltas();
  } else if (n == "roi") {
    e.policy = Policy::Offload;
    e.roi_plan = small_plan;
  } else if (n == "fluxshard") {
    e.policy = Policy::FluxShard;
  } else if (n == "fs-no-salience") {
    so.gate_max_share = 0;
    so.tau_salient = 0;
  } else if (n == "fs-dense-recompute") {
    so.dense_recompute = true;
  } else if (n == "fs-zero-motion") {
    so.aligner.window = 0;
    so.codec_mvs = false;
  } else if (n == "fs-no-truncation") {
    so.island_eps = 0;
    so.eps_scale = 0;
  } else if (n == "fs-block8") {
    so.aligner.block = 8;
  } else if (n == "fs-block16") {
    so.aligner.block = 16;
  } else if (n == "fs-tau0.0125") {
    so.aligner.tau = 0.0125f;
  } else if (n == "fs-tau0.05") {
    so.aligner.tau = 0.05f;
  } else {
    throw Error("unknown system '" + n + "'");
  }
  if (s.group == SystemGroup::Ablation || s.group == SystemGroup::Sweep) e.policy = Policy::FluxShard;
  return r;
}

}  // namespace fx::net
