#include "runtime/sparse/labels.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "ops/map_view.h"
#include "runtime/error.h"

namespace fx {

LabelMap::~LabelMap() { delete spans; }

void LabelMap::resize(int h_, int w_, int s) {
  h = h_, w = w_, stride = s;
  v.assign(static_cast<size_t>(h) * w, 0);
  if (!spans) spans = new std::vector<Span>();
  // At most one run per two positions, plus one per row.
  spans->reserve(static_cast<size_t>(h) * w / 2 + static_cast<size_t>(h) + 1);
  changed(true);
}

void LabelMap::copy_from(const LabelMap& o) {
  std::memcpy(v.data(), o.v.data(), v.size() * sizeof(Label));
  changed(o.all_zero);
}

void LabelMap::fill(Label l) {
  std::fill(v.begin(), v.end(), l);
  changed(l == 0);
}

void LabelMap::fill_blocks(const Label* src, int cols, int rows, int size) {
  if (cols * size != w || rows * size != h)
    throw Error("block labels " + std::to_string(cols) + "x" + std::to_string(rows) + " of " + std::to_string(size) +
                " positions do not tile a " + std::to_string(w) + "x" + std::to_string(h) + " map");
  bool zero = true, moved = false;
  spans->clear();
  for (int by = 0; by < rows; ++by) {
    const Label* b = src + static_cast<size_t>(by) * cols;
    Label* first = row(by * size);
    for (int bx = 0; bx < cols; ++bx) {
      std::fill(first + bx * size, first + (bx + 1) * size, b[bx]);
      zero = zero && b[bx] == 0;
      moved = moved || (b[bx] != 0 && b[bx] != kInvalid);
    }
    for (int y = 1; y < size; ++y) std::memcpy(row(by * size + y), first, static_cast<size_t>(w) * sizeof(Label));
    // Runs of fresh blocks, repeated on each of the block row's positions rows.
    size_t row_start = spans->size();
    for (int bx = 0; bx < cols;) {
      if (b[bx] != kInvalid) {
        ++bx;
        continue;
      }
      int bx1 = bx + 1;
      while (bx1 < cols && b[bx1] == kInvalid) ++bx1;
      spans->push_back({by * size, bx * size, bx1 * size});
      bx = bx1;
    }
    size_t row_end = spans->size();
    for (int y = 1; y < size; ++y)
      for (size_t k = row_start; k < row_end; ++k) spans->push_back({by * size + y, (*spans)[k].x0, (*spans)[k].x1});
  }
  all_zero = zero;
  spans_ready = true;
  // At stride 1 every shift is a whole number of cells, with or without rounding; coarser maps find out
  // on use.
  shifted_ready = stride == 1 ? (moved ? 1 : 0) : -1;
  blocks = src;
  block = size;
  block_cols = cols;
  block_rows = rows;
}

void LabelMap::summarize() {
  bool zero = true;
  for (Label l : v)
    if (l != 0) {
      zero = false;
      break;
    }
  changed(zero);
}

const std::vector<Span>& LabelMap::invalid_spans() {
  if (spans_ready) return *spans;
  spans->clear();
  if (!all_zero) {
    for (int y = 0; y < h; ++y) {
      const Label* r = row(y);
      for (int x = 0; x < w;) {
        if (r[x] != kInvalid) {
          ++x;
          continue;
        }
        int x1 = x + 1;
        while (x1 < w && r[x1] == kInvalid) ++x1;
        spans->push_back({y, x, x1});
        x = x1;
      }
    }
  }
  spans_ready = true;
  return *spans;
}

bool LabelMap::shifted(bool round) {
  int key = round ? 2 : 0;
  if (shifted_ready >= 0 && (stride == 1 || (shifted_ready & 2) == key)) return (shifted_ready & 1) != 0;
  bool any = false;
  if (!all_zero) {
    for (Label l : v) {
      if (l == kInvalid || l == 0) continue;
      int dx, dy;
      if (cell_offset(shift_dx(l), stride, round, dx) && cell_offset(shift_dy(l), stride, round, dy) && (dx || dy)) {
        any = true;
        break;
      }
    }
  }
  shifted_ready = key | (any ? 1 : 0);
  return any;
}

int64_t LabelMap::count_invalid() const {
  int64_t n = 0;
  for (Label l : v) n += l == kInvalid;
  return n;
}

namespace {

// Final checks on a candidate label for output position (y, x): the shift must map to whole cells,
// leave padding where it is, and stay inside the map.
inline Label accept(Label l, int y, int x, const LabelMap& out, bool pad_y, bool pad_x, bool round) {
  if (l == kInvalid || l == 0) return l;
  int dy, dx;
  if (!cell_offset(shift_dy(l), out.stride, round, dy) || !cell_offset(shift_dx(l), out.stride, round, dx))
    return kInvalid;
  if ((pad_y && dy != 0) || (pad_x && dx != 0)) return kInvalid;
  if (y + dy < 0 || y + dy >= out.h || x + dx < 0 || x + dx >= out.w) return kInvalid;
  return l;
}

// The label a position keeps from two it gathers (same_move), the first standing for both: in the
// approximate mode a stride-32 cell over blocks moved by 3 and 4 pixels reuses its cached value at
// offset 0, as a cell over blocks all moved by 3 pixels does.
inline Label merge(Label a, Label b, int stride, bool round) { return same_move(a, b, stride, round) ? a : kInvalid; }

// dst[x] = merge(a[Step * x], b[Step * x]) for x < n: the footprint of non-overlapping 2-wide windows
// (Step 2: the two columns of a pair; Step 1: two rows). A branch-free equality pass that vectorises,
// then the rounding merge only where two valid labels differ (a pair straddling two blocks).
template <int Step>
void merge_pairs(const Label* a, const Label* b, int n, int stride, bool round, Label* dst) {
  bool mixed = false;
  for (int x = 0; x < n; ++x) {
    const Label p = a[Step * x], q = b[Step * x];
    dst[x] = p == q ? p : kInvalid;
    mixed |= (p != q) & (p != kInvalid) & (q != kInvalid);
  }
  if (round && mixed)
    for (int x = 0; x < n; ++x)
      if (dst[x] == kInvalid) dst[x] = merge(a[Step * x], b[Step * x], stride, true);
}

// A footprint window of stride s (kernel s, no padding) over a map filled from blocks of a multiple of s
// positions: every output position reads inside one block, so it takes that block's label, checked for
// whole cells; only the positions whose shifted position would leave the map are then looked at one by
// one. `scratch` holds the output's block labels.
void propagate_block_footprint(const LabelMap& in, int s, bool round, LabelMap& out, std::vector<Label>& scratch) {
  const int cols = in.block_cols, rows = in.block_rows, ob = in.block / s;
  scratch.resize(static_cast<size_t>(cols) * rows);
  for (size_t b = 0; b < scratch.size(); ++b) {
    Label l = in.blocks[b];
    int dy, dx;
    if (l != kInvalid && l != 0 &&
        (!cell_offset(shift_dy(l), out.stride, round, dy) || !cell_offset(shift_dx(l), out.stride, round, dx)))
      l = kInvalid;
    scratch[b] = l;
  }
  out.fill_blocks(scratch.data(), cols, rows, ob);
  out.blocks = nullptr;  // scratch is reused by the next propagation
  bool cut = false;
  for (int by = 0; by < rows; ++by)
    for (int bx = 0; bx < cols; ++bx) {
      const Label l = scratch[static_cast<size_t>(by) * cols + bx];
      if (l == kInvalid || l == 0) continue;
      int dy = 0, dx = 0;
      cell_offset(shift_dy(l), out.stride, round, dy);
      cell_offset(shift_dx(l), out.stride, round, dx);
      const int y0 = by * ob, x0 = bx * ob;
      if (y0 + dy >= 0 && y0 + ob - 1 + dy < out.h && x0 + dx >= 0 && x0 + ob - 1 + dx < out.w) continue;
      for (int y = y0; y < y0 + ob; ++y)
        for (int x = x0; x < x0 + ob; ++x)
          if (y + dy < 0 || y + dy >= out.h || x + dx < 0 || x + dx >= out.w) out.row(y)[x] = kInvalid;
      cut = true;
    }
  if (cut) out.changed(false);  // runs and the shift summary are derived again on use
}

bool is_footprint(AxisWindow w) { return w.kernel == w.stride && w.pad == 0 && w.dilation == 1; }

}  // namespace

void propagate_window(const LabelMap& in, AxisWindow wy, AxisWindow wx, bool round, LabelMap& out,
                      std::vector<Label>& scratch) {
  if (in.all_zero) {
    out.fill(0);
    return;
  }
  if (in.blocks && is_footprint(wy) && wx.stride == wy.stride && is_footprint(wx) && in.block % wy.stride == 0 &&
      out.h * wy.stride == in.h && out.w * wx.stride == in.w) {
    propagate_block_footprint(in, wy.stride, round, out, scratch);
    return;
  }
  // Pass 1: per input row, the uniform label over each output column's horizontal window.
  scratch.resize(static_cast<size_t>(in.h) * out.w);
  // Non-overlapping pairs (the footprint of a stride-2 layer): a branch-free loop that vectorises.
  const bool pairs_x = wx.kernel == 2 && wx.stride == 2 && wx.pad == 0 && wx.dilation == 1 && 2 * out.w <= in.w;
  for (int r = 0; r < in.h; ++r) {
    const Label* src = in.row(r);
    Label* dst = scratch.data() + static_cast<size_t>(r) * out.w;
    if (pairs_x) {
      merge_pairs<2>(src, src + 1, out.w, out.stride, round, dst);
      continue;
    }
    for (int x = 0; x < out.w; ++x) {
      int c0 = x * wx.stride - wx.pad;
      Label l = 0;
      bool first = true;
      for (int j = 0; j < wx.kernel; ++j) {
        int c = c0 + j * wx.dilation;
        if (c < 0 || c >= in.w) continue;
        l = first ? src[c] : merge(l, src[c], out.stride, round);
        first = false;
        if (l == kInvalid) break;
      }
      dst[x] = l;
    }
  }
  // Pass 2: vertical windows, then the cell / padding / bounds rules.
  const bool pairs_y = wy.kernel == 2 && wy.stride == 2 && wy.pad == 0 && wy.dilation == 1 && 2 * out.h <= in.h;
  bool all_zero = true;
  for (int y = 0; y < out.h; ++y) {
    int r0 = y * wy.stride - wy.pad;
    int r_last = r0 + (wy.kernel - 1) * wy.dilation;
    bool pad_y = r0 < 0 || r_last >= in.h;
    Label* dst = out.row(y);
    if (pairs_y) {
      const Label* s0 = scratch.data() + static_cast<size_t>(r0) * out.w;
      const Label* s1 = s0 + out.w;
      merge_pairs<1>(s0, s1, out.w, out.stride, round, dst);
      for (int x = 0; x < out.w; ++x) {
        Label l = dst[x];
        if (l != 0 && l != kInvalid) {
          int c0 = x * wx.stride - wx.pad;
          dst[x] = l = accept(l, y, x, out, false, c0 < 0 || c0 + (wx.kernel - 1) * wx.dilation >= in.w, round);
        }
        all_zero = all_zero && l == 0;
      }
      continue;
    }
    for (int x = 0; x < out.w; ++x) {
      Label l = 0;
      bool first = true;
      for (int j = 0; j < wy.kernel; ++j) {
        int r = r0 + j * wy.dilation;
        if (r < 0 || r >= in.h) continue;
        Label s = scratch[static_cast<size_t>(r) * out.w + x];
        l = first ? s : merge(l, s, out.stride, round);
        first = false;
        if (l == kInvalid) break;
      }
      int c0 = x * wx.stride - wx.pad;
      bool pad_x = c0 < 0 || c0 + (wx.kernel - 1) * wx.dilation >= in.w;
      l = accept(l, y, x, out, pad_y, pad_x, round);
      dst[x] = l;
      all_zero = all_zero && l == 0;
    }
  }
  out.changed(all_zero);
}

void propagate_transposed(const LabelMap& in, AxisWindow wy, AxisWindow wx, bool round, LabelMap& out) {
  if (in.all_zero) {
    out.fill(0);
    return;
  }
  // Output o gathers i = (o + pad - j*d) / stride for the j where that divides; positions beyond the
  // input contribute nothing, which (like padding) must look the same before and after the shift.
  auto range = [](int o, AxisWindow w, int& lo, int& hi) {
    int top = o + w.pad;                                   // j = 0
    int bottom = o + w.pad - (w.kernel - 1) * w.dilation;  // j = kernel - 1
    hi = top >= 0 ? top / w.stride : -((-top + w.stride - 1) / w.stride);
    lo = bottom >= 0 ? (bottom + w.stride - 1) / w.stride : -((-bottom) / w.stride);
  };
  bool all_zero = true;
  for (int y = 0; y < out.h; ++y) {
    int ylo, yhi;
    range(y, wy, ylo, yhi);
    bool pad_y = ylo < 0 || yhi >= in.h;
    for (int x = 0; x < out.w; ++x) {
      int xlo, xhi;
      range(x, wx, xlo, xhi);
      bool pad_x = xlo < 0 || xhi >= in.w;
      Label l = 0;
      bool first = true;
      for (int r = std::max(ylo, 0); r <= std::min(yhi, in.h - 1) && l != kInvalid; ++r)
        for (int c = std::max(xlo, 0); c <= std::min(xhi, in.w - 1); ++c) {
          Label s = in.row(r)[c];
          l = first ? s : merge(l, s, out.stride, round);
          first = false;
          if (l == kInvalid) break;
        }
      l = accept(l, y, x, out, pad_y, pad_x, round);
      out.row(y)[x] = l;
      all_zero = all_zero && l == 0;
    }
  }
  out.changed(all_zero);
}

void propagate_upsample(const LabelMap& in, int up_y, int up_x, bool round, LabelMap& out) {
  if (in.all_zero) {
    out.fill(0);
    return;
  }
  bool all_zero = true;
  for (int y = 0; y < out.h; ++y) {
    const Label* src = in.row(y / up_y);
    Label* dst = out.row(y);
    for (int x = 0; x < out.w; ++x) {
      Label l = accept(src[x / up_x], y, x, out, false, false, round);
      dst[x] = l;
      all_zero = all_zero && l == 0;
    }
  }
  out.changed(all_zero);
}

void propagate_pointwise(const LabelMap* const* inputs, int count, bool round, LabelMap& out) {
  bool all_zero = true;
  for (int i = 0; i < count; ++i) all_zero = all_zero && inputs[i]->all_zero;
  if (all_zero) {
    out.fill(0);
    return;
  }
  size_t n = out.v.size();
  std::memcpy(out.v.data(), inputs[0]->v.data(), n * sizeof(Label));
  for (int i = 1; i < count; ++i) {
    const Label* s = inputs[i]->v.data();
    for (size_t k = 0; k < n; ++k)
      if (out.v[k] != s[k]) out.v[k] = merge(out.v[k], s[k], out.stride, round);
  }
  out.summarize();
}

}  // namespace fx
