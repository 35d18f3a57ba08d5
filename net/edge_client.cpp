#include "net/edge_client.h"

#include <time.h>

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
#include "net/wire.h"
#include "runtime/baselines.h"
#include "runtime/error.h"
#include "runtime/planner.h"
#include "runtime/post/rle.h"
#include "runtime/session.h"
#include "runtime/sparse/reference.h"
#include "runtime/sparse/sparse_executor.h"
#include "runtime/sparse/truncation.h"
#include "runtime/util/clock.h"

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

double thread_cpu_s() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

}  // namespace

struct EdgeClient::Impl {
  std::shared_ptr<const Plan> plan;
  EdgeOptions opt;
  // The edge's own side: letterbox, ECB planning against its reference, local execution, decoding and
  // the salience prior (runtime/pipeline.h). The cloud path adds the CCB planner against the proxy.
  std::unique_ptr<FramePipeline> pipe;
  BlockGrid grid;
  std::unique_ptr<BlockPlanner> ccb_planner;
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
  std::vector<uint8_t> sent_img;
  std::vector<Label> ccb_labels, ccb_motion;
  PlanReport ecb_rep, ccb_rep;
  int refresh_left = 0;  // refresh slices still useful: one dense pass after each local frame
  int edge_ref_age = 0;  // frames since the edge last computed a frame itself (its reference's age)
  EdgeTotals totals;
  // Evaluation policies: the ROI detector; the letterboxed frame whose result stands (reuse_below).
  std::unique_ptr<StreamSession> roi;
  std::vector<uint8_t> key;
  bool have_result = false;

  // ---- the emulated slower edge (EdgeOptions::edge_slowdown) -----------------------------------------
  struct Mark {
    double cpu_s = 0;
    Clock::time_point wall;
  };
  bool cpu_clock = true;  // the kernels run on this thread only (one kernel thread)
  Mark mark() const { return {cpu_clock ? thread_cpu_s() : 0.0, Clock::now()}; }
  // Ends a stretch of edge compute begun at m: sleeps until it has lasted K times its CPU time. Returns
  // its length (ms).
  double stretch(const Mark& m) {
    const double wall = ms_since(m.wall);
    if (opt.edge_slowdown <= 1) return wall;
    const double cpu = cpu_clock ? (thread_cpu_s() - m.cpu_s) * 1e3 : wall;
    const double target = cpu * opt.edge_slowdown;
    if (target > wall)
      std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(target - wall));
    else if (cpu > 0)
      ++totals.slowdown_overruns;
    return ms_since(m.wall);
  }

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
      proxy.assign(img, img + pipe->input().size());
    } else {
      apply_block_update(proxy.data(), labels, img, grid.width, grid.height, grid.block, proxy_next.data());
      proxy.swap(proxy_next);
    }
    proxy_valid = true;
    for (size_t k = 0; k < labels.size(); ++k) proxy_age[k] = labels[k] == kInvalid ? 0 : proxy_age[k];
  }

  // The pixels the server will decode for the fresh blocks: the frame itself for lossless codecs.
  const uint8_t* decoded_view(const EncodedBlocks& enc, const std::vector<uint8_t>& fresh) {
    if (opt.codec != Codec::Jpeg) return pipe->input().data();
    sent_img = pipe->input();
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
  void plan_ecb(const std::vector<CodecHint>& hints, EdgeFrameReport& rep) {
    if (!pipe->sparse_mode() || !pipe->initialised()) {
      rep.ecb = grid.count();
      return;
    }
    ecb_rep = pipe->plan_blocks(hints);
    rep.ecb = ecb_rep.critical_blocks;
  }

  void run_local(EdgeFrameReport& rep) {
    const Mark m = mark();
    if (!pipe->initialised()) rep.ecb = grid.count();
    const SparseStats& st =
        pipe->execute(pipe->labels(), &pipe->motion(), pipe->input().data(), pipe->bucket(ecb_rep.motion));
    rep.hit_ratio = st.hit_ratio();
    rep.block_reuse = 1.0 - static_cast<double>(std::max(rep.ecb, 0)) / grid.count();
    pipe->decode();
    pipe->finish(pipe->geometry());
    const float* outs[2] = {pipe->output(0), pipe->layout().protos >= 0 ? pipe->output(1) : nullptr};
    rep.output_hash = hash_outputs(*plan, outs);
    // The profile f_e times execution and post-processing together, as here.
    const double ms = stretch(m);
    if (!fe.empty()) edge_scale = std::clamp(0.8 * edge_scale + 0.2 * ms / std::max(0.05, fe.ms(rep.ecb)), 0.2, 20.0);
    rep.exec_ms = ms;
    rep.edge_ms += ms;
    rep.on_cloud = false;
    refresh_left = plan->op_count();
    edge_ref_age = 0;
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
        uint64_t sad = block_sad0(pipe->input().data(), proxy.data(), grid, k);
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
    encode_blocks(pipe->input().data(), grid, fresh, eo, enc);
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
  // A frame that keeps the last result (hold_every, reuse_below): nothing computed or sent.
  const FrameResult& hold(Clock::time_point t0, const Mark& m0, EdgeFrameReport& rep) {
    drain();
    mismatch_flag = false;
    rep.held = true;
    rep.hit_ratio = rep.block_reuse = 1;
    rep.edge_ms = stretch(m0);
    end_frame(t0, rep);
    return pipe->result();
  }

  // The blocks the ROI detector's boxes cover, as cloud labels (fresh, else in place).
  void plan_roi(const Frame& frame, std::vector<uint8_t>& fresh) {
    std::vector<Detection> boxes = roi->process(frame).detections;
    for (Detection& d : boxes) letterbox_box(pipe->geometry(), d.box);
    roi_blocks(boxes, grid.width, grid.height, grid.block, opt.roi_margin, fresh);
    const size_t n = fresh.size();
    ccb_labels.resize(n);
    ccb_motion.assign(n, 0);
    ccb_rep = PlanReport{};
    for (size_t k = 0; k < n; ++k) {
      ccb_labels[k] = fresh[k] ? kInvalid : 0;
      ccb_rep.critical_blocks += fresh[k];
    }
  }

  const FrameResult& process(const Frame& frame, EdgeFrameReport& rep) {
    rep = EdgeFrameReport{};
    rep.frame = frame.index >= 0 ? frame.index : frame_seq;
    auto t0 = Clock::now();
    const Mark m0 = mark();
    const int n = grid.count();
    if (have_result && opt.hold_every > 1 && frame_seq % opt.hold_every != 0) return hold(t0, m0, rep);
    pipe->letterbox(frame);
    const std::vector<CodecHint> hints = pipe->hints(frame);
    const uint8_t* cur = pipe->input().data();
    if (have_result && opt.reuse_below >= 0 && frame_change(cur, key.data(), key.size()) <= opt.reuse_below)
      return hold(t0, m0, rep);

    drain();
    if (link && late && link->now() - late_since > opt.hang_timeout_ms / 1e3) {
      link->drop(epoch, "no result for " + std::to_string(static_cast<int>(opt.hang_timeout_ms)) + " ms");
      late = false;
    }
    mismatch_flag = false;
    const bool cloud_usable = link && connected && !late && opt.policy != Policy::Local;
    const bool need_edge = opt.policy != Policy::Offload || !cloud_usable;

    // Planning: ECB against the edge's reference, CCB against the proxy. A stale edge reference is not
    // planned against (EdgeOptions::edge_plan_max_age): the edge side is costed as a dense run and planned
    // only if the edge runs the frame.
    auto tp = Clock::now();
    const bool stale_edge = opt.policy == Policy::FluxShard && cloud_usable && opt.edge_plan_max_age >= 0 &&
                            edge_ref_age > opt.edge_plan_max_age;
    if (need_edge && !stale_edge) plan_ecb(hints, rep);
    const int ecb_estimate = rep.ecb >= 0 ? rep.ecb : (need_edge ? n : 0);
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
      cloud_hopeless = cloud_lower_ms >= edge_scale * fe.ms(ecb_estimate);
      if (cloud_hopeless) ccb_labels.clear();
    }
    if (cloud_usable && !cloud_hopeless) {
      full = !proxy_valid || opt.full_frames;
      fresh.assign(static_cast<size_t>(n), 1);
      if (!full && roi) {
        plan_roi(frame, fresh);
      } else if (!full) {
        ccb_planner->plan(cur, proxy.data(), hints, pipe->prior(), ccb_labels, ccb_motion, ccb_rep, &pipe->device().pool());
        for (int k = 0; k < n; ++k) fresh[static_cast<size_t>(k)] = ccb_labels[static_cast<size_t>(k)] == kInvalid;
        bucket = pipe->bucket(ccb_rep.motion);
      } else {
        ccb_labels.assign(static_cast<size_t>(n), kInvalid);
        ccb_motion.assign(static_cast<size_t>(n), 0);
      }
      rep.ccb = full ? n : ccb_rep.critical_blocks;
      EncodeOptions eo;
      eo.codec = opt.codec;
      eo.jpeg_quality = opt.jpeg_quality;
      encode_blocks(cur, grid, fresh, eo, enc);
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
    si.ecb = ecb_estimate;
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
      // The proxy takes the update as it is queued; the server applies it in the same order. Whole-frame
      // policies keep none: every update replaces the server's reference anyway.
      if (opt.full_frames) {
        proxy_valid = false;
      } else {
        const uint8_t* img = decoded_view(enc, fresh);
        apply_proxy(ccb_labels, img, full);
      }
      if (full) ccb_planner->reset();
      rep.edge_ms += stretch(m0);  // the edge's compute up to the send
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
      const bool refresh = opt.refresh && opt.session.mode == SessionMode::FluxShard && pipe->initialised();
      while (!w.done && !w.failed) {
        double rem = deadline - link->now();
        if (rem <= 0) break;
        LinkEvent ev;
        if (refresh && refresh_left > 0) {
          --refresh_left;
          // A preemptible slice of a dense refresh, then look at the link again.
          const Mark ms = mark();
          rep.refresh_ops += pipe->refresh(0);
          stretch(ms);
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
      if (rep.ecb < 0) plan_ecb(hints, rep);
      send_background(d.t_edge_ms, cloud_hopeless && forced < 0, rep);
      rep.edge_ms += stretch(m0);
      run_local(rep);
    }
    if (opt.reuse_below >= 0) key = pipe->input();
    have_result = true;
    end_frame(t0, rep);
    return pipe->result();
  }

  // Per-frame bookkeeping of every frame, computed or held.
  void end_frame(Clock::time_point t0, EdgeFrameReport& rep) {
    for (int& a : proxy_age) ++a;
    ++edge_ref_age;
    rep.latency_ms = ms_since(t0);
    rep.bw_mbps = est.bytes_per_s() * 8 / 1e6;
    rep.rtt_ms = est.rtt_s() * 1e3;
    rep.reference_mismatch = mismatch_flag;
    ++frame_seq;
    ++totals.frames;
    if (!rep.held) (rep.on_cloud ? totals.on_cloud : totals.on_edge)++;
    totals.bytes_up += rep.bytes_up;
    totals.payload_bytes += rep.payload_bytes;
    totals.background_bytes += rep.background_bytes;
    totals.background_blocks += rep.background_blocks;
    totals.refresh_ops += rep.refresh_ops;
    totals.held += rep.held;
  }

  // Turns a Result into the frame's result; false when it cannot be used (the frame then runs locally).
  bool use_result(Wait& w, EdgeFrameReport& rep) {
    const wire::ResultT& r = w.result;
    const LetterboxInfo& lb = pipe->geometry();
    FrameResult out;
    auto detection = [](const wire::Box& b) {
      Detection det;
      det.cls = b.cls();
      det.score = b.score();
      det.box[0] = b.x1(), det.box[1] = b.y1(), det.box[2] = b.x2(), det.box[3] = b.y2();
      return det;
    };
    try {
      for (const auto& b : r.boxes) out.detections.push_back(detection(b));
      if (pipe->layout().protos >= 0 && opt.session.post.masks) {
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
    std::vector<Detection> prior;
    if (r.has_prior)
      for (const auto& b : r.prior) prior.push_back(detection(b));
    pipe->set_result(std::move(out), r.has_prior ? &prior : nullptr);
    rep.on_cloud = true;
    rep.hit_ratio = 1.0 - r.recomputed_share;
    rep.block_reuse = 1.0 - static_cast<double>(std::max(rep.ccb, 0)) / grid.count();
    rep.server_ms = r.compute_ms + r.queue_ms;
    rep.output_hash = r.output_hash;
    return true;
  }
};

EdgeClient::EdgeClient(std::shared_ptr<const Plan> plan, EdgeOptions opt) : impl_(std::make_unique<Impl>()) {
  Impl* m = impl_.get();
  m->plan = std::move(plan);
  m->opt = std::move(opt);
  const SessionOptions& so = m->opt.session;
  if (so.mode == SessionMode::Dense && m->opt.policy != Policy::Local)
    throw Error("the edge runs in exact or fluxshard mode (dense with the local policy only)");
  const int W = m->plan->input_w(), H = m->plan->input_h(), B = so.aligner.block;
  if (B < 4 || B > 128 || W % B || H % B)
    throw Error("block size " + std::to_string(B) + " must divide the plan's input size " + std::to_string(W) + "x" +
                std::to_string(H));
  m->grid = BlockGrid{W, H, B};
  BackendOptions bo = so.backend;
  bo.threads = m->opt.threads > 0 ? m->opt.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  auto device = make_device(m->plan, bo);
  m->pipe = std::make_unique<FramePipeline>(device, so);
  m->ccb_planner = m->pipe->new_planner();
  m->proxy.assign(static_cast<size_t>(W) * H * 3, 0);
  m->proxy_next = m->proxy;
  m->proxy_age.assign(static_cast<size_t>(m->grid.count()), 0);
  m->cpu_clock = device->pool().size() == 1;
  if (m->opt.roi_plan) {
    SessionOptions ro;
    ro.mode = SessionMode::Dense;
    ro.post = so.post;
    ro.backend = bo;
    m->roi = std::make_unique<StreamSession>(m->opt.roi_plan, ro, std::make_shared<ThreadPool>(bo.threads));
  }
  if (m->opt.policy == Policy::Local) return;  // f_e is not needed: every frame runs on the edge
  // f_e of the emulated edge: K times this machine's.
  std::vector<std::pair<int, double>> fe =
      m->opt.edge_profile.empty() ? profile_sparse(device, B) : m->opt.edge_profile;
  for (auto& p : fe) p.second *= std::max(1.0, m->opt.edge_slowdown);
  m->fe = Profile(fe);

  LinkOptions lo;
  parse_host_port(m->opt.server, lo.host, lo.port);
  if (!m->opt.trace.empty()) lo.trace = RateTrace::parse(m->opt.trace);
  lo.shared = m->opt.shared_link;
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
  h.mode = so.mode == SessionMode::Exact ? wire::Mode::Exact : wire::Mode::Approximate;
  h.token.assign(m->opt.token.begin(), m->opt.token.end());
  h.conf = so.post.decode.conf;
  h.iou = so.post.decode.iou;
  h.name = m->opt.name;
  h.island_eps = so.mode == SessionMode::FluxShard ? so.island_eps : 0.f;
  h.salience_conf = so.salience_conf;
  h.island_reused_scale = so.mode == SessionMode::FluxShard ? so.island_reused_scale : 1.f;
  h.footprint_only = so.footprint_only;
  h.eps_scale = so.eps_scale;
  h.dense_recompute = so.dense_recompute;
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
  if (!m->connected) {
    // The server answered but turned the session away (busy): said once; --policy offload cannot go on.
    const std::string busy = m->link->last_refusal();
    if (!busy.empty() && m->opt.policy == Policy::Offload) {
      m->link->close();
      throw Error("server " + m->opt.server + " refused the session: " + busy);
    }
    m->log("server " + m->opt.server + (busy.empty() ? " not reachable yet" : " refused the session (" + busy + ")") +
           "; computing locally until it " + (busy.empty() ? "is" : "accepts"));
  }
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
int EdgeClient::threads() const { return impl_->pipe->device().pool().size(); }

}  // namespace fx::net
