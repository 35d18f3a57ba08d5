// The motion aligner (DESIGN.md 6.2, paper IV.A): one motion vector per B x B block of the current
// frame I_t against the reference image R (the picture the feature cache represents), found by SAD
// block matching, seeded with zero, the previous field and codec motion vectors.
//
// ---------------------------------------------------------------------------------------------------
// Conventions
//   Images are packed RGB24, width x height, stride width * 3. The block (bx, by) covers pixels
//   [x0, x0 + B) x [y0, y0 + B) with x0 = bx * B, y0 = by * B. width and height must be multiples of B
//   (the YOLO input sizes are multiples of 32); anything else throws fx::Error.
//   A vector v = (dx, dy) says: the block of I_t at p matches R at p + v, i.e. the engine rebuilds
//   R_t[p] := R_{t-1}[p + v]. Content moving right by 3 px between R and I_t gives dx = -3.
//   SAD(v) = sum over the block's pixels and 3 channels of |I_t[p] - R[p + v]| (integers, exact).
//   norm = B * B * 3 * 255; the normalised cost is SAD / norm (mean absolute difference / 255).
//   All decisions compare integer SADs against integer thresholds, computed once per call in double:
//     tau_sad    = floor(double(tau) * norm)              (cost > tau  <=>  SAD > tau_sad)
//     margin_sad = floor(double(stride_margin) * norm)
//   BlockMotion::cost = float(double(SAD) / norm).
//
// Valid vectors of a block (the only ones ever evaluated): the rectangle
//     dx in [dx_lo, dx_hi] = [max(-window, -x0), min(window, width  - B - x0)]
//     dy in [dy_lo, dy_hi] = [max(-window, -y0), min(window, height - B - y0)]
// i.e. inside the +-window search window AND with the whole shifted block inside R. (0, 0) is always
// valid. clamp(v) clamps each component into that rectangle.
//
// Order: vectors are ranked by the key (SAD, |dx| + |dy|, dy, dx), compared lexicographically (signed
// dy, dx). It is a total order on distinct vectors, so "the best of a set" does not depend on the order
// in which the set is evaluated (a GPU port may evaluate a set in any order / in parallel).
//
// ---------------------------------------------------------------------------------------------------
// Search, per block (every block is independent of the others in the same frame: the neighbours used
// as seeds come from the PREVIOUS field, so blocks can run in any order and on any thread):
//  1. Seeds. S = { (0,0) }
//       + if prev: clamp(prev(bx+ox, by+oy).mv) for (ox, oy) in (0,0), (-1,0), (+1,0), (0,-1), (0,+1)
//         when that block exists in the grid;
//       + clamp(h.dx, h.dy) of the first kMaxHintsPerBlock (4) distinct hint vectors, in the order of
//         the `hints` vector, among hints whose rectangle [x, x+w) x [y, y+h) contains the block centre
//         (x0 + B/2, y0 + B/2). Hints with w <= 0 or h <= 0 are ignored.
//     best = min of S under the key.
//  2. Refinement, skipped when SAD(best) == 0: for s in (4, 2, 1): up to kRefineIters (8) times:
//       N = { best + s * (ox, oy) : (ox, oy) in {-1,0,1}^2 \ {(0,0)} } restricted to valid vectors
//       (not clamped: points outside are dropped); n = min of N under the key;
//       if key(n) < key(best) then best = n, else stop this step size.
//  3. Exhaustive: if SAD(best) > tau_sad, best = min under the key over ALL valid vectors (so the
//     result is the true best in the window, whatever the seeds were).
//  4. Stride-aware choice (if opt.stride_aware and SAD(best) <= tau_sad): for S in (32, 16, 8):
//       if dx and dy of best are both multiples of S: stop (nothing more aligned is tried);
//       C = { (fx, fy) : fx in {floor_S(dx), ceil_S(dx)}, fy in {floor_S(dy), ceil_S(dy)} } restricted
//           to valid vectors, where floor_S / ceil_S round to the multiples of S below / above;
//       A = { c in C : SAD(c) <= SAD(best) + margin_sad and SAD(c) <= tau_sad };
//       if A is not empty: best = min of A under the key; stop.
//  5. Output: mv = best, cost = SAD(best) / norm, candidate = SAD(best) > tau_sad,
//     exposed = candidate && the search window was cut by the image border (dx_lo > -window or
//     dx_hi < window or dy_lo > -window or dy_hi < window): the block's true source may lie outside R,
//     so its content is treated as newly exposed (always critical). Note that with sizes that are
//     multiples of B the zero vector is always valid, so "no valid vector exists" never happens;
//     exposure is therefore "poor match and the window was truncated by R's edge".
//
// Cost: step 1 is 1..10 SADs, step 2 typically 20-40, step 3 (2*window+1)^2 = 1089 for the default
// window (only for blocks whose best seed/refined cost is above tau; a candidate whose first half of
// rows already sums above the best SAD seen so far stops there, which cannot change the result), step 4
// at most 12. The decisions are ops/motion/motion_search_core.h, shared with the CUDA search.
// Results are identical for any thread count and any ISA (FLUXSHARD_ISA).
#pragma once

#include <cstdint>
#include <vector>

#include "ops/motion/motion_search_core.h"
#include "runtime/io/letterbox.h"
#include "runtime/io/video_reader.h"

namespace fx {

class ThreadPool;

struct MotionVector {
  int16_t dx = 0, dy = 0;
  bool operator==(const MotionVector& o) const { return dx == o.dx && dy == o.dy; }
  bool operator!=(const MotionVector& o) const { return !(*this == o); }
};

struct BlockMotion {
  MotionVector mv;
  float cost = 0;          // normalised SAD of mv
  bool candidate = false;  // cost > tau: recompute candidate
  bool exposed = false;    // candidate whose search window was cut by R's border (see above)
};

struct MotionField {
  int block = 16, cols = 0, rows = 0;
  std::vector<BlockMotion> blocks;  // row-major, cols * rows
  const BlockMotion& at(int bx, int by) const { return blocks[static_cast<size_t>(by) * cols + bx]; }
  BlockMotion& at(int bx, int by) { return blocks[static_cast<size_t>(by) * cols + bx]; }
};

// A motion hint (from the codec) in plan-input pixels: the block [x, x+w) x [y, y+h) of the current
// frame is predicted from the reference at +(dx, dy), i.e. (dx, dy) = src - dst, the aligner's own
// convention.
struct CodecHint {
  int x = 0, y = 0, w = 0, h = 0;
  int dx = 0, dy = 0;
};

struct AlignerOptions {
  int block = 16;               // B
  int window = 16;              // search +-window px in both axes
  float tau = 0.025f;           // candidate threshold on the normalised SAD
  float stride_margin = 0.004f; // stride-aware choice may cost this much more than the best
  bool stride_aware = true;
};

struct MotionStats {
  double candidate_share = 0;       // share of blocks with candidate
  double exposed_share = 0;         // share of blocks with exposed
  double median_mv = 0;             // median of sqrt(dx^2 + dy^2) over blocks (mean of the two middle
                                    // values for an even count)
  double stride_aligned_share = 0;  // share of blocks whose dx and dy are multiples of 8
  double mean_cost = 0;             // mean normalised SAD
};

// One search's inputs in the flat form of ops/motion/motion_search_core.h, built by
// MotionAligner::prepare for its own search and for the CUDA search (ops/motion/sad_cuda.cu).
struct MotionSearchInputs {
  MotionJob job;                   // sizes and integer thresholds; prev_mv / hint_mv / hint_count point
                                   // into the vectors below (null where there is no field / no hint)
  std::vector<int16_t> prev_mv;    // cols * rows * (dx, dy) of the previous field
  std::vector<int16_t> hint_mv;    // cols * rows * kMaxHintsPerBlock * (dx, dy)
  std::vector<uint8_t> hint_count; // cols * rows
};

class MotionAligner {
 public:
  static constexpr int kMaxHintsPerBlock = kMotionMaxHints;
  static constexpr int kRefineIters = kMotionRefineIters;

  // Throws fx::Error unless block >= 1, window >= 0, and width / height are positive multiples of block.
  MotionAligner(int width, int height, AlignerOptions opt = {});

  int width() const { return width_; }
  int height() const { return height_; }
  int cols() const { return width_ / opt_.block; }
  int rows() const { return height_ / opt_.block; }
  const AlignerOptions& options() const { return opt_; }

  // cur, ref: packed RGB24 width x height. prev: the previous frame's field (seeds; may be null; must
  // have this aligner's block / cols / rows, else fx::Error). hints: codec hints in plan-input pixels
  // (may be empty). out is resized to cols x rows (allocates only the first time). With a pool, block
  // rows are spread over its threads; the result does not depend on it. Thread-safe (const, no state).
  void estimate(const uint8_t* cur, const uint8_t* ref, const MotionField* prev, const std::vector<CodecHint>& hints,
                MotionField& out, ThreadPool* pool = nullptr) const;

  static MotionStats stats(const MotionField& f);

  // The job (tau_sad, margin_sad as above), the previous field's vectors and the per-block hint lists
  // for a search with estimate()'s arguments; throws fx::Error where estimate() does (prev's geometry).
  void prepare(const MotionField* prev, const std::vector<CodecHint>& hints, MotionSearchInputs& in) const;
  // One block's result as a BlockMotion (cost = SAD / norm).
  BlockMotion block_motion(const MotionResult& r) const;

 private:
  int width_, height_;
  AlignerOptions opt_;
};

// Where a block planner's motion search runs: MotionAligner on the CPU by default; a device may offer
// its own (Device::new_motion_search; the CUDA backend's GPU search gives the same vectors, costs and
// flags as MotionAligner::estimate).
class MotionSearch {
 public:
  virtual ~MotionSearch() = default;
  // MotionAligner::estimate's contract.
  virtual void estimate(const uint8_t* cur, const uint8_t* ref, const MotionField* prev,
                        const std::vector<CodecHint>& hints, MotionField& out, ThreadPool* pool) = 0;
};

// Converts FFmpeg-exported codec MVs (source-frame pixels) into hints in letterboxed plan-input pixels.
// Only past references (source < 0) are used. Sign: FFmpeg's src = dst + motion / motion_scale, and
// the hint is src - dst, so hint (dx, dy) = round(motion / motion_scale * lb.scale) (nearest, halves
// away from zero): content moving right by 3 source px gives motion_x = -3 * motion_scale and dx = -3
// (at scale 1). The rectangle: x = round((dst_x - w/2) * scale) + pad_left, w = round(w * scale), same
// for y; rectangles that become empty are dropped.
std::vector<CodecHint> codec_hints(const std::vector<CodecMotionVector>& mvs, const LetterboxInfo& lb);

}  // namespace fx
