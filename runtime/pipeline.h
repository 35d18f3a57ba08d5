// The per-frame pipeline of DESIGN 6, written once for every side that runs it: the local session
// (runtime/session.h), the edge (net/edge_client.h, which adds the cloud path and a second planner
// against its proxy of the server's reference) and the server (net/server_session.h, which takes the
// blocks and labels from the wire instead of planning).
//
//   letterbox    a decoded frame into the plan's input (and the codec's motion vectors as hints)
//   plan_blocks  motion aligner + saliency propagator + miss classifier against this side's reference
//   execute      the executor on the chosen device: dense, or the caches brought to R_t (the first
//                frame: R_0 := the frame, computed densely), with the mode's approximations and the
//                truncation thresholds of the frame's motion bucket
//   decode       the outputs decoded once: the reported detections and the next frame's salience prior
//   finish       masks and source-pixel boxes
//   refresh      preemptible slices of a dense refresh (the freshness updater)
// What differs between the sides is what they call, and with which labels and pixels; no stage exists
// twice.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "runtime/backend.h"
#include "runtime/dense_executor.h"
#include "runtime/detector.h"
#include "runtime/motion/aligner.h"
#include "runtime/motion/change_test.h"
#include "runtime/planner.h"
#include "runtime/sparse/sparse_executor.h"
#include "runtime/sparse/truncation.h"

namespace fx {

struct Frame;

enum class SessionMode { Dense, Exact, FluxShard };
const char* mode_name(SessionMode m);
SessionMode parse_mode(const std::string& s);  // throws fx::Error

// The defaults are the `balanced` preset's (runtime/presets.h).
struct SessionOptions {
  SessionMode mode = SessionMode::FluxShard;
  // Block, window, tau: 32-px blocks (one per stride-32 cell: a changed block dirties one deep cell, not
  // up to four; perf/RESULTS.md "Presets").
  AlignerOptions aligner = {32};
  float sigma = -1;                // salience threshold; < 0: task default (detect 0.1, segment 0.05)
  int stale_frames = 4;            // a skipped candidate block becomes critical after this many frames
  float gate_max_share = PlannerOptions{}.gate_max_share;  // salience gating up to this candidate share
  float tau_salient = 0.005f;      // salient blocks are critical above this SAD (0: off; see PlannerOptions)
  ChangeTestOptions change;        // the contrast-normalised change test (runtime/motion/change_test.h)
  float tau_rel_salient = 0.5f;    // salient blocks pass it from tau_rel x this (fluxshard mode; PlannerOptions)
  StalenessOptions staleness;      // bounded staleness, scene cuts and fades (runtime/planner.h)
  bool codec_mvs = true;           // seed the aligner with the stream's motion vectors
  double refresh_ms = 0;           // per-frame budget for background refresh slices (fluxshard mode)
  float eps_scale = 1.0f;          // multiplies the profiled truncation thresholds (0: none)
  bool footprint_only = true;      // fluxshard mode: recompute footprints only (see SparseParams)
  // Without a profiled truncation table: the dense island's outputs are compared with the cache with
  // eps = island_eps x the output's mean |value| (measured on the first frame), so a small change does
  // not dirty every later layer. 0: off.
  float island_eps = 0.2f;
  // Fluxshard mode: island positions whose own inputs were reused compare at this multiple of the
  // island's eps (SparseParams::island_reused_scale; 1: off).
  float island_reused_scale = 1.5f;
  // Detections down to this score feed the salience prior (below the reporting threshold: objects near
  // it are where a stale reference changes the result).
  float salience_conf = 0.1f;
  const std::vector<float>* eps_override = nullptr;  // per-op thresholds instead of the plan's table
  // Evaluation policies (net/systems.h): one motion vector for the whole frame (PlannerOptions::
  // global_motion); and the ablation "dense instead of spatially sparse recompute": a frame with any
  // fresh block recomputes every cached map over the new reference R_t (what is reused, and so the
  // result, stays that of exact mode; the compute is dense).
  bool global_motion = false;
  bool dense_recompute = false;
  PostOptions post;
  // Where the executor runs (cpu, or cuda with a device index and precision).
  BackendOptions backend;
};

// The planner's options of a session (sigma < 0 resolved by the task: detect 0.1, segment 0.05).
PlannerOptions planner_options(const SessionOptions& o, const std::string& task);

class FramePipeline {
 public:
  FramePipeline(std::shared_ptr<const Device> device, SessionOptions opt);

  const Plan& plan() const { return *plan_; }
  const Device& device() const { return *device_; }
  const SessionOptions& options() const { return opt_; }
  const OutputLayout& layout() const { return layout_; }
  bool sparse_mode() const { return sparse_ != nullptr; }
  SparseExecutor* sparse() { return sparse_.get(); }
  const SparseExecutor* sparse() const { return sparse_.get(); }
  DenseExecutor* dense() { return dense_.get(); }
  // Whether the caches hold a frame yet (dense mode: always).
  bool initialised() const { return !sparse_ || sparse_->initialised(); }

  // ---- letterbox
  void letterbox(const Frame& frame);
  const std::vector<uint8_t>& input() const { return cur_; }  // packed RGB24 at the plan's input size
  const LetterboxInfo& geometry() const { return lb_; }
  // The codec's motion vectors of `frame` as aligner seeds (none when codec_mvs is off).
  std::vector<CodecHint> hints(const Frame& frame) const;

  // ---- plan_blocks: labels of input() against this side's reference (sparse modes, after the first
  // frame).
  const PlanReport& plan_blocks(const std::vector<CodecHint>& hints);
  const std::vector<Label>& labels() const { return labels_; }
  const std::vector<Label>& motion() const { return motion_; }
  BlockPlanner& planner() { return *planner_; }
  // A planner with this session's options (the edge's second one, against its proxy).
  std::unique_ptr<BlockPlanner> new_planner() const;
  // The salience prior for the next plan (the previous frame's result).
  SaliencePrior prior() const;

  // ---- execute
  // The truncation bucket of a frame's motion (-1: none; fluxshard mode with a profiled table only).
  int bucket(const MotionStats& m) const;
  int buckets() const { return truncation_.buckets(); }
  // Dense mode: dense inference of `pixels`. Sparse modes: the first call resets the caches to
  // `pixels`; later ones apply `labels` (kInvalid: fresh from `pixels`, else the shift a block moved
  // by) with the block motion `motion` (may be null) and the thresholds of `bucket`.
  const SparseStats& execute(const std::vector<Label>& labels, const std::vector<Label>* motion,
                             const uint8_t* pixels, int bucket);
  // The reference replaced wholesale by `pixels` (a full update: the first frame, a resynchronisation, an
  // offloaded whole frame): every cache recomputed from it, exactly (dense inference on the frame).
  const SparseStats& execute_full(const uint8_t* pixels);
  // Raw outputs of the last execute (plan output order, host memory).
  const float* output(size_t i);

  // ---- decode / finish
  // Decodes the outputs once: the reported detections (input pixels) and, in the sparse modes (whose
  // planner reads it) with salience_conf below the reporting threshold, the next frame's salience prior
  // (the detections down to salience_conf).
  const std::vector<Detection>& decode();
  const std::vector<Detection>& reported() const { return reported_; }
  // After finish(): the detections down to salience_conf in source pixels, best first (what mAP ranks);
  // the reported ones where no lower threshold applies (dense mode, or salience_conf >= conf).
  const std::vector<Detection>& ranked() const { return ranked_valid_ ? ranked_ : result_.detections; }
  const std::vector<Detection>& decoded_prior() const { return prior_dets_; }
  // The result of the reported detections: masks (segment models) and boxes in the source pixels of
  // `lb`. Otherwise the result is the prior (salience_conf not below the reporting threshold).
  const FrameResult& finish(const LetterboxInfo& lb);
  // A result computed elsewhere (the edge's cloud frames): it becomes result(); the prior is
  // `server_prior` (input pixels) when given, else the result itself.
  void set_result(FrameResult r, const std::vector<Detection>* server_prior);
  const FrameResult& result() const { return result_; }

  // ---- refresh: slices of a dense refresh, one op at a time, resuming where the last call stopped.
  // Runs while `budget_ms` lasts (<= 0: one slice); returns the slices run.
  int refresh(double budget_ms);

 private:
  std::shared_ptr<const Device> device_;
  std::shared_ptr<const Plan> plan_;
  SessionOptions opt_;
  OutputLayout layout_;
  std::unique_ptr<DenseExecutor> dense_;
  std::unique_ptr<SparseExecutor> sparse_;
  std::unique_ptr<BlockPlanner> planner_;
  TruncationTable truncation_;     // the plan's profiled table (scaled by eps_scale)
  std::vector<float> default_eps_;  // without a table (see island_eps)
  std::vector<uint8_t> cur_;
  LetterboxInfo lb_;
  std::vector<Label> labels_, motion_;
  std::vector<Label> all_fresh_;   // execute_full's labels
  std::vector<uint8_t> next_ref_;  // dense_recompute: R_t
  PlanReport plan_report_;
  SparseStats dense_stats_;
  FrameResult result_;
  // Salience prior: detections in input pixels (with result_.masks when they are its detections), and
  // the geometry of their frame.
  std::vector<Detection> prior_dets_, reported_;
  bool prior_has_masks_ = false;
  LetterboxInfo prior_lb_;
  std::vector<Detection> ranked_;  // prior_dets_ in source pixels (see ranked())
  bool ranked_valid_ = false;
  void prior_from_result();
  int refresh_cursor_ = 0;
};

}  // namespace fx
