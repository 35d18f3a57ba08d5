#include "runtime/session.h"

#include <algorithm>
#include <cmath>

#include "runtime/error.h"
#include "runtime/io/video_reader.h"

namespace fx {

namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

}  // namespace

const char* mode_name(SessionMode m) {
  switch (m) {
    case SessionMode::Dense: return "dense";
    case SessionMode::Exact: return "exact";
    case SessionMode::FluxShard: return "fluxshard";
  }
  return "?";
}

SessionMode parse_mode(const std::string& s) {
  if (s == "dense") return SessionMode::Dense;
  if (s == "exact") return SessionMode::Exact;
  if (s == "fluxshard") return SessionMode::FluxShard;
  throw Error("unknown mode '" + s + "' (dense, exact or fluxshard)");
}

StreamSession::StreamSession(std::shared_ptr<const Plan> plan, std::shared_ptr<ThreadPool> pool, SessionOptions opt,
                             std::shared_ptr<const OpRunner> runner)
    : plan_(std::move(plan)), pool_(std::move(pool)), runner_(std::move(runner)), opt_(opt) {
  if (!runner_) runner_ = std::make_shared<OpRunner>(plan_);
  layout_ = output_layout(*plan_);
  if (opt_.sigma < 0) opt_.sigma = plan_->task() == "segment" ? 0.05f : 0.1f;
  if (opt_.mode == SessionMode::Dense) {
    dense_ = std::make_unique<DenseExecutor>(plan_, pool_, runner_);
  } else {
    sparse_ = std::make_unique<SparseExecutor>(plan_, pool_, opt_.aligner.block, runner_);
    aligner_ = std::make_unique<MotionAligner>(plan_->input_w(), plan_->input_h(), opt_.aligner);
    size_t blocks = static_cast<size_t>(sparse_->block_cols()) * sparse_->block_rows();
    block_labels_.assign(blocks, 0);
    block_motion_.assign(blocks, 0);
    age_.assign(blocks, 0);
    // Truncation thresholds per motion bucket, from the plan's profiled table.
    if (opt_.mode == SessionMode::FluxShard && plan_->fb().truncation()) {
      for (const auto* b : *plan_->fb().truncation()) {
        std::vector<float> eps(static_cast<size_t>(plan_->op_count()), 0.f);
        if (b->eps())
          for (flatbuffers::uoffset_t i = 0; i < b->eps()->size() && i < eps.size(); ++i)
            eps[i] = std::max(0.f, b->eps()->Get(i)) * opt_.eps_scale;
        bucket_eps_.push_back(std::move(eps));
      }
    }
  }
}

const float* StreamSession::output_data(size_t i) {
  return dense_ ? dense_->output_data(i) : sparse_->output_data(i);
}

const std::vector<float>* StreamSession::thresholds(const MotionStats& m, int& bucket) {
  bucket = -1;
  if (opt_.mode != SessionMode::FluxShard) return nullptr;
  if (opt_.eps_override) return opt_.eps_override;
  const auto* table = plan_->fb().truncation();
  if (!table || table->size() == 0 || bucket_eps_.empty()) return nullptr;
  for (flatbuffers::uoffset_t i = 0; i < table->size(); ++i) {
    const auto* b = table->Get(i);
    if (m.median_mv <= b->max_median_mv() && m.candidate_share <= b->max_candidate_share()) {
      bucket = static_cast<int>(i);
      return &bucket_eps_[i];
    }
  }
  bucket = static_cast<int>(table->size()) - 1;
  return &bucket_eps_.back();
}

// Salience of each block: the share of sample points of the block that fall on the previous frame's
// detections (their masks for segment models), each detection moved by the median motion of the blocks
// it covers. Motion v says the block at p came from p + v in the reference, so an object at b in the
// reference is now at b - v.
std::vector<float> StreamSession::block_salience() const {
  const int B = opt_.aligner.block, cols = sparse_->block_cols(), rows = sparse_->block_rows();
  std::vector<float> sal(static_cast<size_t>(cols) * rows, 0.f);
  const bool masks = !result_.masks.empty() && result_.masks.size() == prev_dets_.size();
  for (size_t i = 0; i < prev_dets_.size(); ++i) {
    const float* b = prev_dets_[i].box;
    int bx0 = std::max(0, static_cast<int>(b[0]) / B), bx1 = std::min(cols - 1, static_cast<int>(b[2]) / B);
    int by0 = std::max(0, static_cast<int>(b[1]) / B), by1 = std::min(rows - 1, static_cast<int>(b[3]) / B);
    std::vector<int> dxs, dys;
    for (int y = by0; y <= by1; ++y)
      for (int x = bx0; x <= bx1; ++x) {
        dxs.push_back(field_.at(x, y).mv.dx);
        dys.push_back(field_.at(x, y).mv.dy);
      }
    int mdx = 0, mdy = 0;
    if (!dxs.empty()) {
      std::nth_element(dxs.begin(), dxs.begin() + dxs.size() / 2, dxs.end());
      std::nth_element(dys.begin(), dys.begin() + dys.size() / 2, dys.end());
      mdx = dxs[dxs.size() / 2], mdy = dys[dys.size() / 2];
    }
    // The warped box, and the blocks it touches.
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
              // The point in the previous frame, in source pixels.
              float qx = (px + mdx - lb_.pad_left) / lb_.scale, qy = (py + mdy - lb_.pad_top) / lb_.scale;
              const Mask& m = result_.masks[i];
              int mx = static_cast<int>(qx), my = static_cast<int>(qy);
              if (mx < 0 || my < 0 || mx >= m.width || my >= m.height || !m.data[static_cast<size_t>(my) * m.width + mx])
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

// Miss classifier: critical blocks are recomputed from the frame; the others are taken from the
// reference, moved by their vector.
void StreamSession::classify(std::vector<Label>& labels, FrameReport& rep) {
  const int cols = sparse_->block_cols(), rows = sparse_->block_rows();
  std::vector<float> sal;
  if (opt_.mode == SessionMode::FluxShard) sal = block_salience();
  for (int by = 0; by < rows; ++by)
    for (int bx = 0; bx < cols; ++bx) {
      size_t k = static_cast<size_t>(by) * cols + bx;
      const BlockMotion& m = field_.at(bx, by);
      block_motion_[k] = pack_shift(m.mv.dx, m.mv.dy);
      bool critical = m.exposed;
      if (m.candidate) {
        ++rep.candidate_blocks;
        if (opt_.mode == SessionMode::Exact || sal[k] >= opt_.sigma || age_[k] + 1 >= opt_.stale_frames) {
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
        labels[k] = block_motion_[k];
      }
    }
}

void StreamSession::refresh_slices(double budget_ms) {
  if (budget_ms <= 0 || !sparse_ || opt_.mode != SessionMode::FluxShard) return;
  auto t0 = Clock::now();
  // Yield at op boundaries: one op at a time while the budget lasts; the cursor resumes next frame.
  int n = plan_->op_count();
  for (int done = 0; done < n && ms_since(t0) < budget_ms; ++done) {
    sparse_->refresh_op(refresh_cursor_);
    refresh_cursor_ = (refresh_cursor_ + 1) % n;
  }
}

const FrameResult& StreamSession::process(const Frame& frame, FrameReport* report) {
  FrameReport rep;
  rep.frame = frames_;
  rep.mode = opt_.mode;
  auto t0 = Clock::now();
  const int W = plan_->input_w(), H = plan_->input_h();
  cur_.resize(static_cast<size_t>(W) * H * 3);
  letterbox_rgb(frame.rgb.data(), frame.width, frame.height, W, H, cur_.data(), &lb_);
  rep.time.preprocess_ms = ms_since(t0);

  if (opt_.mode == SessionMode::Dense) {
    auto t1 = Clock::now();
    rgb_to_planar_float(cur_.data(), W, H, dense_->input_data());
    dense_->invoke();
    rep.time.execute_ms = ms_since(t1);
    rep.sparse.local_positions = 1;
    rep.sparse.recomputed_positions = 1;
    rep.sparse.local_flops = rep.sparse.recomputed_flops = static_cast<double>(plan_->total_flops());
    rep.critical_blocks = (W / opt_.aligner.block) * (H / opt_.aligner.block);
  } else if (!sparse_->initialised()) {
    auto t1 = Clock::now();
    sparse_->reset(cur_.data());
    rep.sparse = sparse_->stats();
    rep.time.execute_ms = ms_since(t1);
    rep.critical_blocks = sparse_->block_cols() * sparse_->block_rows();
  } else {
    auto t1 = Clock::now();
    std::vector<CodecHint> hints;
    if (opt_.codec_mvs && !frame.mvs.empty()) hints = codec_hints(frame.mvs, lb_);
    aligner_->estimate(cur_.data(), sparse_->reference_rgb(), have_prev_ ? &prev_field_ : nullptr, hints, field_,
                       pool_.get());
    rep.motion = MotionAligner::stats(field_);
    rep.time.motion_ms = ms_since(t1);
    auto t2 = Clock::now();
    classify(block_labels_, rep);
    SparseParams params;
    params.round_offsets = opt_.mode == SessionMode::FluxShard;
    params.eps = thresholds(rep.motion, rep.bucket);
    params.block_motion = &block_motion_;
    rep.time.classify_ms = ms_since(t2);
    auto t3 = Clock::now();
    rep.sparse = sparse_->run(block_labels_, cur_.data(), params);
    rep.time.execute_ms = ms_since(t3);
    prev_field_ = field_;
    have_prev_ = true;
  }

  auto t4 = Clock::now();
  const float* out0 = output_data(0);
  const float* protos = layout_.protos >= 0 ? output_data(1) : nullptr;
  result_ = postprocess(layout_, out0, protos, lb_, opt_.post);
  // The detections, back in input pixels, feed the next frame's salience.
  prev_dets_ = result_.detections;
  for (Detection& d : prev_dets_) letterbox_box(lb_, d.box);
  rep.time.post_ms = ms_since(t4);
  if (opt_.refresh_ms > 0) {
    auto t5 = Clock::now();
    refresh_slices(opt_.refresh_ms);
    rep.time.refresh_ms = ms_since(t5);
  }
  ++frames_;
  if (report) *report = rep;
  return result_;
}

}  // namespace fx
