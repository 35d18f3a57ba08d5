#include "runtime/session.h"

#include <algorithm>
#include <cmath>

#include "runtime/error.h"
#include "runtime/util/clock.h"
#include "runtime/io/video_reader.h"

namespace fx {

namespace {


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

PlannerOptions planner_options(const SessionOptions& o, const std::string& task) {
  PlannerOptions po;
  po.aligner = o.aligner;
  po.exact = o.mode == SessionMode::Exact;
  po.sigma = o.sigma >= 0 ? o.sigma : (task == "segment" ? 0.05f : 0.1f);
  po.stale_frames = o.stale_frames;
  po.gate_max_share = o.gate_max_share;
  po.tau_salient = o.tau_salient;
  po.change = o.change;
  po.tau_rel_salient = o.tau_rel_salient;
  po.staleness = o.staleness;
  return po;
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
    planner_ = std::make_unique<BlockPlanner>(plan_->input_w(), plan_->input_h(), planner_options(opt_, plan_->task()));
    if (opt_.mode == SessionMode::FluxShard) truncation_ = TruncationTable(*plan_, opt_.eps_scale);
  }
}

const float* StreamSession::output_data(size_t i) {
  return dense_ ? dense_->output_data(i) : sparse_->output_data(i);
}

const std::vector<float>* StreamSession::thresholds(const MotionStats& m, int& bucket) {
  bucket = -1;
  if (opt_.mode != SessionMode::FluxShard) return nullptr;
  if (opt_.eps_override) return opt_.eps_override;
  bucket = truncation_.bucket(m);
  return truncation_.eps(bucket, &default_eps_);
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
  letterbox_rgb(frame.rgb.data(), frame.width, frame.height, W, H, cur_.data(), &lb_, pool_.get());
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
    if (opt_.mode == SessionMode::FluxShard) default_eps_ = default_eps(*plan_, *sparse_, opt_.island_eps);
    rep.time.execute_ms = ms_since(t1);
    rep.critical_blocks = sparse_->block_cols() * sparse_->block_rows();
  } else {
    auto t1 = Clock::now();
    std::vector<CodecHint> hints;
    if (opt_.codec_mvs && !frame.mvs.empty()) hints = codec_hints(frame.mvs, lb_);
    SaliencePrior prior;
    prior.detections = &prev_dets_;
    prior.masks = prior_masks_ok_ ? &result_.masks : nullptr;
    prior.letterbox = prev_lb_;
    PlanReport pr;
    planner_->plan(cur_.data(), sparse_->reference_rgb(), hints, prior, block_labels_, block_motion_, pr, pool_.get());
    rep.motion = pr.motion;
    rep.critical_blocks = pr.critical_blocks;
    rep.candidate_blocks = pr.candidate_blocks;
    rep.salient_skipped = pr.salient_skipped;
    rep.changed_blocks = pr.changed_blocks;
    rep.drift_refreshed = pr.drift_refreshed;
    rep.refresh_all = pr.refresh_all;
    rep.time.motion_ms = ms_since(t1);
    auto t2 = Clock::now();
    SparseParams params = SparseParams::for_mode(opt_.mode == SessionMode::FluxShard, opt_.island_reused_scale);
    params.footprint_only = params.footprint_only && opt_.footprint_only;
    params.eps = thresholds(rep.motion, rep.bucket);
    params.block_motion = &block_motion_;
    rep.time.classify_ms = ms_since(t2);
    auto t3 = Clock::now();
    rep.sparse = sparse_->run(block_labels_, cur_.data(), params);
    rep.time.execute_ms = ms_since(t3);
  }

  auto t4 = Clock::now();
  const float* out0 = output_data(0);
  const float* protos = layout_.protos >= 0 ? output_data(1) : nullptr;
  if (planner_ && opt_.salience_conf < opt_.post.decode.conf) {
    // One decode at the salience prior's lower threshold serves both: a box below the reporting
    // threshold never suppresses one above it (NMS keeps the higher score), so the reported detections
    // are exactly those of a decode at the reporting threshold.
    DecodeOptions d = opt_.post.decode;
    d.conf = opt_.salience_conf;
    prev_dets_ = decode_detections(out0, layout_.rows, layout_.anchors, layout_.num_classes, layout_.num_mask_coef, d);
    std::vector<Detection> reported;
    for (const Detection& det : prev_dets_)
      if (det.score > opt_.post.decode.conf) reported.push_back(det);
    result_ = finish_detections(layout_, std::move(reported), protos, lb_, opt_.post);
    prior_masks_ok_ = false;
    ranked_ = prev_dets_;
    scale_boxes_to_source(ranked_, lb_.scale, lb_.pad_left, lb_.pad_top, lb_.src_w, lb_.src_h);
    ranked_valid_ = true;
  } else {
    ranked_valid_ = false;
    result_ = postprocess(layout_, out0, protos, lb_, opt_.post);
    if (planner_) {
      prev_dets_ = result_.detections;  // back in input pixels for the next frame's salience
      for (Detection& det : prev_dets_) letterbox_box(lb_, det.box);
      prior_masks_ok_ = true;
    }
  }
  prev_lb_ = lb_;
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
