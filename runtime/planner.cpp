#include "runtime/planner.h"

#include <algorithm>
#include <cmath>

#include "runtime/baselines.h"
#include "ops/thread_pool.h"

namespace fx {

BlockPlanner::BlockPlanner(int width, int height, PlannerOptions opt)
    : opt_(opt), aligner_(width, height, opt.aligner) {
  const size_t n = static_cast<size_t>(aligner_.cols()) * aligner_.rows();
  age_.assign(n, 0);
  drift_.assign(n, 0.f);
  residual_.resize(n);
  // The refresh phase of each block: its 32-px cell's rank in the 8 x 8 Bayer matrix, / 64.
  const int per_cell = std::max(1, 32 / opt.aligner.block);
  phase_.resize(n);
  for (int by = 0; by < aligner_.rows(); ++by)
    for (int bx = 0; bx < aligner_.cols(); ++bx) {
      const int cx = (bx / per_cell) & 7, cy = (by / per_cell) & 7;
      int rank = 0;  // bit-interleave of (cx ^ cy, cy), reversed: the ordered-dither index
      for (int bit = 0; bit < 3; ++bit) {
        const int a = ((cx ^ cy) >> bit) & 1, b = (cy >> bit) & 1;
        rank |= (a << (5 - 2 * bit)) | (b << (4 - 2 * bit));
      }
      phase_[static_cast<size_t>(by) * aligner_.cols() + bx] = static_cast<float>(rank) / 64.f;
    }
}

void BlockPlanner::reset() {
  have_prev_ = false;
  std::fill(age_.begin(), age_.end(), 0);
  std::fill(drift_.begin(), drift_.end(), 0.f);
  noise_.reset();
}

// Each block's residual at its vector (block rows spread over the pool).
void BlockPlanner::measure(const uint8_t* cur, const uint8_t* ref, ThreadPool* pool) {
  const int B = opt_.aligner.block, cols = aligner_.cols(), rows = aligner_.rows(), W = aligner_.width();
  auto row = [&](int64_t by, int) {
    for (int bx = 0; bx < cols; ++bx) {
      const BlockMotion& m = field_.at(bx, static_cast<int>(by));
      residual_[static_cast<size_t>(by) * cols + bx] =
          block_residual(cur, ref, W, B, bx, static_cast<int>(by), m.mv.dx, m.mv.dy);
    }
  };
  if (pool && pool->size() > 1)
    pool->run(rows, row);
  else
    for (int by = 0; by < rows; ++by) row(by, 0);
}

// The drift the content of block (bx, by) brings along: R_t there is R_{t-1} at p + v, so its drift is
// that of the blocks the source rectangle overlaps (the largest: a bound, not an average).
float BlockPlanner::carried_drift(int bx, int by, const BlockMotion& m) const {
  const int B = opt_.aligner.block, cols = aligner_.cols();
  const int sx = bx * B + m.mv.dx, sy = by * B + m.mv.dy;
  const int x0 = sx / B, y0 = sy / B, x1 = (sx + B - 1) / B, y1 = (sy + B - 1) / B;
  float d = 0;
  for (int y = y0; y <= y1; ++y)
    for (int x = x0; x <= x1; ++x) d = std::max(d, prev_drift_[static_cast<size_t>(y) * cols + x]);
  return d;
}

// Salience of each block: the share of 4x4 sample points of the block that fall on the previous frame's
// detections (their masks for segment models), each detection moved by the median motion of the blocks
// under it. Motion v says the block at p came from p + v in the reference, so an object at b in the
// reference is now at b - v.
std::vector<float> BlockPlanner::salience(const SaliencePrior& prior) const {
  const int B = opt_.aligner.block, cols = aligner_.cols(), rows = aligner_.rows();
  std::vector<float> sal(static_cast<size_t>(cols) * rows, 0.f);
  if (!prior.detections) return sal;
  const auto& dets = *prior.detections;
  const bool masks = prior.masks && prior.masks->size() == dets.size() && !dets.empty();
  const LetterboxInfo& lb = prior.letterbox;
  std::vector<int> dxs, dys;
  for (size_t i = 0; i < dets.size(); ++i) {
    const float* b = dets[i].box;
    int bx0 = std::max(0, static_cast<int>(b[0]) / B), bx1 = std::min(cols - 1, static_cast<int>(b[2]) / B);
    int by0 = std::max(0, static_cast<int>(b[1]) / B), by1 = std::min(rows - 1, static_cast<int>(b[3]) / B);
    dxs.clear();
    dys.clear();
    for (int y = by0; y <= by1; ++y)
      for (int x = bx0; x <= bx1; ++x) {
        dxs.push_back(field_.at(x, y).mv.dx);
        dys.push_back(field_.at(x, y).mv.dy);
      }
    int mdx = 0, mdy = 0;
    if (!dxs.empty()) {
      std::nth_element(dxs.begin(), dxs.begin() + static_cast<long>(dxs.size() / 2), dxs.end());
      std::nth_element(dys.begin(), dys.begin() + static_cast<long>(dys.size() / 2), dys.end());
      mdx = dxs[dxs.size() / 2], mdy = dys[dys.size() / 2];
    }
    float x1 = b[0] - mdx, y1 = b[1] - mdy, x2 = b[2] - mdx, y2 = b[3] - mdy;
    int cx0 = std::max(0, static_cast<int>(std::floor(x1)) / B), cx1 = std::min(cols - 1, static_cast<int>(x2) / B);
    int cy0 = std::max(0, static_cast<int>(std::floor(y1)) / B), cy1 = std::min(rows - 1, static_cast<int>(y2) / B);
    for (int by = cy0; by <= cy1; ++by)
      for (int bx = cx0; bx <= cx1; ++bx) {
        int inside = 0;
        for (int sy = 0; sy < 4; ++sy)
          for (int sx = 0; sx < 4; ++sx) {
            float px = bx * B + (sx + 0.5f) * B / 4, py = by * B + (sy + 0.5f) * B / 4;
            if (px < x1 || px >= x2 || py < y1 || py >= y2) continue;
            if (masks) {
              const Mask& m = (*prior.masks)[i];
              int mx = static_cast<int>((px + mdx - lb.pad_left) / lb.scale);
              int my = static_cast<int>((py + mdy - lb.pad_top) / lb.scale);
              if (mx < 0 || my < 0 || mx >= m.width || my >= m.height ||
                  !m.data[static_cast<size_t>(my) * m.width + mx])
                continue;
            }
            ++inside;
          }
        float& s = sal[static_cast<size_t>(by) * cols + bx];
        s = std::min(1.f, s + inside / 16.f);
      }
  }
  return sal;
}

void BlockPlanner::plan(const uint8_t* cur, const uint8_t* ref, const std::vector<CodecHint>& hints,
                        const SaliencePrior& prior, std::vector<Label>& labels, std::vector<Label>& motion,
                        PlanReport& rep, ThreadPool* pool) {
  if (search_) search_->estimate(cur, ref, have_prev_ ? &prev_field_ : nullptr, hints, field_, pool);
  else aligner_.estimate(cur, ref, have_prev_ ? &prev_field_ : nullptr, hints, field_, pool);
  if (opt_.global_motion) global_motion(cur, ref, aligner_.width(), aligner_.height(), opt_.aligner, field_);
  rep = PlanReport{};
  const int cols = aligner_.cols(), rows = aligner_.rows();
  const size_t n = static_cast<size_t>(cols) * rows;
  const bool test = opt_.change.tau_rel >= 0, staleness = opt_.staleness.drift_bound > 0;
  if (test || staleness || opt_.staleness.fade_levels > 0) measure(cur, ref, pool);
  rep.noise = noise_.update(residual_);
  const float floor = change_floor(opt_.change, rep.noise);

  std::vector<float> sal;
  if (!opt_.exact) sal = salience(prior);

  // Candidates: the aligner's (normalised SAD above tau) and the change test's (stricter on salient
  // blocks, where a stale reference changes detections: tau_rel x tau_rel_salient there).
  size_t candidates = 0;
  const bool capped = test && opt_.change.cap > opt_.aligner.tau;
  size_t aligner_candidates = 0;
  ChangeTestOptions salient_test = opt_.change;
  salient_test.tau_rel *= opt_.tau_rel_salient;
  for (size_t k = 0; k < n; ++k) {
    BlockMotion& m = field_.blocks[k];
    aligner_candidates += m.candidate;
    if (test) {
      const bool s = !sal.empty() && sal[k] >= opt_.sigma;
      const bool c = changed(s ? salient_test : opt_.change, residual_[k], rep.noise, floor);
      if (!m.candidate && c) ++rep.changed_blocks;
      m.candidate = c || (capped ? m.cost > opt_.change.cap : m.candidate);
      m.exposed = m.exposed && m.candidate;
    }
    candidates += m.candidate;
  }
  rep.motion = MotionAligner::stats(field_);

  // Scene cut or fade: most blocks changed at once (by the aligner's absolute test too: a cut raises the
  // noise level the change test measures against), or the picture's level moved as a whole.
  if (opt_.staleness.cut_share > 0 && static_cast<double>(std::max(candidates, aligner_candidates)) >=
                                          opt_.staleness.cut_share * static_cast<double>(n))
    rep.refresh_all = true;
  if (!rep.refresh_all && opt_.staleness.fade_levels > 0) {
    offsets_.clear();
    for (const BlockResidual& r : residual_)
      if (r.mean_abs > 0) offsets_.push_back(r.offset);
    // A fade moves the level of most of the picture; a pan or a moving object changes a few blocks
    // (those newly exposed, or the object's), whose offsets say nothing about the whole picture.
    if (!offsets_.empty() && offsets_.size() * 2 >= n) {
      auto mid = offsets_.begin() + static_cast<long>(offsets_.size() / 2);
      std::nth_element(offsets_.begin(), mid, offsets_.end());
      rep.refresh_all = std::fabs(*mid) >= opt_.staleness.fade_levels;
    }
  }

  labels.resize(n);
  motion.resize(n);
  const bool gate = !opt_.exact && rep.motion.candidate_share <= opt_.gate_max_share;
  prev_drift_.swap(drift_);
  drift_.assign(n, 0.f);
  for (int by = 0; by < rows; ++by)
    for (int bx = 0; bx < cols; ++bx) {
      size_t k = static_cast<size_t>(by) * cols + bx;
      const BlockMotion& m = field_.at(bx, by);
      motion[k] = pack_shift(m.mv.dx, m.mv.dy);
      bool critical = m.exposed || rep.refresh_all;
      rep.candidate_blocks += m.candidate;
      if (critical) {
      } else if (!m.candidate && !opt_.exact && opt_.tau_salient > 0 && m.cost > opt_.tau_salient &&
                 sal[k] >= opt_.sigma) {
        critical = true;
      } else if (m.candidate) {
        if (!gate || sal[k] >= opt_.sigma || age_[k] + 1 >= opt_.stale_frames) {
          critical = true;
        } else {
          ++rep.salient_skipped;
          ++age_[k];
        }
      }
      if (!critical && staleness) {
        const float d = carried_drift(bx, by, m) + normalised_residual(residual_[k], rep.noise, floor);
        if (d > opt_.staleness.drift_bound * (1.f + phase_[k])) {
          critical = true;
          ++rep.drift_refreshed;
        } else {
          drift_[k] = d;
        }
      }
      if (critical) {
        labels[k] = kInvalid;
        age_[k] = 0;
        ++rep.critical_blocks;
      } else {
        labels[k] = motion[k];
      }
    }
  if (rep.refresh_all) noise_.undo();
  for (float d : drift_) rep.max_drift = std::max(rep.max_drift, d);
  prev_field_ = field_;
  have_prev_ = true;
}

}  // namespace fx
