// Per-frame block planning against one reference image (DESIGN 6.2-6.4): the motion aligner, the change
// test (runtime/motion/change_test.h), the saliency propagator (previous detections / masks moved by the
// block motion), the miss classifier and the staleness bound (below).
// Its output, one label per block (kInvalid: critical, recomputed from the frame; else the shift the
// block is moved by), is what the sparse executor of that side applies. An edge runs two planners: one
// against its own reference (edge critical blocks) and one against its proxy of the server's (cloud
// critical blocks).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "runtime/io/letterbox.h"
#include "runtime/motion/aligner.h"
#include "runtime/motion/change_test.h"
#include "runtime/post/detections.h"
#include "runtime/post/masks.h"
#include "runtime/sparse/labels.h"

namespace fx {

class ThreadPool;

// Bounded staleness. Each frame a block is kept (moved or in place), its normalised residual
// max(0, peak - noise) / (contrast + floor) (change_test.h) adds to its drift; the drift
// travels with the content (a moved block takes the largest drift of the blocks its source overlaps) and
// is 0 after a refresh. A block is refreshed once its drift passes drift_bound x (1 + phase), where the
// phase in [0, 1) is its 32-px cell's rank in an 8 x 8 ordered-dither (Bayer) pattern: blocks that drift
// alike (a slow change of the light, the codec's noise on a static scene) come due on different frames
// spread over the next bound's worth of drift, neighbouring cells as far apart as possible, like a
// codec's intra refresh and without a burst frame, while the 2 x 2 blocks of one stride-32 cell come due
// together (the cell is recomputed once). So a kept block's drift stays below 2 x drift_bound (plus one
// frame's residual), and its residual below the change test's threshold.
// Scene cuts and fades: when at least cut_share of the blocks are candidates, or the median offset of the
// blocks' mean level (frame minus reference, over the blocks that differ) is at least fade_levels grey
// levels, every block is refreshed.
struct StalenessOptions {
  float drift_bound = 3.0f;  // <= 0: off
  float cut_share = 0.6f;    // <= 0: off
  float fade_levels = 3.0f;  // <= 0: off
};

struct PlannerOptions {
  AlignerOptions aligner;   // block, window, tau
  bool exact = false;       // every recompute candidate is critical (no salience filtering)
  float sigma = 0.1f;       // salience threshold of a candidate
  // Salience gating (skipping candidates below sigma) applies while recompute candidates are at most this
  // share of the blocks. Above it every candidate is critical: with that much change a skipped block
  // saves little (it is still moved, and its stale content spreads) and costs accuracy. 1: always gate.
  float gate_max_share = 0.1f;
  // Salient blocks (salience >= sigma) are critical already above this normalised SAD (< tau): detections
  // are sensitive to the reference going stale exactly where the objects are. 0: off.
  float tau_salient = 0.f;
  // Salient blocks pass the change test from tau_rel x this (fluxshard mode; 1: the same test everywhere).
  float tau_rel_salient = 1.f;
  int stale_frames = 4;     // a candidate skipped this many frames in a row becomes critical
  // A block is a recompute candidate when the aligner's normalised SAD is above tau OR the change test
  // says it changed (contrast-normalised; change.tau_rel < 0: the aligner's tau only).
  ChangeTestOptions change;
  StalenessOptions staleness;  // bounded staleness, scene cuts and fades
  // Evaluation baseline (MotionDeltaCNN-style, runtime/baselines.h): one vector for the whole frame, the
  // median of the block vectors, instead of one per block.
  bool global_motion = false;
};

// What the previous frame's result says is important, for the saliency propagator.
struct SaliencePrior {
  const std::vector<Detection>* detections = nullptr;  // boxes in input (letterboxed) pixels
  const std::vector<Mask>* masks = nullptr;            // segment models: per detection, source pixels
  LetterboxInfo letterbox;                              // maps input pixels to the masks' pixels
};

struct PlanReport {
  MotionStats motion;
  int critical_blocks = 0, candidate_blocks = 0, salient_skipped = 0;
  int changed_blocks = 0;    // candidates by the change test only (under the aligner's tau)
  int drift_refreshed = 0;   // blocks refreshed for their drift
  bool refresh_all = false;  // scene cut or fade: every block refreshed
  float noise = 0;           // the noise level the change test used (grey levels)
  float max_drift = 0;       // the largest drift of a kept block after this frame
};

class BlockPlanner {
 public:
  BlockPlanner(int width, int height, PlannerOptions opt);

  int cols() const { return aligner_.cols(); }
  int rows() const { return aligner_.rows(); }
  const PlannerOptions& options() const { return opt_; }

  // Labels the blocks of `cur` against `ref` (both packed RGB24 at the plan's input size). `motion`
  // receives every block's vector (also for critical blocks) as a shift label.
  void plan(const uint8_t* cur, const uint8_t* ref, const std::vector<CodecHint>& hints, const SaliencePrior& prior,
            std::vector<Label>& labels, std::vector<Label>& motion, PlanReport& report, ThreadPool* pool);

  // The reference was replaced wholesale (resync): forget the previous field and the staleness counters.
  void reset();
  // Runs the motion search there instead of on the CPU aligner (null: back to the CPU).
  void set_motion_search(std::unique_ptr<MotionSearch> search) { search_ = std::move(search); }
  const MotionField& field() const { return field_; }
  // Per block, after plan(): the residual at its vector and its drift (0 for critical blocks).
  const std::vector<BlockResidual>& residuals() const { return residual_; }
  const std::vector<float>& drift() const { return drift_; }

 private:
  std::vector<float> salience(const SaliencePrior& prior) const;
  void measure(const uint8_t* cur, const uint8_t* ref, ThreadPool* pool);
  float carried_drift(int bx, int by, const BlockMotion& m) const;

  PlannerOptions opt_;
  MotionAligner aligner_;
  std::unique_ptr<MotionSearch> search_;
  MotionField field_, prev_field_;
  bool have_prev_ = false;
  std::vector<int> age_;
  std::vector<BlockResidual> residual_;
  std::vector<float> drift_, prev_drift_, offsets_, phase_;
  NoiseTracker noise_;
};

}  // namespace fx
