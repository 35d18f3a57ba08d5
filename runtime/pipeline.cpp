#include "runtime/pipeline.h"

#include "runtime/error.h"
#include "runtime/io/letterbox.h"
#include "runtime/io/video_reader.h"
#include "runtime/sparse/reference.h"
#include "runtime/util/clock.h"

namespace fx {

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

FramePipeline::FramePipeline(std::shared_ptr<const Device> device, SessionOptions opt)
    : device_(std::move(device)), plan_(device_->plan()), opt_(std::move(opt)) {
  layout_ = output_layout(*plan_);
  if (opt_.sigma < 0) opt_.sigma = plan_->task() == "segment" ? 0.05f : 0.1f;
  if (opt_.mode == SessionMode::Dense) {
    dense_ = std::make_unique<DenseExecutor>(device_);
  } else {
    sparse_ = std::make_unique<SparseExecutor>(device_, opt_.aligner.block);
    planner_ = new_planner();
    if (opt_.mode == SessionMode::FluxShard) truncation_ = TruncationTable(*plan_, opt_.eps_scale);
  }
  cur_.assign(static_cast<size_t>(plan_->input_w()) * plan_->input_h() * 3, 0);
  // Dense mode: everything recomputed.
  dense_stats_.local_positions = dense_stats_.recomputed_positions = 1;
  dense_stats_.local_flops = dense_stats_.recomputed_flops = static_cast<double>(plan_->total_flops());
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
  po.global_motion = o.global_motion;
  return po;
}

std::unique_ptr<BlockPlanner> FramePipeline::new_planner() const {
  auto planner = std::make_unique<BlockPlanner>(plan_->input_w(), plan_->input_h(), planner_options(opt_, plan_->task()));
  planner->set_motion_search(device_->new_motion_search(plan_->input_w(), plan_->input_h(), opt_.aligner));
  return planner;
}

void FramePipeline::letterbox(const Frame& frame) {
  letterbox_rgb(frame.rgb.data(), frame.width, frame.height, plan_->input_w(), plan_->input_h(), cur_.data(), &lb_,
                &device_->pool());
}

std::vector<CodecHint> FramePipeline::hints(const Frame& frame) const {
  if (!opt_.codec_mvs || frame.mvs.empty()) return {};
  return codec_hints(frame.mvs, lb_);
}

SaliencePrior FramePipeline::prior() const {
  SaliencePrior p;
  p.detections = &prior_dets_;
  p.masks = prior_has_masks_ ? &result_.masks : nullptr;
  p.letterbox = prior_lb_;
  return p;
}

const PlanReport& FramePipeline::plan_blocks(const std::vector<CodecHint>& hints) {
  if (!sparse_ || !sparse_->initialised()) throw Error("internal: plan_blocks before the caches hold a frame");
  planner_->plan(cur_.data(), sparse_->reference_rgb(), hints, prior(), labels_, motion_, plan_report_,
                 &device_->pool());
  return plan_report_;
}

int FramePipeline::bucket(const MotionStats& m) const {
  if (opt_.mode != SessionMode::FluxShard || opt_.eps_override) return -1;
  return truncation_.bucket(m);
}

const SparseStats& FramePipeline::execute(const std::vector<Label>& labels, const std::vector<Label>* motion,
                                          const uint8_t* pixels, int bucket) {
  if (dense_) {
    rgb_to_planar_float(pixels, plan_->input_w(), plan_->input_h(), dense_->input_data());
    dense_->invoke();
    return dense_stats_;
  }
  if (!sparse_->initialised()) {
    sparse_->reset(pixels);
    if (opt_.mode == SessionMode::FluxShard) default_eps_ = default_eps(*plan_, *sparse_, opt_.island_eps);
    if (planner_) planner_->reset();
    return sparse_->stats();
  }
  if (opt_.dense_recompute) {
    for (Label l : labels)
      if (l == kInvalid) {
        // R_t from the labels, then every position recomputed from it.
        next_ref_.resize(cur_.size());
        apply_block_update(sparse_->reference_rgb(), labels, pixels, plan_->input_w(), plan_->input_h(),
                           opt_.aligner.block, next_ref_.data());
        return execute_full(next_ref_.data());
      }
  }
  const bool approximate = opt_.mode == SessionMode::FluxShard;
  SparseParams params = SparseParams::for_mode(approximate, opt_.island_reused_scale);
  params.footprint_only = params.footprint_only && opt_.footprint_only;
  if (approximate) params.eps = opt_.eps_override ? opt_.eps_override : truncation_.eps(bucket, &default_eps_);
  params.block_motion = motion;
  return sparse_->run(labels, pixels, params);
}

const SparseStats& FramePipeline::execute_full(const uint8_t* pixels) {
  static const std::vector<Label> kNone;
  if (dense_ || !sparse_->initialised()) return execute(kNone, nullptr, pixels, -1);
  all_fresh_.assign(static_cast<size_t>(sparse_->block_cols()) * sparse_->block_rows(), kInvalid);
  return sparse_->run(all_fresh_, pixels, SparseParams{});
}

const float* FramePipeline::output(size_t i) { return dense_ ? dense_->output_data(i) : sparse_->output_data(i); }

const std::vector<Detection>& FramePipeline::decode() {
  const DecodeOptions& report = opt_.post.decode;
  const float* out0 = output(0);
  prior_lb_ = lb_;
  if (planner_ && opt_.salience_conf < report.conf) {
    // One decode at the salience prior's lower threshold serves both: a box below the reporting
    // threshold never suppresses one above it (NMS keeps the higher score), so the reported detections
    // are exactly those of a decode at the reporting threshold.
    DecodeOptions d = report;
    d.conf = opt_.salience_conf;
    prior_dets_ = decode_detections(out0, layout_.rows, layout_.anchors, layout_.num_classes, layout_.num_mask_coef, d);
    prior_has_masks_ = false;
    reported_.clear();
    for (const Detection& det : prior_dets_)
      if (det.score > report.conf) reported_.push_back(det);
  } else {
    reported_ =
        decode_detections(out0, layout_.rows, layout_.anchors, layout_.num_classes, layout_.num_mask_coef, report);
  }
  return reported_;
}

const FrameResult& FramePipeline::finish(const LetterboxInfo& lb) {
  result_ = finish_detections(layout_, reported_, layout_.protos >= 0 ? output(1) : nullptr, lb, opt_.post);
  ranked_valid_ = planner_ && opt_.salience_conf < opt_.post.decode.conf;
  if (ranked_valid_) {
    ranked_ = prior_dets_;
    scale_boxes_to_source(ranked_, lb.scale, lb.pad_left, lb.pad_top, lb.src_w, lb.src_h);
  }
  if (planner_ && opt_.salience_conf >= opt_.post.decode.conf) prior_from_result();
  return result_;
}

void FramePipeline::set_result(FrameResult r, const std::vector<Detection>* server_prior) {
  result_ = std::move(r);
  prior_lb_ = lb_;
  if (server_prior) {
    prior_dets_ = *server_prior;
    prior_has_masks_ = false;
  } else {
    prior_from_result();
  }
}

// The result's detections back in input pixels, with its masks.
void FramePipeline::prior_from_result() {
  prior_dets_ = result_.detections;
  for (Detection& det : prior_dets_) letterbox_box(lb_, det.box);
  prior_has_masks_ = true;
}

int FramePipeline::refresh(double budget_ms) {
  // Exact mode's caches are exact already: only fluxshard mode refreshes.
  if (!sparse_ || !sparse_->initialised() || opt_.mode != SessionMode::FluxShard) return 0;
  // Yield at op boundaries: one op at a time while the budget lasts; the cursor resumes next call.
  const auto t0 = Clock::now();
  const int n = plan_->op_count();
  int done = 0;
  do {
    sparse_->refresh_op(refresh_cursor_);
    refresh_cursor_ = (refresh_cursor_ + 1) % n;
    ++done;
  } while (done < n && budget_ms > 0 && ms_since(t0) < budget_ms);
  return done;
}

}  // namespace fx
