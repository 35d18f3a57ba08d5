#include "runtime/motion/aligner.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>

#include "ops/motion/sad.h"
#include "ops/thread_pool.h"
#include "runtime/error.h"

namespace fx {

namespace {

struct Cand {
  int dx = 0, dy = 0;
  uint32_t sad = 0;
};

// The ranking key (SAD, |dx| + |dy|, dy, dx), lexicographic: a total order on distinct vectors.
inline bool better(const Cand& a, const Cand& b) {
  if (a.sad != b.sad) return a.sad < b.sad;
  const int na = std::abs(a.dx) + std::abs(a.dy), nb = std::abs(b.dx) + std::abs(b.dy);
  if (na != nb) return na < nb;
  if (a.dy != b.dy) return a.dy < b.dy;
  return a.dx < b.dx;
}

inline int floor_div(int a, int b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
inline int floor_mul(int v, int s) { return floor_div(v, s) * s; }

// Per-thread memo of the SADs already computed for the current block, indexed by vector.
struct Scratch {
  std::vector<uint32_t> sad, stamp;
  uint32_t gen = 0;
  std::vector<ptrdiff_t> offs;
  std::vector<int> slot;
  std::vector<Cand> pend;
  std::vector<uint32_t> out;
};

struct BlockJob {
  const uint8_t* cur;
  const uint8_t* ref;
  int stride;  // bytes per row (both images)
  int B, window, span;
  int width, height;
  uint32_t tau_sad, margin_sad;
  bool stride_aware;
  BlockSadMultiFn sad_fn;
};

class BlockSearch {
 public:
  BlockSearch(const BlockJob& j, Scratch& s, int bx, int by) : j_(j), s_(s) {
    x0_ = bx * j.B;
    y0_ = by * j.B;
    a_ = j.cur + static_cast<ptrdiff_t>(y0_) * j.stride + x0_ * 3;
    b_ = j.ref + static_cast<ptrdiff_t>(y0_) * j.stride + x0_ * 3;
    dx_lo_ = std::max(-j.window, -x0_);
    dx_hi_ = std::min(j.window, j.width - j.B - x0_);
    dy_lo_ = std::max(-j.window, -y0_);
    dy_hi_ = std::min(j.window, j.height - j.B - y0_);
    if (++s_.gen == 0) {  // stamp wrap-around: forget everything
      std::fill(s_.stamp.begin(), s_.stamp.end(), 0u);
      s_.gen = 1;
    }
  }

  bool clipped() const {
    return dx_lo_ > -j_.window || dx_hi_ < j_.window || dy_lo_ > -j_.window || dy_hi_ < j_.window;
  }
  bool valid(int dx, int dy) const { return dx >= dx_lo_ && dx <= dx_hi_ && dy >= dy_lo_ && dy <= dy_hi_; }
  Cand clamp(int dx, int dy) const {
    Cand c;
    c.dx = std::min(std::max(dx, dx_lo_), dx_hi_);
    c.dy = std::min(std::max(dy, dy_lo_), dy_hi_);
    return c;
  }

  // Queues a valid vector for evaluation (duplicates and already known vectors cost nothing).
  void add(int dx, int dy) {
    const int k = slot(dx, dy);
    Cand c;
    c.dx = dx;
    c.dy = dy;
    if (s_.stamp[k] == s_.gen) {
      c.sad = s_.sad[k];
    } else {
      s_.stamp[k] = s_.gen;
      s_.sad[k] = UINT32_MAX;  // marks "pending" until flush()
      s_.offs.push_back(static_cast<ptrdiff_t>(dy) * j_.stride + dx * 3);
      s_.slot.push_back(k);
    }
    s_.pend.push_back(c);
  }

  // Evaluates the queued vectors and returns the best of them (under the key), starting from `best`.
  Cand flush(Cand best, bool have_best) {
    const int n = static_cast<int>(s_.offs.size());
    if (n > 0) {
      s_.out.resize(n);
      j_.sad_fn(a_, j_.stride, b_, j_.stride, j_.B, s_.offs.data(), n, s_.out.data());
      for (int i = 0; i < n; ++i) s_.sad[s_.slot[i]] = s_.out[i];
      s_.offs.clear();
      s_.slot.clear();
    }
    for (Cand c : s_.pend) {
      c.sad = s_.sad[slot(c.dx, c.dy)];
      if (!have_best || better(c, best)) {
        best = c;
        have_best = true;
      }
    }
    s_.pend.clear();
    return best;
  }

  uint32_t sad_of(const Cand& c) { return s_.sad[slot(c.dx, c.dy)]; }

  BlockMotion run(const MotionField* prev, int bx, int by, const MotionVector* hints, int nhints) {
    // 1. seeds
    add(0, 0);
    if (prev) {
      static const int kNb[5][2] = {{0, 0}, {-1, 0}, {1, 0}, {0, -1}, {0, 1}};
      for (const auto& o : kNb) {
        const int nx = bx + o[0], ny = by + o[1];
        if (nx < 0 || ny < 0 || nx >= prev->cols || ny >= prev->rows) continue;
        const MotionVector v = prev->at(nx, ny).mv;
        const Cand c = clamp(v.dx, v.dy);
        add(c.dx, c.dy);
      }
    }
    for (int i = 0; i < nhints; ++i) {
      const Cand c = clamp(hints[i].dx, hints[i].dy);
      add(c.dx, c.dy);
    }
    Cand best = flush(Cand{}, false);

    // 2. refinement: square patterns of step 4, 2, 1
    if (best.sad != 0) {
      for (int s : {4, 2, 1}) {
        for (int it = 0; it < MotionAligner::kRefineIters; ++it) {
          for (int oy = -1; oy <= 1; ++oy)
            for (int ox = -1; ox <= 1; ++ox) {
              if (ox == 0 && oy == 0) continue;
              const int dx = best.dx + s * ox, dy = best.dy + s * oy;
              if (valid(dx, dy)) add(dx, dy);
            }
          if (s_.pend.empty()) break;
          const Cand n = flush(Cand{}, false);
          if (!better(n, best)) break;
          best = n;
        }
      }
    }

    // 3. exhaustive search when still above tau
    if (best.sad > j_.tau_sad) {
      // One kernel call per row of the window; no memo (re-evaluating the few known vectors is cheaper
      // than looking them up). The SADs of this step are not entered into the memo either, so step 4
      // recomputes the (at most 12) vectors it needs.
      const int n = dx_hi_ - dx_lo_ + 1;
      s_.offs.resize(n);
      s_.out.resize(n);
      for (int dy = dy_lo_; dy <= dy_hi_; ++dy) {
        const ptrdiff_t row = static_cast<ptrdiff_t>(dy) * j_.stride;
        for (int i = 0; i < n; ++i) s_.offs[i] = row + (dx_lo_ + i) * 3;
        j_.sad_fn(a_, j_.stride, b_, j_.stride, j_.B, s_.offs.data(), n, s_.out.data());
        for (int i = 0; i < n; ++i) {
          if (s_.out[i] > best.sad) continue;
          Cand c;
          c.dx = dx_lo_ + i;
          c.dy = dy;
          c.sad = s_.out[i];
          if (better(c, best)) best = c;
        }
      }
      s_.offs.clear();
    }

    // 4. stride-aware choice
    if (j_.stride_aware && best.sad <= j_.tau_sad) {
      const uint64_t limit = std::min<uint64_t>(static_cast<uint64_t>(best.sad) + j_.margin_sad, j_.tau_sad);
      for (int S : {32, 16, 8}) {
        if (best.dx % S == 0 && best.dy % S == 0) break;
        const int fx0 = floor_mul(best.dx, S), fy0 = floor_mul(best.dy, S);
        const int xs[2] = {fx0, best.dx % S == 0 ? fx0 : fx0 + S};
        const int ys[2] = {fy0, best.dy % S == 0 ? fy0 : fy0 + S};
        Cand cs[4];
        int nc = 0;
        for (int iy = 0; iy < 2; ++iy)
          for (int ix = 0; ix < 2; ++ix) {
            if ((ix == 1 && xs[1] == xs[0]) || (iy == 1 && ys[1] == ys[0])) continue;
            if (!valid(xs[ix], ys[iy])) continue;
            add(xs[ix], ys[iy]);
            cs[nc].dx = xs[ix];
            cs[nc].dy = ys[iy];
            ++nc;
          }
        if (nc == 0) continue;
        flush(Cand{}, false);
        bool found = false;
        Cand pick;
        for (int i = 0; i < nc; ++i) {
          Cand c = cs[i];
          c.sad = sad_of(c);
          if (c.sad > limit) continue;
          if (!found || better(c, pick)) {
            pick = c;
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
    BlockMotion r;
    r.mv.dx = static_cast<int16_t>(best.dx);
    r.mv.dy = static_cast<int16_t>(best.dy);
    const double norm = static_cast<double>(j_.B) * j_.B * 3 * 255;
    r.cost = static_cast<float>(static_cast<double>(best.sad) / norm);
    r.candidate = best.sad > j_.tau_sad;
    r.exposed = r.candidate && clipped();
    return r;
  }

 private:
  int slot(int dx, int dy) const { return (dy + j_.window) * j_.span + (dx + j_.window); }

  const BlockJob& j_;
  Scratch& s_;
  int x0_, y0_;
  const uint8_t* a_;
  const uint8_t* b_;
  int dx_lo_, dx_hi_, dy_lo_, dy_hi_;
};

}  // namespace

MotionAligner::MotionAligner(int width, int height, AlignerOptions opt) : width_(width), height_(height), opt_(opt) {
  if (opt.block < 1 || opt.block > 256)
    throw Error("motion aligner: block size " + std::to_string(opt.block) + " is not in [1, 256]");
  if (opt.window < 0 || opt.window > 1024)
    throw Error("motion aligner: search window " + std::to_string(opt.window) + " is not in [0, 1024]");
  if (width <= 0 || height <= 0 || width % opt.block != 0 || height % opt.block != 0)
    throw Error("motion aligner: image size " + std::to_string(width) + "x" + std::to_string(height) +
                " is not a positive multiple of the block size " + std::to_string(opt.block));
  if (!(opt.tau >= 0) || !(opt.stride_margin >= 0))
    throw Error("motion aligner: tau and stride_margin must be non-negative");
}

void MotionAligner::estimate(const uint8_t* cur, const uint8_t* ref, const MotionField* prev,
                             const std::vector<CodecHint>& hints, MotionField& out, ThreadPool* pool) const {
  const int B = opt_.block, C = cols(), R = rows();
  if (prev && (prev->block != B || prev->cols != C || prev->rows != R ||
               prev->blocks.size() != static_cast<size_t>(C) * R))
    throw Error("motion aligner: the previous motion field has another geometry (" + std::to_string(prev->cols) +
                "x" + std::to_string(prev->rows) + " blocks of " + std::to_string(prev->block) + " px, want " +
                std::to_string(C) + "x" + std::to_string(R) + " of " + std::to_string(B) + ")");
  out.block = B;
  out.cols = C;
  out.rows = R;
  out.blocks.resize(static_cast<size_t>(C) * R);

  // Hints per block: the first kMaxHintsPerBlock distinct vectors, in `hints` order, of the hints whose
  // rectangle contains the block centre.
  const size_t nb = static_cast<size_t>(C) * R;
  std::vector<MotionVector> hint_vecs;
  std::vector<uint8_t> hint_count;
  if (!hints.empty()) {
    hint_vecs.resize(nb * kMaxHintsPerBlock);
    hint_count.assign(nb, 0);
    const int half = B / 2;
    for (const CodecHint& h : hints) {
      if (h.w <= 0 || h.h <= 0) continue;
      // centre c = b * B + half in [x, x + w)  <=>  b in [ceil((x - half) / B), floor((x + w - 1 - half) / B)]
      const int bx0 = std::max(0, -floor_div(-(h.x - half), B)),
                bx1 = std::min(C - 1, floor_div(h.x + h.w - 1 - half, B));
      const int by0 = std::max(0, -floor_div(-(h.y - half), B)),
                by1 = std::min(R - 1, floor_div(h.y + h.h - 1 - half, B));
      MotionVector v;
      v.dx = static_cast<int16_t>(std::min(std::max(h.dx, -32767), 32767));
      v.dy = static_cast<int16_t>(std::min(std::max(h.dy, -32767), 32767));
      for (int by = by0; by <= by1; ++by)
        for (int bx = bx0; bx <= bx1; ++bx) {
          const size_t b = static_cast<size_t>(by) * C + bx;
          MotionVector* list = &hint_vecs[b * kMaxHintsPerBlock];
          const int n = hint_count[b];
          if (n >= kMaxHintsPerBlock) continue;
          bool dup = false;
          for (int i = 0; i < n; ++i) dup |= list[i] == v;
          if (!dup) {
            list[n] = v;
            hint_count[b] = static_cast<uint8_t>(n + 1);
          }
        }
    }
  }

  BlockJob job;
  job.cur = cur;
  job.ref = ref;
  job.stride = width_ * 3;
  job.B = B;
  job.window = opt_.window;
  job.span = 2 * opt_.window + 1;
  job.width = width_;
  job.height = height_;
  const double norm = static_cast<double>(B) * B * 3 * 255;
  job.tau_sad = static_cast<uint32_t>(std::min(std::floor(static_cast<double>(opt_.tau) * norm), 4294967295.0));
  job.margin_sad =
      static_cast<uint32_t>(std::min(std::floor(static_cast<double>(opt_.stride_margin) * norm), 4294967295.0));
  job.stride_aware = opt_.stride_aware;
  job.sad_fn = block_sad_rgb_multi_fn(best_isa());

  const int threads = pool ? pool->size() : 1;
  std::vector<Scratch> scratch(threads);
  const size_t slots = static_cast<size_t>(job.span) * job.span;
  for (Scratch& s : scratch) {
    s.sad.resize(slots);
    s.stamp.assign(slots, 0u);
    s.offs.reserve(slots);
    s.slot.reserve(slots);
    s.pend.reserve(slots);
    s.out.reserve(slots);
  }

  auto do_row = [&](int64_t by, int thread) {
    Scratch& s = scratch[thread];
    for (int bx = 0; bx < C; ++bx) {
      const size_t b = static_cast<size_t>(by) * C + bx;
      BlockSearch search(job, s, bx, static_cast<int>(by));
      const MotionVector* hv = hints.empty() ? nullptr : &hint_vecs[b * kMaxHintsPerBlock];
      const int nh = hints.empty() ? 0 : hint_count[b];
      out.blocks[b] = search.run(prev, bx, static_cast<int>(by), hv, nh);
    }
  };
  if (pool && pool->size() > 1) {
    pool->run(R, do_row);
  } else {
    for (int by = 0; by < R; ++by) do_row(by, 0);
  }
}

MotionStats MotionAligner::stats(const MotionField& f) {
  MotionStats s;
  const size_t n = f.blocks.size();
  if (n == 0) return s;
  std::vector<double> mags(n);
  size_t cand = 0, exp = 0, aligned = 0;
  double cost = 0;
  for (size_t i = 0; i < n; ++i) {
    const BlockMotion& b = f.blocks[i];
    cand += b.candidate;
    exp += b.exposed;
    aligned += (b.mv.dx % 8 == 0 && b.mv.dy % 8 == 0);
    cost += b.cost;
    mags[i] = std::sqrt(static_cast<double>(b.mv.dx) * b.mv.dx + static_cast<double>(b.mv.dy) * b.mv.dy);
  }
  std::sort(mags.begin(), mags.end());
  s.median_mv = n % 2 ? mags[n / 2] : 0.5 * (mags[n / 2 - 1] + mags[n / 2]);
  s.candidate_share = static_cast<double>(cand) / n;
  s.exposed_share = static_cast<double>(exp) / n;
  s.stride_aligned_share = static_cast<double>(aligned) / n;
  s.mean_cost = cost / n;
  return s;
}

std::vector<CodecHint> codec_hints(const std::vector<CodecMotionVector>& mvs, const LetterboxInfo& lb) {
  std::vector<CodecHint> out;
  out.reserve(mvs.size());
  const double sc = lb.scale;
  for (const CodecMotionVector& m : mvs) {
    if (m.source >= 0 || m.w <= 0 || m.h <= 0) continue;
    const double ms = m.motion_scale > 0 ? m.motion_scale : 1;
    CodecHint h;
    const double x0 = m.dst_x - m.w / 2, y0 = m.dst_y - m.h / 2;  // top-left (video_reader.h)
    h.x = static_cast<int>(std::lround(x0 * sc)) + lb.pad_left;
    h.y = static_cast<int>(std::lround(y0 * sc)) + lb.pad_top;
    h.w = static_cast<int>(std::lround(m.w * sc));
    h.h = static_cast<int>(std::lround(m.h * sc));
    if (h.w <= 0 || h.h <= 0) continue;
    h.dx = static_cast<int>(std::lround(m.motion_x / ms * sc));
    h.dy = static_cast<int>(std::lround(m.motion_y / ms * sc));
    out.push_back(h);
  }
  return out;
}

}  // namespace fx
