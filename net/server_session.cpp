#include "net/server_session.h"

#include <cstdlib>

#include "net/hash.h"
#include "runtime/error.h"
#include "runtime/post/rle.h"
#include "runtime/sparse/reference.h"

namespace fx::net {

namespace {
// Masks are returned at the source resolution: bound what one result may allocate.
constexpr int64_t kMaxSourcePixels = 7680LL * 4320;
constexpr int64_t kMaxMaskBytes = 512LL << 20;
}  // namespace

ServerSession::ServerSession(std::shared_ptr<const Plan> plan, std::shared_ptr<ThreadPool> pool,
                             std::shared_ptr<const OpRunner> runner, std::shared_ptr<const TruncationTable> truncation,
                             SessionConfig cfg)
    : plan_(std::move(plan)), pool_(std::move(pool)), truncation_(std::move(truncation)), cfg_(cfg) {
  grid_ = BlockGrid{plan_->input_w(), plan_->input_h(), cfg_.block};
  layout_ = output_layout(*plan_);
  if (cfg_.backend == "cpu") {
    exec_ = std::make_unique<SparseExecutor>(plan_, pool_, cfg_.block, std::move(runner));
  } else {
    dense_ = make_dense_backend(cfg_.backend, plan_);
    for (auto& r : ref_) r.assign(static_cast<size_t>(grid_.width) * grid_.height * 3, 0);
  }
  frame_.assign(static_cast<size_t>(grid_.width) * grid_.height * 3, 0);
  labels_.resize(static_cast<size_t>(grid_.count()));
}

const uint8_t* ServerSession::reference() const {
  return exec_ ? exec_->reference_rgb() : ref_[ref_cur_].data();
}

uint64_t ServerSession::reference_hash() const { return hash_image(reference(), grid_.width, grid_.height); }

void ServerSession::take_blocks(const wire::BlockSetT* bs, bool full) {
  if (!bs) throw Error("update without blocks");
  const int n = grid_.count();
  unpack_bitmap(bs->fresh.data(), bs->fresh.size(), n, fresh_);
  Codec c = codec_from_int(static_cast<int>(bs->codec));
  if (full) {
    for (uint8_t f : fresh_)
      if (!f) throw Error("full update with blocks that are not fresh");
  } else if (!initialised_) {
    throw Error("the first update of a session must be a full one");
  }
  decode_blocks(bs->payload.data(), bs->payload.size(), c, bs->count, bs->atlas_cols, grid_, fresh_, frame_.data());
}

void ServerSession::apply(const std::vector<Label>* motion, int bucket) {
  const int W = grid_.width, H = grid_.height;
  if (exec_) {
    if (!initialised_) {
      exec_->reset(frame_.data());
      if (cfg_.approximate) default_eps_ = default_eps(*plan_, *exec_, cfg_.island_eps);
      recomputed_share_ = 1;
    } else {
      SparseParams p = SparseParams::for_mode(cfg_.approximate, cfg_.island_reused_scale);
      p.eps = cfg_.approximate && truncation_ ? truncation_->eps(bucket, &default_eps_) : nullptr;
      p.block_motion = motion;
      const SparseStats& st = exec_->run(labels_, frame_.data(), p);
      recomputed_share_ = static_cast<float>(1.0 - st.hit_ratio());
    }
  } else {
    int nxt = 1 - ref_cur_;
    if (!initialised_) ref_[nxt] = frame_;
    else apply_block_update(ref_[ref_cur_].data(), labels_, frame_.data(), W, H, grid_.block, ref_[nxt].data());
    ref_cur_ = nxt;
    dense_->run(ref_[ref_cur_].data());
    recomputed_share_ = 1;
  }
  initialised_ = true;
}

void ServerSession::apply_frame(const wire::FrameUpdateT& u, wire::ResultT& out) {
  const int n = grid_.count();
  if (u.src_w <= 0 || u.src_h <= 0 || static_cast<int64_t>(u.src_w) * u.src_h > kMaxSourcePixels)
    throw Error("invalid source size " + std::to_string(u.src_w) + "x" + std::to_string(u.src_h));
  if (u.bucket < -1 || (u.bucket >= 0 && (!truncation_ || u.bucket >= truncation_->buckets())))
    throw Error("truncation bucket " + std::to_string(u.bucket) + " out of range");
  take_blocks(u.blocks.get(), u.full);
  decode_motion(u.motion.data(), u.motion.size(), n, motion_);
  const int B = grid_.block, cols = grid_.cols();
  for (int k = 0; k < n; ++k) {
    Label m = motion_[static_cast<size_t>(k)];
    int dx = shift_dx(m), dy = shift_dy(m);
    if (std::abs(dx) > grid_.width || std::abs(dy) > grid_.height) throw Error("motion vector out of range");
    if (fresh_[static_cast<size_t>(k)]) {
      labels_[static_cast<size_t>(k)] = kInvalid;
      continue;
    }
    int x0 = (k % cols) * B + dx, y0 = (k / cols) * B + dy;
    if (x0 < 0 || y0 < 0 || x0 + B > grid_.width || y0 + B > grid_.height)
      throw Error("block " + std::to_string(k) + " moves outside the reference image");
    labels_[static_cast<size_t>(k)] = m;
  }
  apply(&motion_, u.bucket);
  out.frame_id = u.frame_id;
  out.update_id = u.update_id;
  fill_result(u.src_w, u.src_h, out);
}

void ServerSession::apply_background(const wire::BackgroundT& b, wire::AckT& out) {
  take_blocks(b.blocks.get(), b.full);
  for (size_t k = 0; k < labels_.size(); ++k) labels_[k] = fresh_[k] ? kInvalid : 0;
  apply(nullptr, -1);
  out.update_id = b.update_id;
  out.ref_hash = reference_hash();
}

void ServerSession::fill_result(int src_w, int src_h, wire::ResultT& out) {
  const float* out0 = exec_ ? exec_->output_data(0) : dense_->output(0);
  const float* protos = nullptr;
  if (layout_.protos >= 0) protos = exec_ ? exec_->output_data(1) : dense_->output(1);
  const float* outs[2] = {out0, protos};
  out.output_hash = hash_outputs(*plan_, outs);
  out.ref_hash = reference_hash();
  out.recomputed_share = recomputed_share_;
  DecodeOptions dec;
  dec.conf = cfg_.conf;
  dec.iou = cfg_.iou;
  std::vector<Detection> dets =
      decode_detections(out0, layout_.rows, layout_.anchors, layout_.num_classes, layout_.num_mask_coef, dec);
  out.boxes.clear();
  for (const Detection& d : dets) out.boxes.emplace_back(d.cls, d.score, d.box[0], d.box[1], d.box[2], d.box[3]);
  out.prior.clear();
  out.has_prior = cfg_.salience_conf < cfg_.conf;
  if (out.has_prior) {
    DecodeOptions pd = dec;
    pd.conf = cfg_.salience_conf;
    for (const Detection& d :
         decode_detections(out0, layout_.rows, layout_.anchors, layout_.num_classes, layout_.num_mask_coef, pd))
      out.prior.emplace_back(d.cls, d.score, d.box[0], d.box[1], d.box[2], d.box[3]);
  }
  out.masks.clear();
  if (protos && !dets.empty()) {
    if (static_cast<int64_t>(src_w) * src_h * static_cast<int64_t>(dets.size()) > kMaxMaskBytes)
      throw Error("masks of " + std::to_string(dets.size()) + " detections at " + std::to_string(src_w) + "x" +
                  std::to_string(src_h) + " exceed the server's limit");
    LetterboxInfo lb = letterbox_info(src_w, src_h, grid_.width, grid_.height);
    Protos p{protos, layout_.proto_c, layout_.proto_h, layout_.proto_w};
    std::vector<Mask> masks = process_masks_to_source(dets, p, lb.dst_w, lb.dst_h, lb.pad_left, lb.pad_top, lb.new_w,
                                                      lb.new_h, lb.src_w, lb.src_h);
    for (const Mask& m : masks) {
      auto r = std::make_unique<wire::MaskRleT>();
      r->width = m.width;
      r->height = m.height;
      r->counts = rle_encode(m);
      out.masks.push_back(std::move(r));
    }
  }
}

}  // namespace fx::net
