#include "runtime/planner.h"

#include <algorithm>
#include <cmath>

namespace fx {

BlockPlanner::BlockPlanner(int width, int height, PlannerOptions opt)
    : opt_(opt), aligner_(width, height, opt.aligner) {
  age_.assign(static_cast<size_t>(aligner_.cols()) * aligner_.rows(), 0);
}

void BlockPlanner::reset() {
  have_prev_ = false;
  std::fill(age_.begin(), age_.end(), 0);
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
  rep = PlanReport{};
  rep.motion = MotionAligner::stats(field_);
  const int cols = aligner_.cols(), rows = aligner_.rows();
  labels.resize(static_cast<size_t>(cols) * rows);
  motion.resize(labels.size());
  std::vector<float> sal;
  if (!opt_.exact) sal = salience(prior);
  const bool gate = !opt_.exact && rep.motion.candidate_share <= opt_.gate_max_share;
  for (int by = 0; by < rows; ++by)
    for (int bx = 0; bx < cols; ++bx) {
      size_t k = static_cast<size_t>(by) * cols + bx;
      const BlockMotion& m = field_.at(bx, by);
      motion[k] = pack_shift(m.mv.dx, m.mv.dy);
      bool critical = m.exposed;
      if (!m.candidate && !opt_.exact && opt_.tau_salient > 0 && m.cost > opt_.tau_salient && sal[k] >= opt_.sigma) {
        critical = true;
      } else if (m.candidate) {
        ++rep.candidate_blocks;
        if (!gate || sal[k] >= opt_.sigma || age_[k] + 1 >= opt_.stale_frames) {
          critical = true;
        } else {
          ++rep.salient_skipped;
          ++age_[k];
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
  prev_field_ = field_;
  have_prev_ = true;
}

}  // namespace fx
