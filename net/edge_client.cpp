#include "net/edge_client.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>
#include <limits>
#include <thread>

#include "net/estimator.h"
#include "net/hash.h"
#include "net/link.h"
#include "net/profile.h"
#include "runtime/sparse/truncation.h"
#include "net/wire.h"
#include "runtime/error.h"
#include "runtime/util/clock.h"
#include "runtime/planner.h"
#include "runtime/post/rle.h"
#include "runtime/sparse/reference.h"
#include "runtime/sparse/sparse_executor.h"

namespace fx::net {

namespace {


// A block's zero-shift difference between two images (sum of absolute differences).
uint64_t block_sad0(const uint8_t* a, const uint8_t* b, const BlockGrid& g, int k) {
  const int B = g.block, bx = k % g.cols(), by = k / g.cols();
  uint64_t s = 0;
  for (int y = 0; y < B; ++y) {
    size_t o = (static_cast<size_t>(by * B + y) * g.width + bx * B) * 3;
    for (int i = 0; i < B * 3; ++i) s += static_cast<uint64_t>(std::abs(int(a[o + i]) - int(b[o + i])));
  }
  return s;
}

constexpr int kStaleBackgroundFrames = 30;  // a differing block not sent for this long is sent first

}  // namespace

struct EdgeClient::Impl {
  std::shared_ptr<const Plan> plan;
  EdgeOptions opt;
  std::shared_ptr<ThreadPool> pool;
  std::shared_ptr<const OpRunner> runner;
  OutputLayout layout;
  TruncationTable truncation;
  BlockGrid grid;
  std::unique_ptr<SparseExecutor> exec;
  std::unique_ptr<BlockPlanner> ecb_planner, ccb_planner;
  Profile fe, fc;
  double edge_scale = 1, cloud_scale = 1;
  LinkEstimator est;
  std::unique_ptr<Link> link;
  int loop_result = 0;
  bool closed = false;

  // Connection state (this thread's view).
  bool connected = false, refused = false;
  std::string refused_reason;
  uint64_t epoch = 0;
  bool proxy_valid = false;
  std::vector<uint8_t> proxy, proxy_next;
  uint64_t update_seq = 0;
  std::vector<int> proxy_age;
  struct Sent {
    uint64_t update_id = 0;
    double t = 0;
    size_t bytes = 0, ahead = 0;
    uint64_t proxy_hash = 0;
    int blocks = 0;
    bool frame = false;
  };
  std::deque<Sent> sent;
  bool late = false;
  uint64_t late_frame = 0;
  double late_since = 0;
  double bg_bytes_per_block = 0;

  // Per frame.
  int64_t frame_seq = 0;
  std::vector<uint8_t> cur, sent_img;
  LetterboxInfo lb, prev_lb;
  std::vector<Label> ecb_labels, ecb_motion, ccb_labels, ccb_motion;
  PlanReport ecb_rep, ccb_rep;
  std::vector<Detection> prev_dets;  // salience prior, input pixels
  bool prior_masks_ok = false;       // result.masks belong to prev_dets
  std::vector<float> local_default_eps;
  FrameResult result;
  int refresh_cursor = 0;
  int refresh_left = 0;  // refresh slices still useful: one dense pass after each local frame
  EdgeTotals totals;

  struct Wait {
    uint64_t frame_id = 0;
    bool done = false, failed = false;
    wire::ResultT result;
    double received = 0;
  };

  void log(const std::string& s) {
    if (opt.log) opt.log(s);
    else std::fprintf(stderr, "edge: %s\n", s.c_str());
  }

  // ---- events ------------------------------------------------------------------------------------
  void handle(LinkEvent& ev, Wait* w) {
    switch (ev.kind) {
      case LinkEvent::Kind::Connected: {
        const wire::HelloAckT* ack = ev.message.body.AsHelloAck();
        if (!ack || ack->plan_hash != plan->hash() || ack->block != grid.block) {
          link->drop(ev.epoch, "server answered with another plan or block size");
          return;
        }
        connected = true;
        epoch = ev.epoch;
        proxy_valid = false;
        update_seq = 0;
        sent.clear();
        late = false;
        std::vector<std::pair<int, double>> pts;
        for (const auto& p : ack->profile) pts.emplace_back(p.blocks(), p.ms());
        fc = Profile(pts);
        cloud_scale = 1;
        est.on_rtt(ev.handshake_s);
        ++totals.handshakes;
        break;
      }
      case LinkEvent::Kind::Disconnected:
        if (ev.epoch == epoch && connected) {
          connected = false;
          proxy_valid = false;
          sent.clear();
          late = false;
          if (w) w->failed = true;
        }
        break;
      case LinkEvent::Kind::Refused:
        refused = true;
        refused_reason = ev.reason;
        connected = false;
        if (w) w->failed = true;
        break;
      case LinkEvent::Kind::Message: {
        if (!connected || ev.epoch != epoch) return;
        if (auto* r = ev.message.body.AsResult()) {
          on_answer(r->update_id, ev.time_s, r->queue_ms + r->compute_ms, r->recv_ms, r->ref_hash);
          if (late && r->frame_id == late_frame) late = false;
          if (w && r->frame_id == w->frame_id && !w->done) {
            w->done = true;
            w->received = ev.time_s;
            w->result = std::move(*r);
          }
        } else if (auto* a = ev.message.body.AsAck()) {
          on_answer(a->update_id, ev.time_s, a->queue_ms + a->compute_ms, a->recv_ms, a->ref_hash);
        }
        break;
      }
    }
  }

  // Link estimation and the reference check for the answer to an update.
  void on_answer(uint64_t update_id, double t, double server_ms, double recv_ms, uint64_t ref_hash) {
    while (!sent.empty() && sent.front().update_id < update_id) sent.pop_front();
    if (sent.empty() || sent.front().update_id != update_id) return;
    Sent s = sent.front();
    sent.pop_front();
    est.on_transfer(s.bytes, s.ahead, (t - s.t) - server_ms / 1e3, recv_ms / 1e3);
    if (s.frame && !fc.empty()) {
      double ratio = server_ms / std::max(0.05, fc.ms(s.blocks));
      cloud_scale = std::clamp(0.7 * cloud_scale + 0.3 * ratio, 0.2, 20.0);
    }
    if (ref_hash != s.proxy_hash && proxy_valid) {
      log("the server's reference differs from the proxy after update " + std::to_string(update_id) +
          "; resynchronising");
      proxy_valid = false;
      ++totals.mismatches;
      mismatch_flag = true;
    }
  }
  bool mismatch_flag = false;

  void drain() {
    LinkEvent ev;
    while (link && link->poll(ev)) handle(ev, nullptr);
  }

  // ---- the proxy ---------------------------------------------------------------------------------
  // Applies an update (labels: kInvalid fresh, else a shift) whose fresh pixels are in `img`.
  void apply_proxy(const std::vector<Label>& labels, const uint8_t* img, bool full) {
    if (full) {
      proxy.assign(img, img + cur.size());
    } else {
      apply_block_update(proxy.data(), labels, img, grid.width, grid.height, grid.block, proxy_next.data());
      proxy.swap(proxy_next);
    }
    proxy_valid = true;
    for (size_t k = 0; k < labels.size(); ++k) proxy_age[k] = labels[k] == kInvalid ? 0 : proxy_age[k];
  }

  // The pixels the server will decode for the fresh blocks: the frame itself for lossless codecs.
  const uint8_t* decoded_view(const EncodedBlocks& enc, const std::vector<uint8_t>& fresh) {
    if (opt.codec != Codec::Jpeg) return cur.data();
    sent_img = cur;
    decode_blocks(enc.payload.data(), enc.payload.size(), opt.codec, enc.count, enc.atlas_cols, grid, fresh,
                  sent_img.data());
    return sent_img.data();
  }

  wire::BlockSetT* make_blockset(const EncodedBlocks& enc, const std::vector<uint8_t>& fresh) {
    auto* bs = new wire::BlockSetT;
    bs->codec = static_cast<wire::Codec>(static_cast<int>(opt.codec));
    bs->fresh = pack_bitmap(fresh);
    bs->count = enc.count;
    bs->atlas_cols = enc.atlas_cols;
    bs->payload = enc.payload;
    return bs;
  }

  void queue_update(std::vector<uint8_t> frame, int blocks, bool is_frame) {
    Sent s;
    s.update_id = update_seq;
    s.t = link->now();
    s.bytes = frame.size();
    s.ahead = link->queued_bytes();
    s.proxy_hash = hash_image(proxy.data(), grid.width, grid.height);
    s.blocks = blocks;
    s.frame = is_frame;
    sent.push_back(s);
    link->send(epoch, std::move(frame));
  }

  // ---- local execution ---------------------------------------------------------------------------
  SaliencePrior prior() const {
    SaliencePrior p;
    p.detections = &prev_dets;
    p.masks = prior_masks_ok ? &result.masks : nullptr;
    p.letterbox = prev_lb;
    return p;
  }

  void plan_ecb(const std::vector<CodecHint>& hints, EdgeFrameReport& rep) {
    if (!exec->initialised()) {
      rep.ecb = grid.count();
      return;
    }
    ecb_planner->plan(cur.data(), exec->reference_rgb(), hints, prior(), ecb_labels, ecb_motion, ecb_rep, pool.get());
    rep.ecb = ecb_rep.critical_blocks;
  }

  SparseParams params(const std::vector<Label>* motion, const MotionStats& m) const {
    const bool approx = opt.mode == SessionMode::FluxShard;
    SparseParams p = SparseParams::for_mode(approx, opt.island_reused_scale);
    p.eps = approx ? truncation.eps(truncation.bucket(m), &local_default_eps) : nullptr;
    p.block_motion = motion;
    return p;
  }

  void run_local(EdgeFrameReport& rep) {
    auto t0 = Clock::now();
    if (!exec->initialised()) {
      exec->reset(cur.data());
      if (opt.mode == SessionMode::FluxShard) local_default_eps = default_eps(*plan, *exec, opt.island_eps);
      ecb_planner->reset();
      rep.ecb = grid.count();
    } else {
      exec->run(ecb_labels, cur.data(), params(&ecb_motion, ecb_rep.motion));
    }
    double ms = ms_since(t0);
    if (!fe.empty()) edge_scale = std::clamp(0.8 * edge_scale + 0.2 * ms / std::max(0.05, fe.ms(rep.ecb)), 0.2, 20.0);
    result =
        postprocess(layout, exec->output_data(0), layout.protos >= 0 ? exec->output_data(1) : nullptr, lb, opt.post);
    // The next frame's salience prior, as StreamSession makes it.
    DecodeOptions dp = opt.post.decode;
    dp.conf = std::min(dp.conf, opt.salience_conf);
    if (dp.conf < opt.post.decode.conf) {
      prev_dets = decode_detections(exec->output_data(0), layout.rows, layout.anchors, layout.num_classes,
                                    layout.num_mask_coef, dp);
      prior_masks_ok = false;
    } else {
      set_prior_from_result();
    }
    rep.output_hash = hash_outputs(*plan, *exec);
    rep.exec_ms = ms_since(t0);
    rep.on_cloud = false;
    refresh_left = plan->op_count();
  }

  // ---- freshness: background blocks --------------------------------------------------------------
  void send_background(double t_edge_ms, bool cloud_hopeless, EdgeFrameReport& rep) {
    if (!link || !connected || late || opt.policy != Policy::FluxShard || !opt.background) return;
    // While even an empty cloud update could not beat the edge, the server's reference is kept loosely
    // converged only (it costs the server a sparse update per background update).
    if (cloud_hopeless && proxy_valid && opt.background_idle_every > 1 && frame_seq % opt.background_idle_every != 0)
      return;
    // One background update in flight at a time: the server's answers clock them, so they never queue
    // up behind its compute (spare server time) nor on the link (spare bandwidth).
    for (const Sent& s : sent)
      if (!s.frame) return;
    const int n = grid.count();
    std::vector<uint8_t> fresh(static_cast<size_t>(n), 0);
    bool full = false;
    if (!proxy_valid) {
      if (link->queued_bytes() > 0) return;  // a resync is already on its way or the link is busy
      std::fill(fresh.begin(), fresh.end(), 1);
      full = true;
    } else {
      double budget = opt.background_share * est.bytes_per_s() * std::max(t_edge_ms, opt.frame_interval_ms) / 1e3 -
                      static_cast<double>(link->queued_bytes());
      double per_block = bg_bytes_per_block > 0 ? bg_bytes_per_block : static_cast<double>(grid.block_bytes());
      int take = static_cast<int>(std::min(budget / per_block, opt.background_max_blocks * n));
      if (take <= 0) return;
      std::vector<std::pair<double, int>> cand;
      const double norm = static_cast<double>(grid.block_bytes()) * 255;
      for (int k = 0; k < n; ++k) {
        uint64_t sad = block_sad0(cur.data(), proxy.data(), grid, k);
        if (sad == 0) continue;
        double pr = sad / norm;
        if (ccb_labels.size() == fresh.size() && ccb_labels[static_cast<size_t>(k)] == kInvalid) pr += 3;
        if (proxy_age[static_cast<size_t>(k)] >= kStaleBackgroundFrames) pr += 2;
        cand.emplace_back(pr, k);
      }
      if (cand.empty()) return;
      std::sort(cand.begin(), cand.end(), [](const auto& a, const auto& b) {
        return a.first > b.first || (a.first == b.first && a.second < b.second);
      });
      take = std::min<int>(take, static_cast<int>(cand.size()));
      for (int i = 0; i < take; ++i) fresh[static_cast<size_t>(cand[static_cast<size_t>(i)].second)] = 1;
    }
    EncodeOptions eo;
    eo.codec = opt.codec;
    eo.jpeg_quality = opt.jpeg_quality;
    EncodedBlocks enc;
    encode_blocks(cur.data(), grid, fresh, eo, enc);
    if (enc.count == 0) return;
    const uint8_t* img = decoded_view(enc, fresh);
    std::vector<Label> labels(static_cast<size_t>(n));
    for (int k = 0; k < n; ++k) labels[static_cast<size_t>(k)] = fresh[static_cast<size_t>(k)] ? kInvalid : 0;
    apply_proxy(labels, img, full);
    if (full) ccb_planner->reset();
    wire::BackgroundT b;
    b.update_id = ++update_seq;
    b.full = full;
    b.blocks.reset(make_blockset(enc, fresh));
    std::vector<uint8_t> frame = encode_frame(std::move(b));
    if (!full)
      bg_bytes_per_block = bg_bytes_per_block > 0
                               ? 0.7 * bg_bytes_per_block + 0.3 * double(enc.payload.size()) / enc.count
                               : double(enc.payload.size()) / enc.count;
    rep.background_bytes += frame.size();
    rep.bytes_up += frame.size();
    rep.payload_bytes += enc.payload.size();
    rep.background_blocks += static_cast<int>(enc.count);
    rep.resync = rep.resync || full;
    if (full) ++totals.resyncs;
    queue_update(std::move(frame), static_cast<int>(enc.count), false);
  }

  // ---- one frame ---------------------------------------------------------------------------------
  const FrameResult& process(const Frame& frame, EdgeFrameReport& rep) {
    rep = EdgeFrameReport{};
    rep.frame = frame.index >= 0 ? frame.index : frame_seq;
    auto t0 = Clock::now();
    const int W = grid.width, H = grid.height, n = grid.count();
    cur.resize(static_cast<size_t>(W) * H * 3);
    letterbox_rgb(frame.rgb.data(), frame.width, frame.height, W, H, cur.data(), &lb, pool.get());
    std::vector<CodecHint> hints;
    if (opt.codec_mvs && !frame.mvs.empty()) hints = codec_hints(frame.mvs, lb);

    drain();
    if (link && late && link->now() - late_since > opt.hang_timeout_ms / 1e3) {
      link->drop(epoch, "no result for " + std::to_string(static_cast<int>(opt.hang_timeout_ms)) + " ms");
      late = false;
    }
    mismatch_flag = false;
    const bool cloud_usable = link && connected && !late && opt.policy != Policy::Local;
    const bool need_edge = opt.policy != Policy::Offload || !cloud_usable;

    // Planning: ECB against the edge's reference, CCB against the proxy.
    auto tp = Clock::now();
    if (need_edge) plan_ecb(hints, rep);
    std::vector<uint8_t> fresh;
    EncodedBlocks enc;
    std::vector<uint8_t> update_frame;
    bool full = false;
    int bucket = -1;
    // When not even an empty update could come back before the edge is done, the cloud side is not
    // planned at all (no second motion search, no encoding).
    const int forced = opt.force_side ? opt.force_side(frame_seq) : -1;
    bool cloud_hopeless = forced == 0;
    double cloud_lower_ms = 0;
    if (forced < 0 && opt.policy == Policy::FluxShard && cloud_usable && proxy_valid && !fc.empty() && !fe.empty()) {
      cloud_lower_ms = cloud_scale * fc.ms(0) + 1e3 * (est.rtt_s() + static_cast<double>(link->queued_bytes()) /
                                                                         std::max(1.0, est.bytes_per_s()));
      cloud_hopeless = cloud_lower_ms >= edge_scale * fe.ms(std::max(rep.ecb, 0));
      if (cloud_hopeless) ccb_labels.clear();
    }
    if (cloud_usable && !cloud_hopeless) {
      full = !proxy_valid;
      fresh.assign(static_cast<size_t>(n), 1);
      if (!full) {
        ccb_planner->plan(cur.data(), proxy.data(), hints, prior(), ccb_labels, ccb_motion, ccb_rep, pool.get());
        for (int k = 0; k < n; ++k) fresh[static_cast<size_t>(k)] = ccb_labels[static_cast<size_t>(k)] == kInvalid;
        if (opt.mode == SessionMode::FluxShard) bucket = truncation.bucket(ccb_rep.motion);
      } else {
        ccb_labels.assign(static_cast<size_t>(n), kInvalid);
        ccb_motion.assign(static_cast<size_t>(n), 0);
      }
      rep.ccb = full ? n : ccb_rep.critical_blocks;
      EncodeOptions eo;
      eo.codec = opt.codec;
      eo.jpeg_quality = opt.jpeg_quality;
      encode_blocks(cur.data(), grid, fresh, eo, enc);
      wire::FrameUpdateT u;
      u.frame_id = static_cast<uint64_t>(frame_seq);
      u.update_id = update_seq + 1;
      u.full = full;
      u.motion = encode_motion(ccb_motion);
      u.blocks.reset(make_blockset(enc, fresh));
      u.src_w = frame.width;
      u.src_h = frame.height;
      u.bucket = bucket;
      update_frame = encode_frame(std::move(u));
    }
    rep.plan_ms = ms_since(tp);

    SchedulerInput si;
    si.ecb = std::max(rep.ecb, 0);
    si.ccb = std::max(rep.ccb, 0);
    si.ccb_bytes = update_frame.size();
    si.queued_bytes = link ? link->queued_bytes() : 0;
    si.bytes_per_s = est.bytes_per_s();
    si.rtt_s = est.rtt_s();
    si.edge_scale = edge_scale;
    si.cloud_scale = cloud_scale;
    si.cloud_ready = cloud_usable && !cloud_hopeless;
    Decision d = decide(opt.policy, fe, fc, si);
    if (forced >= 0) d.cloud = forced == 1 && si.cloud_ready;
    rep.t_edge_ms = d.t_edge_ms;
    rep.t_cloud_ms = cloud_hopeless ? cloud_lower_ms : d.t_cloud_ms;

    bool done = false;
    if (d.cloud) {
      // The proxy takes the update as it is queued; the server applies it in the same order.
      const uint8_t* img = decoded_view(enc, fresh);
      apply_proxy(ccb_labels, img, full);
      if (full) ccb_planner->reset();
      ++update_seq;
      rep.bytes_up += update_frame.size();
      rep.payload_bytes += enc.payload.size();
      rep.resync = full;
      if (full) ++totals.resyncs;
      queue_update(std::move(update_frame), rep.ccb, true);
      Wait w;
      w.frame_id = static_cast<uint64_t>(frame_seq);
      auto tw = Clock::now();
      const double deadline = link->now() + opt.result_timeout_ms / 1e3;
      const bool refresh = opt.refresh && opt.mode == SessionMode::FluxShard && exec->initialised();
      const int ops = plan->op_count();
      while (!w.done && !w.failed) {
        double rem = deadline - link->now();
        if (rem <= 0) break;
        LinkEvent ev;
        if (refresh && refresh_left > 0) {
          --refresh_left;
          // A preemptible slice of a dense refresh, then look at the link again.
          exec->refresh_op(refresh_cursor);
          refresh_cursor = (refresh_cursor + 1) % ops;
          ++rep.refresh_ops;
          while (!w.done && link->poll(ev)) handle(ev, &w);
          continue;
        }
        if (link->wait(ev, rem)) handle(ev, &w);
      }
      rep.wait_ms = ms_since(tw);
      if (w.done) {
        done = use_result(w, rep);
      } else if (!w.failed && connected) {
        late = true;
        late_frame = w.frame_id;
        late_since = link->now();
        log("no result for frame " + std::to_string(w.frame_id) + " within " +
            std::to_string(static_cast<int>(opt.result_timeout_ms)) + " ms; computing it locally");
      }
      if (!done) {
        rep.fallback = true;
        ++totals.fallbacks;
        if (rep.ecb < 0) plan_ecb(hints, rep);
        run_local(rep);
      }
    } else {
      send_background(d.t_edge_ms, cloud_hopeless && forced < 0, rep);
      run_local(rep);
    }

    prev_lb = lb;
    for (int& a : proxy_age) ++a;
    rep.latency_ms = ms_since(t0);
    rep.bw_mbps = est.bytes_per_s() * 8 / 1e6;
    rep.rtt_ms = est.rtt_s() * 1e3;
    rep.reference_mismatch = mismatch_flag;
    ++frame_seq;
    ++totals.frames;
    (rep.on_cloud ? totals.on_cloud : totals.on_edge)++;
    totals.bytes_up += rep.bytes_up;
    totals.payload_bytes += rep.payload_bytes;
    totals.background_bytes += rep.background_bytes;
    totals.background_blocks += rep.background_blocks;
    totals.refresh_ops += rep.refresh_ops;
    return result;
  }

  void set_prior_from_result() {
    prev_dets = result.detections;
    for (Detection& det : prev_dets) letterbox_box(lb, det.box);
    prior_masks_ok = true;
  }

  // Turns a Result into the frame's result; false when it cannot be used (the frame then runs locally).
  bool use_result(Wait& w, EdgeFrameReport& rep) {
    const wire::ResultT& r = w.result;
    FrameResult out;
    try {
      for (const auto& b : r.boxes) {
        Detection det;
        det.cls = b.cls();
        det.score = b.score();
        det.box[0] = b.x1(), det.box[1] = b.y1(), det.box[2] = b.x2(), det.box[3] = b.y2();
        out.detections.push_back(std::move(det));
      }
      if (layout.protos >= 0 && opt.post.masks) {
        if (r.masks.size() != r.boxes.size())
          throw Error("result with " + std::to_string(r.masks.size()) + " masks for " + std::to_string(r.boxes.size()) +
                      " boxes");
        for (const auto& m : r.masks) {
          if (!m || m->width != lb.src_w || m->height != lb.src_h) throw Error("result mask of the wrong size");
          out.masks.push_back(rle_decode(m->counts, m->width, m->height));
        }
      }
    } catch (const Error& e) {
      log(std::string("unusable result from the server: ") + e.what());
      link->drop(epoch, "unusable result");
      return false;
    }
    scale_boxes_to_source(out.detections, lb.scale, lb.pad_left, lb.pad_top, lb.src_w, lb.src_h);
    result = std::move(out);
    if (r.has_prior) {
      prev_dets.clear();
      for (const auto& b : r.prior) {
        Detection det;
        det.cls = b.cls();
        det.score = b.score();
        det.box[0] = b.x1(), det.box[1] = b.y1(), det.box[2] = b.x2(), det.box[3] = b.y2();
        prev_dets.push_back(std::move(det));
      }
      prior_masks_ok = false;
    } else {
      set_prior_from_result();
    }
    rep.on_cloud = true;
    rep.server_ms = r.compute_ms + r.queue_ms;
    rep.output_hash = r.output_hash;
    return true;
  }
};

EdgeClient::EdgeClient(std::shared_ptr<const Plan> plan, EdgeOptions opt) : impl_(std::make_unique<Impl>()) {
  Impl* m = impl_.get();
  m->plan = std::move(plan);
  m->opt = std::move(opt);
  if (m->opt.mode == SessionMode::Dense) throw Error("the edge runs in exact or fluxshard mode");
  const int W = m->plan->input_w(), H = m->plan->input_h(), B = m->opt.aligner.block;
  if (B < 4 || B > 128 || W % B || H % B)
    throw Error("block size " + std::to_string(B) + " must divide the plan's input size " + std::to_string(W) + "x" +
                std::to_string(H));
  m->layout = output_layout(*m->plan);
  m->truncation = TruncationTable(*m->plan);
  m->grid = BlockGrid{W, H, B};
  int threads =
      m->opt.threads > 0 ? m->opt.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  m->pool = std::make_shared<ThreadPool>(threads);
  m->runner = std::make_shared<OpRunner>(m->plan);
  m->exec = std::make_unique<SparseExecutor>(m->plan, m->pool, B, m->runner);
  PlannerOptions po;
  po.aligner = m->opt.aligner;
  po.exact = m->opt.mode == SessionMode::Exact;
  po.sigma = m->opt.sigma >= 0 ? m->opt.sigma : (m->plan->task() == "segment" ? 0.05f : 0.1f);
  po.stale_frames = m->opt.stale_frames;
  po.gate_max_share = m->opt.gate_max_share;
  po.tau_salient = m->opt.tau_salient;
  po.change = m->opt.change;
  po.tau_rel_salient = m->opt.tau_rel_salient;
  po.staleness = m->opt.staleness;
  m->ecb_planner = std::make_unique<BlockPlanner>(W, H, po);
  m->ccb_planner = std::make_unique<BlockPlanner>(W, H, po);
  m->proxy.assign(static_cast<size_t>(W) * H * 3, 0);
  m->proxy_next = m->proxy;
  m->proxy_age.assign(static_cast<size_t>(m->grid.count()), 0);
  m->fe = Profile(m->opt.edge_profile.empty() ? profile_sparse(m->plan, m->pool, m->runner, B) : m->opt.edge_profile);

  if (m->opt.policy == Policy::Local) return;
  LinkOptions lo;
  parse_host_port(m->opt.server, lo.host, lo.port);
  if (!m->opt.trace.empty()) lo.trace = RateTrace::parse(m->opt.trace);
  lo.rtt_s = (m->opt.rtt_ms >= 0 ? m->opt.rtt_ms : (m->opt.trace.empty() ? 0.0 : 20.0)) / 1e3;
  lo.backoff_min_s = m->opt.backoff_min_s;
  lo.backoff_max_s = m->opt.backoff_max_s;
  lo.log = m->opt.log;
  wire::HelloT h;
  h.protocol_version = kProtocolVersion;
  h.plan_hash = m->plan->hash();
  h.input_w = W;
  h.input_h = H;
  h.block = B;
  h.codec = static_cast<wire::Codec>(static_cast<int>(m->opt.codec));
  h.mode = m->opt.mode == SessionMode::Exact ? wire::Mode::Exact : wire::Mode::Approximate;
  h.token.assign(m->opt.token.begin(), m->opt.token.end());
  h.conf = m->opt.post.decode.conf;
  h.iou = m->opt.post.decode.iou;
  h.name = m->opt.name;
  h.island_eps = m->opt.mode == SessionMode::FluxShard ? m->opt.island_eps : 0.f;
  h.salience_conf = m->opt.salience_conf;
  h.island_reused_scale = m->opt.mode == SessionMode::FluxShard ? m->opt.island_reused_scale : 1.f;
  m->link = std::make_unique<Link>(lo, encode_frame(std::move(h)));
  // Wait for the first handshake: a refusal is an error; an unreachable server is not (the edge computes
  // locally and keeps trying).
  auto t0 = Clock::now();
  while (!m->connected && !m->refused && ms_since(t0) < m->opt.connect_wait_ms) {
    LinkEvent ev;
    if (m->link->wait(ev, (m->opt.connect_wait_ms - ms_since(t0)) / 1e3)) m->handle(ev, nullptr);
  }
  if (m->refused) {
    m->link->close();
    throw Error("server " + m->opt.server + " refused the session: " + m->refused_reason);
  }
  if (!m->connected) m->log("server " + m->opt.server + " not reachable yet; computing locally until it is");
}

EdgeClient::~EdgeClient() { close(); }

int EdgeClient::close() {
  if (impl_->closed) return impl_->loop_result;
  impl_->closed = true;
  if (impl_->link) impl_->loop_result = impl_->link->close();
  return impl_->loop_result;
}

const FrameResult& EdgeClient::process(const Frame& frame, EdgeFrameReport& report) {
  if (impl_->closed) throw Error("edge client is closed");
  return impl_->process(frame, report);
}

const EdgeTotals& EdgeClient::totals() const { return impl_->totals; }
bool EdgeClient::connected() const { return impl_->connected; }
const Profile& EdgeClient::edge_profile() const { return impl_->fe; }
const Profile& EdgeClient::cloud_profile() const { return impl_->fc; }
const EdgeOptions& EdgeClient::options() const { return impl_->opt; }
int EdgeClient::threads() const { return impl_->pool->size(); }

}  // namespace fx::net
