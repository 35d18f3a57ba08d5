#include "runtime/motion/aligner.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "ops/motion/sad.h"
#include "ops/thread_pool.h"
#include "runtime/error.h"

namespace fx {

namespace {

// The evaluator of motion_search_block on the CPU: SADs through the batched SIMD kernel, each vector
// of a block computed once (a memo indexed by vector; the seeds, the refinement's overlapping squares
// and the stride-aware step ask for many vectors twice).
struct Scratch {
  std::vector<uint32_t> sad, stamp;
  uint32_t gen = 0;
  std::vector<ptrdiff_t> offs;
  std::vector<int> slot;
  std::vector<uint32_t> out;
};

class SimdEval {
 public:
  SimdEval(const uint8_t* cur, const uint8_t* ref, int stride, int B, int window, BlockSadMultiFn fn, Scratch& s,
           int bx, int by)
      : stride_(stride), B_(B), window_(window), span_(2 * window + 1), fn_(fn), s_(s) {
    const ptrdiff_t at = static_cast<ptrdiff_t>(by) * B * stride + static_cast<ptrdiff_t>(bx) * B * 3;
    a_ = cur + at;
    b_ = ref + at;
    if (++s_.gen == 0) {  // stamp wrap-around: forget everything
      std::fill(s_.stamp.begin(), s_.stamp.end(), 0u);
      s_.gen = 1;
    }
  }

  void eval(MotionCand* list, int n) {
    for (int i = 0; i < n; ++i) {
      const int k = slot(list[i].dx, list[i].dy);
      if (s_.stamp[k] == s_.gen) continue;
      s_.stamp[k] = s_.gen;
      s_.offs.push_back(static_cast<ptrdiff_t>(list[i].dy) * stride_ + list[i].dx * 3);
      s_.slot.push_back(k);
    }
    const int m = static_cast<int>(s_.offs.size());
    if (m > 0) {
      s_.out.resize(m);
      fn_(a_, stride_, b_, stride_, B_, s_.offs.data(), m, s_.out.data(), kSadExact);
      for (int i = 0; i < m; ++i) {
        s_.sad[s_.slot[i]] = s_.out[i];
        seen_min_ = std::min(seen_min_, s_.out[i]);
      }
      s_.offs.clear();
      s_.slot.clear();
    }
    for (int i = 0; i < n; ++i) list[i].sad = s_.sad[slot(list[i].dx, list[i].dy)];
  }

  // One kernel call per row of the window, without the memo (looking up the few known vectors costs
  // more than re-evaluating them). Every vector evaluated so far lies in the rectangle, so the best one
  // has a SAD of at most the least seen, and then of at most the best so far: the kernel may give up
  // on a candidate above that limit (it returns a value above it, which is skipped).
  MotionCand best_in_rect(int dx_lo, int dx_hi, int dy_lo, int dy_hi) {
    const int n = dx_hi - dx_lo + 1;
    s_.offs.resize(n);
    s_.out.resize(n);
    ptrdiff_t* offs = s_.offs.data();
    const uint32_t* sads = s_.out.data();
    uint32_t limit = seen_min_;
    MotionCand best{0, 0, kSadExact};
    for (int dy = dy_lo; dy <= dy_hi; ++dy) {
      const ptrdiff_t first = static_cast<ptrdiff_t>(dy) * stride_ + dx_lo * 3;
      for (int i = 0; i < n; ++i) offs[i] = first + i * 3;
      fn_(a_, stride_, b_, stride_, B_, offs, n, s_.out.data(), limit);
      for (int i = 0; i < n; ++i) {
        if (sads[i] > limit) continue;
        const MotionCand c{dx_lo + i, dy, sads[i]};
        if (motion_better(c, best)) best = c, limit = c.sad;
      }
    }
    s_.offs.clear();
    return best;
  }

 private:
  int slot(int dx, int dy) const { return (dy + window_) * span_ + (dx + window_); }

  int stride_, B_, window_, span_;
  BlockSadMultiFn fn_;
  Scratch& s_;
  const uint8_t* a_;
  const uint8_t* b_;
  uint32_t seen_min_ = kSadExact;  // the least SAD eval() computed for this block
};

// norm = B * B * 3 * 255: the largest SAD of a block, which normalised costs are relative to.
double sad_norm(int block) { return static_cast<double>(block) * block * 3 * 255; }

uint32_t sad_threshold(float v, double norm) {
  return static_cast<uint32_t>(std::min(std::floor(static_cast<double>(v) * norm), 4294967295.0));
}

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

void MotionAligner::prepare(const MotionField* prev, const std::vector<CodecHint>& hints,
                            MotionSearchInputs& in) const {
  const int B = opt_.block, C = cols(), R = rows();
  if (prev && (prev->block != B || prev->cols != C || prev->rows != R ||
               prev->blocks.size() != static_cast<size_t>(C) * R))
    throw Error("motion aligner: the previous motion field has another geometry (" + std::to_string(prev->cols) +
                "x" + std::to_string(prev->rows) + " blocks of " + std::to_string(prev->block) + " px, want " +
                std::to_string(C) + "x" + std::to_string(R) + " of " + std::to_string(B) + ")");
  MotionJob& j = in.job;
  j = MotionJob{};
  j.width = width_;
  j.height = height_;
  j.B = B;
  j.window = opt_.window;
  j.cols = C;
  j.rows = R;
  j.tau_sad = sad_threshold(opt_.tau, sad_norm(B));
  j.margin_sad = sad_threshold(opt_.stride_margin, sad_norm(B));
  j.stride_aware = opt_.stride_aware;
  if (prev) {
    in.prev_mv.resize(prev->blocks.size() * 2);
    for (size_t i = 0; i < prev->blocks.size(); ++i) {
      in.prev_mv[2 * i] = prev->blocks[i].mv.dx;
      in.prev_mv[2 * i + 1] = prev->blocks[i].mv.dy;
    }
    j.prev_mv = in.prev_mv.data();
  }
  if (!hints.empty()) {
    std::vector<HintRect> rects;
    rects.reserve(hints.size());
    for (const CodecHint& h : hints) rects.push_back({h.x, h.y, h.w, h.h, h.dx, h.dy});
    motion_block_hints(rects.data(), rects.size(), B, C, R, in.hint_mv, in.hint_count);
    j.hint_mv = in.hint_mv.data();
    j.hint_count = in.hint_count.data();
  }
}

BlockMotion MotionAligner::block_motion(const MotionResult& r) const {
  BlockMotion b;
  b.mv.dx = r.dx;
  b.mv.dy = r.dy;
  b.cost = static_cast<float>(static_cast<double>(r.sad) / sad_norm(opt_.block));
  b.candidate = r.candidate != 0;
  b.exposed = r.exposed != 0;
  return b;
}

void MotionAligner::estimate(const uint8_t* cur, const uint8_t* ref, const MotionField* prev,
                             const std::vector<CodecHint>& hints, MotionField& out, ThreadPool* pool) const {
  MotionSearchInputs in;
  prepare(prev, hints, in);
  const int C = cols(), R = rows();
  out.block = opt_.block;
  out.cols = C;
  out.rows = R;
  out.blocks.resize(static_cast<size_t>(C) * R);

  const BlockSadMultiFn fn = block_sad_rgb_multi_fn(best_isa());
  const int threads = pool ? pool->size() : 1;
  std::vector<Scratch> scratch(threads);
  const size_t span = 2 * static_cast<size_t>(opt_.window) + 1, slots = span * span;
  for (Scratch& s : scratch) {
    s.sad.resize(slots);
    s.stamp.assign(slots, 0u);
    s.offs.reserve(slots);
    s.slot.reserve(slots);
    s.out.reserve(slots);
  }

  auto do_row = [&](int64_t by, int thread) {
    for (int bx = 0; bx < C; ++bx) {
      SimdEval ev(cur, ref, width_ * 3, opt_.block, opt_.window, fn, scratch[thread], bx, static_cast<int>(by));
      out.blocks[static_cast<size_t>(by) * C + bx] = block_motion(motion_search_block(in.job, bx, static_cast<int>(by), ev));
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
