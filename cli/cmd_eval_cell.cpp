#include "cli/cmd_eval_cell.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <mutex>
#include <thread>

#include "net/profile.h"
#include "runtime/error.h"
#include "runtime/post/rle.h"
#include "runtime/util/clock.h"
#include "runtime/util/percentile.h"

namespace fx::cli {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// "yolo11n-640" for /path/yolo11n-640.fsp.
std::string plan_name(const Plan& p) {
  std::string s = p.source().substr(p.source().find_last_of('/') + 1);
  return s.substr(0, s.rfind(".fsp") == s.size() - 4 && s.size() > 4 ? s.size() - 4 : s.size());
}

// The ground-truth IoU of one frame's result: segment models by mask, detect models by box.
double frame_gt_iou(const Frame& gt, const FrameResult& r, bool segment) {
  if (gt.rgb.empty()) return kNaN;
  if (segment) return gt_mask_iou(gt.rgb.data(), gt.width, gt.height, r.masks);
  return gt_box_iou(gt_objects(gt.rgb.data(), gt.width, gt.height), r.detections);
}

// What one edge measured over the clip.
struct EdgeRun {
  std::vector<double> latency;
  double edge_ms = 0, network_ms = 0, server_ms = 0, hit = 0, block_reuse = 0;
  int64_t frames = 0, held = 0, cloud = 0;
  net::EdgeTotals totals;
  MatchAccumulator match;
  ApAccumulator ap;
  double gt_sum = 0, gt_dense_sum = 0;
  int64_t gt_frames = 0;
};

}  // namespace

EvalClip load_clip(const std::string& path, const std::string& gt_pattern, int max_frames,
                   std::shared_ptr<const Plan> plan, int threads) {
  EvalClip c;
  c.path = path;
  c.gt_pattern = gt_pattern;
  std::string base = path.substr(path.find_last_of('/') + 1);
  c.name = base.substr(0, base.find_last_of('.'));
  if (c.name.empty()) c.name = base;
  VideoReader reader(path);
  c.fps = reader.fps() > 0 ? reader.fps() : 30.0;
  Frame f;
  while ((max_frames <= 0 || static_cast<int>(c.frames.size()) < max_frames) && reader.read(f)) c.frames.push_back(f);
  if (c.frames.empty()) throw Error("'" + path + "' has no decodable frames");
  c.gt.resize(c.frames.size());
  if (!gt_pattern.empty()) {
    VideoReader gt(gt_pattern);
    size_t have = 0;
    for (size_t i = 0; i < c.frames.size() && gt.read(f); ++i, ++have)
      if (f.width == c.frames[i].width && f.height == c.frames[i].height) c.gt[i] = f;
    if (have == 0) throw Error("'" + gt_pattern + "' has no annotation images");
  }
  // The dense reference, on every core (it is not timed as a system).
  const bool segment = plan->task() == "segment";
  SessionOptions o;
  o.mode = SessionMode::Dense;
  o.backend.threads = threads;
  StreamSession dense(plan, o);
  auto t0 = Clock::now();
  for (size_t i = 0; i < c.frames.size(); ++i) {
    const FrameResult& r = dense.process(c.frames[i]);
    EvalClip::Ref ref;
    ref.dets = r.detections;
    for (const Mask& m : r.masks) ref.masks.push_back(rle_encode(m));
    c.ref.push_back(std::move(ref));
    c.ref_gt_iou.push_back(frame_gt_iou(c.gt[i], r, segment));
  }
  c.ref_seconds = ms_since(t0) / 1e3;
  return c;
}

EvalRow run_cell(const CellContext& ctx, const net::SystemSpec& sys, const EvalClip& clip, const std::string& preset,
                 int edges, const std::function<void()>& tick) {
  net::SystemSetup setup = net::system_setup(sys, ctx.base, ctx.plan, ctx.small_plan, ctx.hold_k);
  net::EdgeOptions& eo = setup.edge;
  eo.trace = preset;
  if (edges > 1) eo.shared_link = std::make_shared<net::SharedTokenBucket>(net::RateTrace::parse(preset));
  eo.frame_interval_ms = 1000.0 / clip.fps;
  if (eo.policy != net::Policy::Local && ctx.edge_profiles) {
    // f_e of this block size, measured once (EdgeClient multiplies it by the slowdown).
    const int B = eo.session.aligner.block;
    auto it = ctx.edge_profiles->find(B);
    if (it == ctx.edge_profiles->end()) {
      BackendOptions bo = eo.session.backend;
      bo.threads = eo.threads;
      it = ctx.edge_profiles->emplace(B, net::profile_sparse(make_device(setup.plan, bo), B)).first;
    }
    eo.edge_profile = it->second;
  }
  const bool segment = ctx.task == "segment";
  std::vector<EdgeRun> runs(static_cast<size_t>(edges));
  std::vector<std::string> errors(static_cast<size_t>(edges));
  std::mutex tick_mu;
  auto wall0 = Clock::now();
  auto edge_main = [&](int e) {
    EdgeRun& run = runs[static_cast<size_t>(e)];
    try {
      net::EdgeOptions o = eo;
      o.name = sys.name + "-" + std::to_string(e);
      net::EdgeClient client(setup.plan, o);
      net::EdgeFrameReport rep;
      for (size_t i = 0; i < clip.frames.size(); ++i) {
        const FrameResult& r = client.process(clip.frames[i], rep);
        run.latency.push_back(rep.latency_ms);
        run.edge_ms += rep.edge_ms;
        if (rep.on_cloud) {
          run.server_ms += rep.server_ms;
          run.network_ms += std::max(0.0, rep.wait_ms - rep.server_ms);
          ++run.cloud;
        }
        run.hit += rep.hit_ratio;
        run.block_reuse += rep.block_reuse;
        run.held += rep.held;
        ++run.frames;
        // Accuracy against the dense reference and the ground truth (the first edge's: every edge runs
        // the same clip).
        if (e > 0) {
          std::lock_guard<std::mutex> lk(tick_mu);
          tick();
          continue;
        }
        const EvalClip::Ref& ref = clip.ref[i];
        const MatchResult m = match_detections(r.detections, ref.dets, 0.5f);
        if (segment) {
          std::vector<Mask> ref_masks;
          for (const auto& counts : ref.masks)
            ref_masks.push_back(rle_decode(counts, clip.frames[i].width, clip.frames[i].height));
          run.match.add(m, r.masks, ref_masks);
        } else {
          run.match.add(m);
        }
        run.ap.add(r.detections, ref.dets);
        const double g = frame_gt_iou(clip.gt[i], r, segment);
        if (std::isfinite(g) && std::isfinite(clip.ref_gt_iou[i])) {
          run.gt_sum += g;
          run.gt_dense_sum += clip.ref_gt_iou[i];
          ++run.gt_frames;
        }
        std::lock_guard<std::mutex> lk(tick_mu);
        tick();
      }
      client.close();
      run.totals = client.totals();
    } catch (const std::exception& ex) {
      errors[static_cast<size_t>(e)] = ex.what();
    }
  };
  if (edges == 1) {
    edge_main(0);
  } else {
    std::vector<std::thread> threads;
    for (int e = 0; e < edges; ++e) threads.emplace_back(edge_main, e);
    for (auto& t : threads) t.join();
  }
  for (const std::string& err : errors)
    if (!err.empty()) throw Error(sys.name + " on " + clip.name + " at " + preset + ": " + err);

  EvalRow row;
  row.system = sys.name;
  row.group = net::group_name(sys.group);
  row.clip = clip.name;
  row.task = ctx.task;
  row.model = plan_name(*setup.plan);
  row.preset = preset;
  row.edges = edges;
  row.frames = static_cast<int64_t>(clip.frames.size());
  std::vector<double> lat;
  double n = 0, edge_ms = 0, net_ms = 0, srv_ms = 0, hit = 0, reuse = 0, held = 0, cloud = 0;
  for (EdgeRun& r : runs) {
    lat.insert(lat.end(), r.latency.begin(), r.latency.end());
    n += static_cast<double>(r.frames);
    edge_ms += r.edge_ms, net_ms += r.network_ms, srv_ms += r.server_ms;
    hit += r.hit, reuse += r.block_reuse, held += static_cast<double>(r.held), cloud += static_cast<double>(r.cloud);
    row.bytes_up += static_cast<int64_t>(r.totals.bytes_up);
    row.background_bytes += static_cast<int64_t>(r.totals.background_bytes);
    row.fallbacks += r.totals.fallbacks;
    row.overruns += r.totals.slowdown_overruns;
  }
  const EdgeRun& first = runs[0];
  const MatchAccumulator& match = first.match;
  const double gt = first.gt_sum, gt_dense = first.gt_dense_sum;
  const int64_t gt_frames = first.gt_frames;
  double sum = 0;
  for (double v : lat) sum += v;
  row.latency_ms = sum / n;
  row.p95_ms = percentile(lat, 0.95);
  row.edge_ms = edge_ms / n;
  row.network_ms = net_ms / n;
  row.server_ms = srv_ms / n;
  row.mb_per_s = static_cast<double>(row.bytes_up) / 1e6 / (n / clip.fps);
  row.hit_ratio = hit / n;
  row.block_reuse = reuse / n;
  row.held_share = held / n;
  row.cloud_share = cloud / n;
  row.f1 = match.f1();
  row.map50 = first.ap.map();
  row.mask_iou = segment ? match.mean_mask_iou() : kNaN;
  row.gt_iou = gt_frames ? gt / static_cast<double>(gt_frames) : kNaN;
  row.gt_dense_iou = gt_frames ? gt_dense / static_cast<double>(gt_frames) : kNaN;
  row.gt_retention = gt_frames && gt_dense > 0 ? gt / gt_dense : kNaN;
  row.wall_s = ms_since(wall0) / 1e3;
  return row;
}

}  // namespace fx::cli
