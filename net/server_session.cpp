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

SessionOptions session_options(const SessionConfig& cfg) {
  SessionOptions o;
  o.mode = cfg.approximate ? SessionMode::FluxShard : SessionMode::Exact;
  o.aligner.block = cfg.block;
  o.post.decode.conf = cfg.conf;
  o.post.decode.iou = cfg.iou;
  o.island_eps = cfg.island_eps;
  o.island_reused_scale = cfg.island_reused_scale;
  o.salience_conf = cfg.salience_conf;
  return o;
}

ServerSession::ServerSession(std::shared_ptr<const Device> device, SessionConfig cfg)
    : cfg_(cfg), pipe_(std::move(device), session_options(cfg)) {
  grid_ = BlockGrid{pipe_.plan().input_w(), pipe_.plan().input_h(), cfg_.block};
  frame_.assign(static_cast<size_t>(grid_.width) * grid_.height * 3, 0);
  labels_.resize(static_cast<size_t>(grid_.count()));
}

const uint8_t* ServerSession::reference() const { return pipe_.sparse()->reference_rgb(); }

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
  const SparseStats& st = pipe_.execute(labels_, motion, frame_.data(), bucket);
  recomputed_share_ = initialised_ ? static_cast<float>(1.0 - st.hit_ratio()) : 1.f;
  initialised_ = true;
}

void ServerSession::apply_frame(const wire::FrameUpdateT& u, wire::ResultT& out) {
  const int n = grid_.count();
  if (u.src_w <= 0 || u.src_h <= 0 || static_cast<int64_t>(u.src_w) * u.src_h > kMaxSourcePixels)
    throw Error("invalid source size " + std::to_string(u.src_w) + "x" + std::to_string(u.src_h));
  if (u.bucket < -1 || (u.bucket >= 0 && u.bucket >= pipe_.buckets()))
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
  const OutputLayout& layout = pipe_.layout();
  const float* outs[2] = {pipe_.output(0), layout.protos >= 0 ? pipe_.output(1) : nullptr};
  out.output_hash = hash_outputs(pipe_.plan(), outs);
  out.ref_hash = reference_hash();
  out.recomputed_share = recomputed_share_;
  // Boxes go back in input pixels (the edge maps them to its source); the salience prior along when it
  // reaches below the reporting threshold.
  const std::vector<Detection>& dets = pipe_.decode();
  out.boxes.clear();
  for (const Detection& d : dets) out.boxes.emplace_back(d.cls, d.score, d.box[0], d.box[1], d.box[2], d.box[3]);
  out.prior.clear();
  out.has_prior = cfg_.salience_conf < cfg_.conf;
  if (out.has_prior)
    for (const Detection& d : pipe_.decoded_prior())
      out.prior.emplace_back(d.cls, d.score, d.box[0], d.box[1], d.box[2], d.box[3]);
  out.masks.clear();
  if (layout.protos >= 0 && !dets.empty()) {
    if (static_cast<int64_t>(src_w) * src_h * static_cast<int64_t>(dets.size()) > kMaxMaskBytes)
      throw Error("masks of " + std::to_string(dets.size()) + " detections at " + std::to_string(src_w) + "x" +
                  std::to_string(src_h) + " exceed the server's limit");
    for (const Mask& m : pipe_.finish(letterbox_info(src_w, src_h, grid_.width, grid_.height)).masks) {
      auto r = std::make_unique<wire::MaskRleT>();
      r->width = m.width;
      r->height = m.height;
      r->counts = rle_encode(m);
      out.masks.push_back(std::move(r));
    }
  }
}

}  // namespace fx::net
