// The change test of the block planner (DESIGN 6.2): does a block of the current frame still look, to
// the detector, like the reference block it would be moved from?
//
// The aligner's own test, a normalised SAD above tau (mean |I - R| / 255 over the block), is absolute:
// 6.4 grey levels mean that a dark or flat block can change its content entirely and stay "unchanged",
// while on bright texture the same 6.4 levels are invisible. Detectors are trained to be insensitive to
// exposure (YOLO's HSV augmentation varies the value channel by +-40%), so what decides whether a block
// changed for the network is the residual measured against the block's own structure. The test here:
//
//   changed  <=>  (peak - noise) / (contrast + floor) > tau_rel
//
//   peak     = the largest of the four quadrants' mean |I - R(p + v)|, grey levels (a change that covers
//              a quarter of the block counts in full; the block mean dilutes it by four)
//   noise    = the frame's residual level of well-matched blocks (the sensor's and the codec's noise,
//              measured per frame, NoiseTracker): a residual at the noise level never passes
//   contrast = mean |I - mean(I)| of the current block (per channel), grey levels
//   floor    = max(floor_min, floor_noise * noise): below it a block counts as flat, where the codec's
//              fluctuations are not the detector's business
//
// Both sides of the inequality scale with a gain applied to the frame (exposure) down to the floor, and
// an offset leaves contrast unchanged, so the test means the same on dark and bright video.
// perf/measure_change measures these statistics and the first layers' response to the same residuals
// on real clips (perf/RESULTS.md, "The change test").
#pragma once

#include <cstdint>
#include <vector>

namespace fx {

struct BlockResidual {
  float mean_abs = 0;  // mean |I - R(p + v)| over the block's pixels and channels
  float peak_abs = 0;  // the largest quadrant mean |I - R(p + v)| (B / 2 x B / 2 quadrants)
  float contrast = 0;  // mean |I - mean(I)| of the current block, channel means separate
  float offset = 0;    // mean(I) - mean(R(p + v)) over the block (signed)
};

// cur, ref: packed RGB24, `width` pixels per row; the block (bx, by) of size B (1..256; quadrants of B / 2
// and B - B / 2 pixels, empty ones ignored) against ref at (x0 + dx, y0 + dy), which must lie inside ref
// (the aligner's vectors do). Grey levels.
BlockResidual block_residual(const uint8_t* cur, const uint8_t* ref, int width, int B, int bx, int by, int dx, int dy);

struct ChangeTestOptions {
  float tau_rel = 0.4f;  // threshold on the normalised residual (below); < 0: test off (the aligner's tau only)
  // With the test on, a block the aligner finds above its tau is a candidate only when the test says it
  // changed or its normalised SAD is above cap (<= the aligner's tau: every aligner candidate stays one).
  float cap = 0.05f;
  float floor_min = 3.0f;    // grey levels
  float floor_noise = 2.0f;  // the floor's multiple of the frame's noise level
};

inline float change_floor(const ChangeTestOptions& o, float noise) {
  return o.floor_noise * noise > o.floor_min ? o.floor_noise * noise : o.floor_min;
}
// The normalised residual max(0, peak - noise) / (contrast + floor): the residual beyond the frame's
// noise, against the block's own structure.
inline float normalised_residual(const BlockResidual& r, float noise, float floor) {
  const float e = r.peak_abs - noise;
  return e > 0 ? e / (r.contrast + floor) : 0.f;
}
inline bool changed(const ChangeTestOptions& o, const BlockResidual& r, float noise, float floor) {
  return o.tau_rel >= 0 && normalised_residual(r, noise, floor) > o.tau_rel;
}

// The frame's noise level: the lower quartile of the blocks' peak |residual| among blocks that differ at all
// (identical blocks, e.g. letterbox bars or the codec's skipped blocks, say nothing about noise), smoothed
// over frames (the first frame takes its value; a rise is taken at once, a fall at `smoothing` per frame,
// so the codec's noisier frames, e.g. its key frames, count in full). Most blocks of real video are
// well matched and differ by the sensor's noise, the codec's quantisation and the motion search's
// sub-pixel error; moving objects and new content are the upper tail (a frame where most blocks change is
// a cut, PlannerOptions::staleness).
class NoiseTracker {
 public:
  explicit NoiseTracker(float quantile = 0.25f, float smoothing = 0.2f) : q_(quantile), a_(smoothing) {}
  float level() const { return level_; }
  // Updates from one frame's residuals and returns the new level.
  float update(const std::vector<BlockResidual>& blocks);
  // Forgets the last update (a scene cut's residuals say nothing about the noise).
  void undo() { level_ = prev_level_, have_ = prev_have_; }
  void reset() { have_ = prev_have_ = false, level_ = prev_level_ = 0; }

 private:
  float q_, a_;
  float level_ = 0, prev_level_ = 0;
  bool have_ = false, prev_have_ = false;
  std::vector<float> scratch_;
};

}  // namespace fx
