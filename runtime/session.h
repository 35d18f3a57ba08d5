// A stream session: the per-frame pipeline of DESIGN 6 run start to end on one side (runtime/pipeline.h)
//   letterbox -> motion aligner (against R_{t-1}) -> saliency propagator (previous detections warped by
//   the block motion) -> miss classifier (critical blocks) -> executor -> post-processing -> freshness
//   updater (preemptible slices of a dense refresh between frames).
// Modes: dense (every frame through the dense executor), exact (every recompute candidate is
// recomputed, exact caches), fluxshard (the production mode: salience filtering, nearest-offset reuse,
// per-layer truncation thresholds from the plan's profiled table). The executor runs on the backend of
// SessionOptions::backend (CPU, or CUDA).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "runtime/pipeline.h"

namespace fx {

struct StageTimes {
  double preprocess_ms = 0, motion_ms = 0, classify_ms = 0, execute_ms = 0, post_ms = 0, refresh_ms = 0;
  double total_ms() const { return preprocess_ms + motion_ms + classify_ms + execute_ms + post_ms + refresh_ms; }
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
  // On the backend of opt.backend (make_device), with its own thread pool unless `pool` is given.
  StreamSession(std::shared_ptr<const Plan> plan, SessionOptions opt, std::shared_ptr<ThreadPool> pool = nullptr);
  // On the CPU backend with a shared pool (and `runner`, the plan's prepared CPU kernels, when given).
  StreamSession(std::shared_ptr<const Plan> plan, std::shared_ptr<ThreadPool> pool, SessionOptions opt,
                std::shared_ptr<const OpRunner> runner = nullptr);
  // On a device shared with other sessions (one set of weights).
  StreamSession(std::shared_ptr<const Device> device, SessionOptions opt);

  const Plan& plan() const { return pipe_.plan(); }
  const SessionOptions& options() const { return pipe_.options(); }
  const Device& device() const { return pipe_.device(); }

  // Processes one decoded frame; detections are in the frame's pixels.
  const FrameResult& process(const Frame& frame, FrameReport* report = nullptr);
  const FrameResult& result() const { return pipe_.result(); }
  // The last frame's detections down to the salience prior's lower score threshold (salience_conf), in
  // the frame's pixels, best first: what mAP ranks (ApAccumulator). The reported detections when no lower
  // threshold applies (dense mode, or salience_conf >= the reporting threshold).
  const std::vector<Detection>& ranked_detections() const { return pipe_.ranked(); }
  // The letterboxed frame of the last process() and its geometry.
  const std::vector<uint8_t>& letterboxed() const { return pipe_.input(); }
  const LetterboxInfo& letterbox() const { return pipe_.geometry(); }

  // Raw outputs of the last frame (plan output order, host memory).
  const float* output_data(size_t i) { return pipe_.output(i); }
  SparseExecutor* sparse() { return pipe_.sparse(); }

 private:
  FramePipeline pipe_;
  int64_t frames_ = 0;
};

}  // namespace fx
