// Per-frame block planning against one reference image (DESIGN 6.2-6.4): the motion aligner, the
// saliency propagator (previous detections / masks moved by the block motion) and the miss classifier.
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
#include "runtime/post/detections.h"
#include "runtime/post/masks.h"
#include "runtime/sparse/labels.h"

namespace fx {

class ThreadPool;

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
  int stale_frames = 4;     // a candidate skipped this many frames in a row becomes critical
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

 private:
  std::vector<float> salience(const SaliencePrior& prior) const;

  PlannerOptions opt_;
  MotionAligner aligner_;
  std::unique_ptr<MotionSearch> search_;
  MotionField field_, prev_field_;
  bool have_prev_ = false;
  std::vector<int> age_;
};

}  // namespace fx
