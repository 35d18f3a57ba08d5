// A stream session: the per-frame pipeline of DESIGN 6 on one side (edge or cloud).
//   letterbox -> motion aligner (against R_{t-1}) -> saliency propagator (previous detections warped by
//   the block motion) -> miss classifier (critical blocks) -> spatial sparse executor -> post-processing
//   -> freshness updater (preemptible slices of a dense refresh between frames).
// Modes: dense (every frame through the dense executor), exact (every recompute candidate is
// recomputed, exact caches), fluxshard (the production mode: salience filtering, nearest-offset reuse,
// per-layer truncation thresholds from the plan's profiled table).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "runtime/dense_executor.h"
#include "runtime/detector.h"
#include "runtime/motion/aligner.h"
#include "runtime/planner.h"
#include "runtime/sparse/sparse_executor.h"
#include "runtime/sparse/truncation.h"

namespace fx {

enum class SessionMode { Dense, Exact, FluxShard };
const char* mode_name(SessionMode m);
SessionMode parse_mode(const std::string& s);  // throws fx::Error

struct SessionOptions;
// The planner's options of a session (sigma < 0 resolved by the task: detect 0.1, segment 0.05).
PlannerOptions planner_options(const SessionOptions& o, const std::string& task);

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
  PostOptions post;
};

struct StageTimes {
  double preprocess_ms = 0, motion_ms = 0, classify_ms = 0, execute_ms = 0, post_ms = 0, refresh_ms = 0;
  double total_ms() const { return preprocess_ms + motion_ms + classify_ms + execute_ms + post_ms; }
};

struct FrameReport {
  int64_t frame = 0;
  SessionMode mode = SessionMode::Dense;
  SparseStats sparse;     // hit ratios etc. (dense mode: everything recomputed)
  MotionStats motion;
  int critical_blocks = 0;    // blocks recomputed from the frame
  int candidate_blocks = 0;   // blocks above tau
  int salient_skipped = 0;    // candidates reused because not salient (fluxshard mode)
  int changed_blocks = 0;     // candidates by the change test only (under the aligner's tau)
  int drift_refreshed = 0;    // blocks refreshed for their accumulated drift
  bool refresh_all = false;   // scene cut or fade: every block refreshed
  int bucket = -1;            // truncation bucket used
  StageTimes time;
};

class StreamSession {
 public:
  StreamSession(std::shared_ptr<const Plan> plan, std::shared_ptr<ThreadPool> pool, SessionOptions opt,
                std::shared_ptr<const OpRunner> runner = nullptr);

  const Plan& plan() const { return *plan_; }
  const SessionOptions& options() const { return opt_; }

  // Processes one decoded frame; detections are in the frame's pixels.
  const FrameResult& process(const Frame& frame, FrameReport* report = nullptr);
  const FrameResult& result() const { return result_; }
  // The last frame's detections down to the salience prior's lower score threshold (salience_conf), in
  // the frame's pixels, best first: what mAP ranks (ApAccumulator). The reported detections when no lower
  // threshold applies (dense mode, or salience_conf >= the reporting threshold).
  const std::vector<Detection>& ranked_detections() const { return ranked_valid_ ? ranked_ : result_.detections; }
  // The letterboxed frame of the last process() and its geometry.
  const std::vector<uint8_t>& letterboxed() const { return cur_; }
  const LetterboxInfo& letterbox() const { return lb_; }

  // Raw outputs of the last frame (plan output order).
  const float* output_data(size_t i);
  SparseExecutor* sparse() { return sparse_.get(); }

 private:
  const std::vector<float>* thresholds(const MotionStats& m, int& bucket);
  void refresh_slices(double budget_ms);

  std::shared_ptr<const Plan> plan_;
  std::shared_ptr<ThreadPool> pool_;
  std::shared_ptr<const OpRunner> runner_;
  SessionOptions opt_;
  OutputLayout layout_;
  std::unique_ptr<DenseExecutor> dense_;
  std::unique_ptr<SparseExecutor> sparse_;
  std::unique_ptr<BlockPlanner> planner_;
  std::vector<uint8_t> cur_;
  LetterboxInfo lb_, prev_lb_;
  std::vector<Label> block_labels_, block_motion_;
  std::vector<Detection> prev_dets_;  // previous frame, input (letterboxed) pixels
  bool prior_masks_ok_ = false;       // result_.masks correspond to prev_dets_
  std::vector<Detection> ranked_;     // prev_dets_ in frame pixels (see ranked_detections)
  bool ranked_valid_ = false;
  TruncationTable truncation_;     // the plan's profiled table (scaled by eps_scale)
  std::vector<float> default_eps_;  // without a table (see island_eps)
  FrameResult result_;
  int64_t frames_ = 0;
  int refresh_cursor_ = 0;
};

}  // namespace fx
