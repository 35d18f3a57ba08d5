// Validity labels of the sparse executor (DESIGN 5). Every position q of a cached feature map gets a
// label: either kInvalid (the value must be recomputed from the layer's current input) or a shift v in
// input-image pixels meaning "the value this frame equals, bit for bit, the cached value of the previous
// frame at q + v / S" (S: the map's stride). Labels are propagated layer by layer through each local
// op's window (the Receptive-Field Alignment Principle): q keeps v only if every input position its
// window reads carries the same v, v is a multiple of S (or, approximate mode, is rounded to the
// nearest cell), zero padding touches the old and new windows identically, and q + v / S lies inside
// the map.
#pragma once

#include <cstdint>
#include <vector>

#include "ops/thread_pool.h"
#include "runtime/plan_types.h"  // AxisWindow

namespace fx {

using Label = int32_t;
constexpr Label kInvalid = INT32_MIN;

inline Label pack_shift(int dx, int dy) {
  return static_cast<Label>((static_cast<uint32_t>(static_cast<uint16_t>(dy)) << 16) |
                            static_cast<uint16_t>(dx));
}
inline int shift_dx(Label l) { return static_cast<int16_t>(static_cast<uint32_t>(l) & 0xffffu); }
inline int shift_dy(Label l) { return static_cast<int16_t>(static_cast<uint32_t>(l) >> 16); }

// Offset in cells of a map of stride `s` for a shift of `v` input pixels: exact mode needs v to be a
// multiple of s (returns false otherwise); approximate mode rounds to the nearest cell (half away from
// zero).
inline bool cell_offset(int v, int s, bool round, int& out) {
  if (v % s == 0) {
    out = v / s;
    return true;
  }
  if (!round) return false;
  out = v >= 0 ? (2 * v + s) / (2 * s) : -((-2 * v + s) / (2 * s));
  return true;
}

// Whether two labels of positions of a map of `stride` agree: equal, or (approximate mode, `round`)
// both valid and moving the position by the same whole cells.
inline bool same_move(Label a, Label b, int stride, bool round) {
  if (a == b) return true;
  if (!round || a == kInvalid || b == kInvalid) return false;
  int ax = 0, ay = 0, bx = 0, by = 0;
  cell_offset(shift_dx(a), stride, true, ax);
  cell_offset(shift_dy(a), stride, true, ay);
  cell_offset(shift_dx(b), stride, true, bx);
  cell_offset(shift_dy(b), stride, true, by);
  return ax == bx && ay == by;
}

// Whether a position of a map of `stride` labelled `l` holds a different value than before the frame:
// recomputed, or moved by whole cells (approximate mode rounds the shift to cells, so a small shift at a
// coarse stride leaves the value where it was; exact mode: any non-zero shift).
inline bool changes_value(Label l, int stride, bool round) { return !same_move(l, 0, stride, round); }

struct Span;

struct LabelMap {
  int h = 0, w = 0;
  int stride = 0;  // of the map, in input pixels
  std::vector<Label> v;
  bool all_zero = true;  // every label is shift 0 (nothing changed)

  // Derived data, computed on first use after the labels changed (see changed()).
  std::vector<Span>* spans = nullptr;  // runs of kInvalid, row by row (owned; capacity reserved)
  bool spans_ready = false;
  int shifted_ready = -1;  // -1: unknown; else (round << 1) | shifted
  // Set by fill_blocks until the labels change: the per-block labels the map was filled from (the
  // caller's array, which must outlive that use), so a footprint window can work per block.
  const Label* blocks = nullptr;
  int block = 0, block_cols = 0, block_rows = 0;

  LabelMap() = default;
  LabelMap(const LabelMap&) = delete;
  LabelMap& operator=(const LabelMap&) = delete;
  ~LabelMap();
  // Copies the labels (and summary) of another map of the same size.
  void copy_from(const LabelMap& o);

  void resize(int h_, int w_, int s);
  Label* row(int y) { return v.data() + static_cast<size_t>(y) * w; }
  const Label* row(int y) const { return v.data() + static_cast<size_t>(y) * w; }
  void fill(Label l);
  // The map from per-block labels (cols x rows blocks of block x block positions, row-major): the
  // labels, their summary and invalid runs are derived from the blocks, not by rescanning positions.
  void fill_blocks(const Label* blocks, int cols, int rows, int block);
  // Recomputes all_zero; every writer of v ends with this (or changed()).
  void summarize();
  // The labels were rewritten: drop derived data; all_zero as given.
  void changed(bool zero) {
    all_zero = zero;
    spans_ready = false;
    shifted_ready = -1;
    blocks = nullptr;
  }
  int64_t count_invalid() const;
  // The runs of kInvalid labels (cached until the labels change). Never allocates after resize().
  const std::vector<Span>& invalid_spans();
  // Whether some label moves its position by a non-zero number of cells (cached per rounding mode).
  bool shifted(bool round);
};

// With `round` (approximate mode) the labels a position gathers agree when they move it by the same
// whole cells of `out`'s stride, and the first of them is kept; otherwise they must be equal.
//
// Conv / MaxPool. out must be sized to the op's output (its stride set). A footprint window (kernel =
// stride, no padding) over a map filled from blocks of a multiple of the stride works per block.
void propagate_window(const LabelMap& in, AxisWindow wy, AxisWindow wx, bool round, LabelMap& out,
                      std::vector<Label>& scratch);
// ConvTranspose (upsampling by `stride`): output o gathers inputs i with i*stride - pad + j*dilation == o.
void propagate_transposed(const LabelMap& in, AxisWindow wy, AxisWindow wx, bool round, LabelMap& out);
// Nearest upsampling by integer factors: out(y, x) reads in(y / up_y, x / up_x).
void propagate_upsample(const LabelMap& in, int up_y, int up_x, bool round, LabelMap& out);
// Point-wise ops over maps of one size (element-wise, channel concat / split): a position keeps a label
// only when every input agrees on it.
void propagate_pointwise(const LabelMap* const* inputs, int count, bool round, LabelMap& out);

}  // namespace fx
