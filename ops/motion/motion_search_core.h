// The per-block decision logic of the motion search (runtime/motion/aligner.h, steps 1-5), written once
// for the host and the device. The only parallel parts, evaluating the SADs of a list of vectors and
// finding the best vector of the whole window, are delegated to an evaluator:
//   void eval(MotionCand* list, int n);                      // sets list[i].sad
//   MotionCand best_in_rect(int dx_lo, int dx_hi, int dy_lo, int dy_hi);  // min under the key
// MotionAligner (runtime/motion/aligner.cpp) runs it with batched SIMD SADs and a per-block memo; the
// CUDA search (ops/motion/sad_cuda.cu) runs it in every thread of a thread block on identical data (the
// evaluator shares its results through shared memory), so the control flow is uniform; the tests run
// it with a plain serial evaluator (tests/test_cuda_ops.cpp, "host").
#pragma once

#include <cstdint>
#include <vector>

#include "ops/cuda/common.h"

namespace fx {

struct MotionCand {  // plain data (it lives in shared memory on the GPU)
  int dx, dy;
  uint32_t sad;
};

// The ranking key (SAD, |dx| + |dy|, dy, dx), lexicographic.
FX_HD bool motion_better(const MotionCand& a, const MotionCand& b) {
  if (a.sad != b.sad) return a.sad < b.sad;
  const int na = (a.dx < 0 ? -a.dx : a.dx) + (a.dy < 0 ? -a.dy : a.dy);
  const int nb = (b.dx < 0 ? -b.dx : b.dx) + (b.dy < 0 ? -b.dy : b.dy);
  if (na != nb) return na < nb;
  if (a.dy != b.dy) return a.dy < b.dy;
  return a.dx < b.dx;
}

FX_HD int motion_floor_div(int a, int b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

constexpr int kMotionMaxHints = 4;  // MotionAligner::kMaxHintsPerBlock
constexpr int kMotionRefineIters = 8;

struct MotionJob {
  int width = 0, height = 0;  // pixels (multiples of B)
  int B = 16, window = 16;
  int cols = 0, rows = 0;
  uint32_t tau_sad = 0, margin_sad = 0;
  bool stride_aware = true;
  const int16_t* prev_mv = nullptr;      // cols * rows * (dx, dy), or null
  const int16_t* hint_mv = nullptr;      // cols * rows * kMotionMaxHints * (dx, dy), or null
  const uint8_t* hint_count = nullptr;   // cols * rows, or null
};

struct MotionResult {
  int16_t dx = 0, dy = 0;
  uint32_t sad = 0;
  uint8_t candidate = 0, exposed = 0;
};

// The valid-vector rectangle of block (bx, by).
struct MotionRect {
  int dx_lo, dx_hi, dy_lo, dy_hi;
};
FX_HD MotionRect motion_rect(const MotionJob& j, int bx, int by) {
  const int x0 = bx * j.B, y0 = by * j.B;
  MotionRect r;
  r.dx_lo = -j.window > -x0 ? -j.window : -x0;
  r.dx_hi = j.window < j.width - j.B - x0 ? j.window : j.width - j.B - x0;
  r.dy_lo = -j.window > -y0 ? -j.window : -y0;
  r.dy_hi = j.window < j.height - j.B - y0 ? j.window : j.height - j.B - y0;
  return r;
}

template <class Eval>
FX_HD MotionResult motion_search_block(const MotionJob& j, int bx, int by, Eval& ev) {
  const MotionRect R = motion_rect(j, bx, by);
  auto valid = [&](int dx, int dy) { return dx >= R.dx_lo && dx <= R.dx_hi && dy >= R.dy_lo && dy <= R.dy_hi; };
  auto clamp = [&](int dx, int dy) {
    MotionCand c;
    c.dx = dx < R.dx_lo ? R.dx_lo : dx > R.dx_hi ? R.dx_hi : dx;
    c.dy = dy < R.dy_lo ? R.dy_lo : dy > R.dy_hi ? R.dy_hi : dy;
    c.sad = 0;
    return c;
  };
  auto best_of = [&](const MotionCand* l, int n) {
    MotionCand b = l[0];
    for (int i = 1; i < n; ++i)
      if (motion_better(l[i], b)) b = l[i];
    return b;
  };

  // 1. seeds
  MotionCand list[1 + 5 + kMotionMaxHints];
  int n = 0;
  list[n++] = MotionCand{0, 0, 0};
  if (j.prev_mv) {
    const int nb[5][2] = {{0, 0}, {-1, 0}, {1, 0}, {0, -1}, {0, 1}};
    for (int i = 0; i < 5; ++i) {
      const int nx = bx + nb[i][0], ny = by + nb[i][1];
      if (nx < 0 || ny < 0 || nx >= j.cols || ny >= j.rows) continue;
      const int16_t* v = j.prev_mv + (static_cast<int64_t>(ny) * j.cols + nx) * 2;
      list[n++] = clamp(v[0], v[1]);
    }
  }
  if (j.hint_mv) {
    const int64_t b = static_cast<int64_t>(by) * j.cols + bx;
    const int nh = j.hint_count[b];
    for (int i = 0; i < nh && i < kMotionMaxHints; ++i) {
      const int16_t* v = j.hint_mv + (b * kMotionMaxHints + i) * 2;
      list[n++] = clamp(v[0], v[1]);
    }
  }
  ev.eval(list, n);
  MotionCand best = best_of(list, n);

  // 2. refinement: square patterns of step 4, 2, 1
  if (best.sad != 0) {
    const int steps[3] = {4, 2, 1};
    for (int si = 0; si < 3; ++si) {
      const int s = steps[si];
      for (int it = 0; it < kMotionRefineIters; ++it) {
        MotionCand nl[8];
        int m = 0;
        for (int oy = -1; oy <= 1; ++oy)
          for (int ox = -1; ox <= 1; ++ox) {
            if (ox == 0 && oy == 0) continue;
            const int dx = best.dx + s * ox, dy = best.dy + s * oy;
            if (valid(dx, dy)) {
              nl[m].dx = dx;
              nl[m].dy = dy;
              nl[m].sad = 0;
              ++m;
            }
          }
        if (m == 0) break;
        ev.eval(nl, m);
        const MotionCand nbest = best_of(nl, m);
        if (!motion_better(nbest, best)) break;
        best = nbest;
      }
    }
  }

  // 3. exhaustive search when still above tau
  if (best.sad > j.tau_sad) best = ev.best_in_rect(R.dx_lo, R.dx_hi, R.dy_lo, R.dy_hi);

  // 4. stride-aware choice
  if (j.stride_aware && best.sad <= j.tau_sad) {
    const uint64_t lim = static_cast<uint64_t>(best.sad) + j.margin_sad;
    const uint32_t limit = lim < j.tau_sad ? static_cast<uint32_t>(lim) : j.tau_sad;
    const int strides[3] = {32, 16, 8};
    for (int si = 0; si < 3; ++si) {
      const int S = strides[si];
      if (best.dx % S == 0 && best.dy % S == 0) break;
      const int fx0 = motion_floor_div(best.dx, S) * S, fy0 = motion_floor_div(best.dy, S) * S;
      const int xs[2] = {fx0, best.dx % S == 0 ? fx0 : fx0 + S};
      const int ys[2] = {fy0, best.dy % S == 0 ? fy0 : fy0 + S};
      MotionCand cs[4];
      int nc = 0;
      for (int iy = 0; iy < 2; ++iy)
        for (int ix = 0; ix < 2; ++ix) {
          if ((ix == 1 && xs[1] == xs[0]) || (iy == 1 && ys[1] == ys[0])) continue;
          if (!valid(xs[ix], ys[iy])) continue;
          cs[nc].dx = xs[ix];
          cs[nc].dy = ys[iy];
          cs[nc].sad = 0;
          ++nc;
        }
      if (nc == 0) continue;
      ev.eval(cs, nc);
      bool found = false;
      MotionCand pick{0, 0, 0};
      for (int i = 0; i < nc; ++i) {
        if (cs[i].sad > limit) continue;
        if (!found || motion_better(cs[i], pick)) {
          pick = cs[i];
          found = true;
        }
      }
      if (found) {
        best = pick;
        break;
      }
    }
  }

  // 5. output
  MotionResult r;
  r.dx = static_cast<int16_t>(best.dx);
  r.dy = static_cast<int16_t>(best.dy);
  r.sad = best.sad;
  r.candidate = best.sad > j.tau_sad;
  const bool clipped = R.dx_lo > -j.window || R.dx_hi < j.window || R.dy_lo > -j.window || R.dy_hi < j.window;
  r.exposed = r.candidate && clipped;
  return r;
}

// Host side: the per-block hint lists of MotionAligner::estimate (the first kMotionMaxHints distinct
// vectors, in `hints` order, of the hints whose rectangle contains the block centre; vectors clamped
// to +-32767). HintRect mirrors CodecHint. vecs: cols * rows * kMotionMaxHints * 2, counts: cols * rows.
struct HintRect {
  int x, y, w, h, dx, dy;
};
inline void motion_block_hints(const HintRect* hints, size_t count, int B, int cols, int rows,
                               std::vector<int16_t>& vecs, std::vector<uint8_t>& counts) {
  const size_t nb = static_cast<size_t>(cols) * rows;
  vecs.assign(nb * kMotionMaxHints * 2, 0);
  counts.assign(nb, 0);
  const int half = B / 2;
  auto clamp16 = [](int v) { return static_cast<int16_t>(v < -32767 ? -32767 : v > 32767 ? 32767 : v); };
  for (size_t i = 0; i < count; ++i) {
    const HintRect& h = hints[i];
    if (h.w <= 0 || h.h <= 0) continue;
    int bx0 = -motion_floor_div(-(h.x - half), B), bx1 = motion_floor_div(h.x + h.w - 1 - half, B);
    int by0 = -motion_floor_div(-(h.y - half), B), by1 = motion_floor_div(h.y + h.h - 1 - half, B);
    bx0 = bx0 < 0 ? 0 : bx0;
    by0 = by0 < 0 ? 0 : by0;
    bx1 = bx1 > cols - 1 ? cols - 1 : bx1;
    by1 = by1 > rows - 1 ? rows - 1 : by1;
    const int16_t vx = clamp16(h.dx), vy = clamp16(h.dy);
    for (int by = by0; by <= by1; ++by)
      for (int bx = bx0; bx <= bx1; ++bx) {
        const size_t b = static_cast<size_t>(by) * cols + bx;
        int16_t* list = &vecs[b * kMotionMaxHints * 2];
        const int n = counts[b];
        if (n >= kMotionMaxHints) continue;
        bool dup = false;
        for (int k = 0; k < n; ++k) dup |= list[2 * k] == vx && list[2 * k + 1] == vy;
        if (!dup) {
          list[2 * n] = vx;
          list[2 * n + 1] = vy;
          counts[b] = static_cast<uint8_t>(n + 1);
        }
      }
  }
}

}  // namespace fx
