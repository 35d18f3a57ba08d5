// `fluxshard edge`: the edge side of FluxShard (DESIGN 6-7, paper Algorithm 1). Per frame:
//   letterbox -> two block planners (motion aligner + saliency + miss classifier): edge critical blocks
//   (ECB) against the edge's own reference, cloud critical blocks (CCB) against the exact proxy of the
//   server's reference -> path scheduler (T_edge = f_e(N_ECB), T_cloud = f_c(N_CCB) + bytes / B + RTT)
//   -> the chosen side executes (local SparseExecutor, or a FrameUpdate to the server and its Result)
//   -> freshness updater: on the edge path, spare bandwidth carries non-critical blocks to the server
//   (Background); on the cloud path, the wait for the result runs preemptible dense-refresh slices of
//   the edge's cache (SparseExecutor::refresh_op).
//
// The proxy is the server's reference image as the edge knows it: evolved by apply_block_update from
// exactly the bytes sent (decoded pixels for JPEG), in send order; the server reports its reference's
// hash with every Result / Ack and a mismatch triggers a resynchronisation (a full update). A lost
// server (connection closed, or no result within result_timeout_ms) means the frame is computed
// locally at once; the transport reconnects with backoff and the next cloud frame resynchronises.
//
// Threads: process() runs on the caller's thread (with a kernel thread pool); the transport runs on its
// own libuv loop thread (net/link.h).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "net/codec.h"
#include "net/scheduler.h"
#include "net/shaper.h"
#include "runtime/detector.h"
#include "runtime/io/video_reader.h"
#include "runtime/motion/aligner.h"
#include "runtime/plan.h"
#include "runtime/pipeline.h"

namespace fx::net {

struct EdgeOptions {
  std::string server;              // "host:port"; unused with Policy::Local
  Policy policy = Policy::FluxShard;
  // The edge's own pipeline, as a local session runs it (runtime/pipeline.h): mode (exact or fluxshard),
  // planning, truncation, post-processing and backend; the server is told the settings it shares.
  SessionOptions session;
  Codec codec = Codec::Raw;
  int jpeg_quality = 90;
  std::string token;
  std::string trace;               // bandwidth preset / trace file; "" unlimited
  double rtt_ms = -1;              // emulated RTT; < 0: 20 with a trace, else 0
  int threads = 0;                 // kernel threads; 0: every hardware thread
  double result_timeout_ms = 1000; // no result by then: compute locally
  double hang_timeout_ms = 10000;  // a result this late: drop the connection and reconnect
  double connect_wait_ms = 3000;   // at start: wait this long for the first handshake
  double frame_interval_ms = 33.3; // the stream's frame period (background bandwidth budget)
  bool background = true;          // send non-critical blocks with spare bandwidth (fluxshard policy)
  double background_share = 0.5;   // of the estimated spare bandwidth
  double background_max_blocks = 0.1;  // at most this share of the blocks per background update
  int background_idle_every = 15;  // while the cloud cannot win anyway: one background update per N frames
  bool refresh = true;             // dense refresh slices while waiting for the cloud (fluxshard mode):
                                   // at most one pass over the ops after each local frame
  // The edge plans its own side (its motion search against its own reference) only while that
  // reference is at most this many frames old, or when the cloud cannot be used; an older one is costed
  // as a dense run. While the cloud serves the frames the edge's reference stays where it last computed,
  // so content moves ever further from it: searching against it costs the most and saves the least
  // (perf/RESULTS.md "Evaluation against the alternatives"; fluxshard policy; < 0: always plan).
  int edge_plan_max_age = 4;
  double backoff_min_s = 0.05, backoff_max_s = 2.0;
  std::string name;                // sent in the Hello
  std::vector<std::pair<int, double>> edge_profile;  // f_e; empty: measured at start
  // ---- Evaluation policies (net/systems.h says which options make up each system) and emulation.
  // Every cloud update is the whole frame (full offload, COACH-style, hold): no planning against the
  // proxy; the server recomputes every cache from it (dense inference on the frame).
  bool full_frames = false;
  // COACH-style early exit: a frame whose change from the last computed frame (frame_change of the
  // letterboxed images) is at most this keeps that frame's result; nothing is computed or sent. < 0: off.
  double reuse_below = -1;
  // Compute every k-th frame only; the frames in between keep the last result.
  int hold_every = 1;
  // ROI-style: this small detector (dense, on the edge) finds the regions; the cloud update carries the
  // blocks their boxes (grown by roi_margin pixels) cover and every other block keeps its place.
  std::shared_ptr<const Plan> roi_plan;
  int roi_margin = 16;
  // Emulates an edge this many times slower than this machine: each stretch of the edge's compute
  // (letterbox, planning, encoding, local execution, the ROI detector, refresh slices) lasts K times its
  // CPU time on the calling thread (its wall time with several kernel threads); the thread sleeps the
  // difference. f_e's points are multiplied by K.
  double edge_slowdown = 1;
  // Several edges on one shaped link: the trace's rate is shared through this bucket (net/shaper.h).
  std::shared_ptr<SharedTokenBucket> shared_link;
  // Experiments and tests: overrides the scheduler per frame (-1: decide, 0: edge, 1: cloud when
  // reachable).
  std::function<int(int64_t frame)> force_side;
  std::function<void(const std::string&)> log;       // default: stderr with an "edge: " prefix
};

struct EdgeFrameReport {
  int64_t frame = 0;
  bool on_cloud = false;
  bool fallback = false;           // meant for the cloud, computed locally (server lost or late)
  bool resync = false;             // this frame sent a full reference
  int ecb = -1, ccb = -1;          // critical blocks (-1: not planned)
  double t_edge_ms = 0, t_cloud_ms = 0;  // the scheduler's estimates (t_cloud infinite: unavailable)
  double latency_ms = 0;           // frame in -> result out (letterbox, planning, compute or transfer)
  double plan_ms = 0, exec_ms = 0, wait_ms = 0, server_ms = 0;
  size_t bytes_up = 0;             // framed bytes queued this frame (update + background)
  size_t payload_bytes = 0;        // of which encoded block pixels
  size_t background_bytes = 0;
  int background_blocks = 0;
  int refresh_ops = 0;
  double bw_mbps = 0, rtt_ms = 0;  // link estimates after this frame
  uint64_t output_hash = 0;        // raw outputs (net/hash.h)
  bool reference_mismatch = false; // the server's reference differed from the proxy
  bool held = false;               // the last result kept (hold_every, reuse_below): nothing computed or sent
  double edge_ms = 0;              // the edge's compute this frame (with the emulated slowdown)
  double hit_ratio = 0;            // share of cached positions reused by the side that computed (held: 1)
  double block_reuse = 0;          // share of blocks not fresh on that side (held: 1)
};

struct EdgeTotals {
  int64_t frames = 0, on_edge = 0, on_cloud = 0, fallbacks = 0, resyncs = 0, mismatches = 0;  // held: neither side
  int64_t handshakes = 0, refresh_ops = 0, background_blocks = 0;
  uint64_t bytes_up = 0, payload_bytes = 0, background_bytes = 0;
  int64_t held = 0;
  int64_t slowdown_overruns = 0;  // stretches already longer than K x their CPU time (a loaded machine)
};

class EdgeClient {
 public:
  // Profiles f_e (unless given) and, except for the local policy, starts connecting. Throws fx::Error
  // when the server refuses the session for good (wrong token, other plan, other protocol version).
  EdgeClient(std::shared_ptr<const Plan> plan, EdgeOptions opt);
  ~EdgeClient();
  EdgeClient(const EdgeClient&) = delete;
  EdgeClient& operator=(const EdgeClient&) = delete;

  // One decoded frame -> its result (detections in the frame's pixels).
  const FrameResult& process(const Frame& frame, EdgeFrameReport& report);

  // Says Bye, stops the transport; returns uv_loop_close()'s result (0: every handle freed).
  int close();

  const EdgeTotals& totals() const;
  bool connected() const;
  const Profile& edge_profile() const;
  const Profile& cloud_profile() const;
  const EdgeOptions& options() const;
  int threads() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fx::net
