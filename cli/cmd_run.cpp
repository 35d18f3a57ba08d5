#include <chrono>
#include <cstdio>
#include <fstream>

#include "cli/annotated_video.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/progress.h"
#include "cli/stop_signal.h"
#include "runtime/error.h"
#include "runtime/io/video_reader.h"
#include "runtime/post/metrics.h"
#include "runtime/session.h"
#include "runtime/util/clock.h"
#include "runtime/util/json.h"

namespace fx::cli {

namespace {

// Means over the frames of a run (summary line and stdout).
struct Totals {
  int64_t frames = 0, detections = 0;
  double decode = 0, pre = 0, motion = 0, classify = 0, execute = 0, post = 0, total = 0, refresh = 0;
  double hit = 0, flop_hit = 0, critical = 0, candidate_share = 0, median_mv = 0;
  double dense_total = 0;
  double labels = 0, copies = 0, kernels = 0, compare = 0, islands = 0, epilogue = 0;
  double gt_iou = 0, dense_gt_iou = 0;
  int64_t gt_frames = 0;
  std::vector<double> totals;
};

}  // namespace

int cmd_run(const Args& args) {
  args.max_positionals(1);
  const std::string& plan_path = args.positional(0, "PLAN.fsp");
  if (!args.has("--input")) throw UsageError("fluxshard run: missing --input FILE");
  int max_frames = args.get_int("--max-frames", 0, 0, 1 << 30);
  SessionOptions opt = session_options(args, "dense", {"dense", "exact", "fluxshard"});
  opt.refresh_ms = args.get_double("--refresh-ms", 0, 0, 10000);
  opt.eps_scale = static_cast<float>(args.get_double("--eps-scale", 1.0, 0.0, 1000.0));
  bool compare = args.has("--compare-dense");
  auto plan = Plan::load_file(plan_path);
  check_block_option(args, *plan, opt.aligner.block);

  install_stop_signals();  // Ctrl-C / SIGTERM: finish the video and the summary with what was processed
  VideoReader reader(args.get("--input"), input_options(args));
  auto json = json_output(args);
  FILE* out = json.to_stdout() ? stderr : stdout;  // with --json -, standard output holds the JSON only
  AnnotatedVideo annotated(args.has("--annotate") ? args.get("--annotate") : "", reader.fps());
  // One device (kernels, weights) for the session and its dense comparison.
  const std::shared_ptr<const Device> device = make_device(plan, opt.backend);
  StreamSession session(device, opt);
  std::unique_ptr<StreamSession> dense;
  if (compare) {
    SessionOptions d = opt;
    d.mode = SessionMode::Dense;
    dense = std::make_unique<StreamSession>(device, d);
  }
  const bool seg = plan->task() == "segment";
  const auto& names = plan->class_names();

  int64_t total = reader.frame_count_estimate();
  if (max_frames > 0 && (total <= 0 || total > max_frames)) total = max_frames;
  Progress progress(total, !args.has("--quiet"));
  Frame frame;
  Totals t;
  MatchAccumulator acc;
  ApAccumulator ap(0.5f, opt.post.decode.conf);
  std::vector<double> layer_share(static_cast<size_t>(plan->op_count()), 0.0);
  std::unique_ptr<VideoReader> gt;
  if (args.has("--gt-masks")) {
    if (!seg) throw UsageError("fluxshard run: --gt-masks needs a segment model");
    gt = std::make_unique<VideoReader>(args.get("--gt-masks"));
  }
  Frame gt_frame;
  auto wall0 = Clock::now();
  for (;;) {
    if (max_frames > 0 && t.frames >= max_frames) break;
    if (stop_signal()) break;
    auto t0 = Clock::now();
    if (!reader.read(frame)) break;
    double decode_ms = ms_since(t0);
    FrameReport rep;
    const FrameResult& r = session.process(frame, &rep);
    double dense_ms = 0;
    MatchResult match;
    if (dense) {
      FrameReport drep;
      const FrameResult& dr = dense->process(frame, &drep);
      dense_ms = drep.time.total_ms();
      match = match_detections(r.detections, dr.detections, 0.5f);
      ap.add(session.ranked_detections(), dr.detections);
      if (seg) acc.add(match, r.masks, dr.masks);
      else acc.add(match);
    }
    double frame_gt_iou = -1;
    if (gt && gt->read(gt_frame) && gt_frame.width == frame.width && gt_frame.height == frame.height) {
      frame_gt_iou = gt_mask_iou(gt_frame.rgb.data(), gt_frame.width, gt_frame.height, r.masks);
      t.gt_iou += frame_gt_iou;
      if (dense)
        t.dense_gt_iou += gt_mask_iou(gt_frame.rgb.data(), gt_frame.width, gt_frame.height, dense->result().masks);
      t.gt_frames++;
    }
    t.frames++;
    t.detections += static_cast<int64_t>(r.detections.size());
    t.decode += decode_ms, t.pre += rep.time.preprocess_ms, t.motion += rep.time.motion_ms;
    t.classify += rep.time.classify_ms, t.execute += rep.time.execute_ms, t.post += rep.time.post_ms;
    t.refresh += rep.time.refresh_ms;
    t.total += rep.time.total_ms();
    t.totals.push_back(rep.time.total_ms());
    t.dense_total += dense_ms;
    t.hit += rep.sparse.hit_ratio();
    t.flop_hit += rep.sparse.flop_hit_ratio();
    t.critical += rep.critical_blocks;
    t.candidate_share += rep.motion.candidate_share;
    t.median_mv += rep.motion.median_mv;
    t.labels += rep.sparse.labels_ms, t.copies += rep.sparse.copy_ms, t.kernels += rep.sparse.kernel_ms;
    t.compare += rep.sparse.compare_ms, t.islands += rep.sparse.island_ms, t.epilogue += rep.sparse.epilogue_ms;
    if (session.sparse() && t.frames > 1)
      for (size_t i = 0; i < layer_share.size(); ++i) layer_share[i] += session.sparse()->op_recompute_share()[i];

    if (json.is_open()) {
      JsonWriter w;
      w.begin_object().field("frame", frame.index).field("time_s", frame.time_s).field("mode", mode_name(opt.mode));
      w.field("backend", opt.backend.kind);
      write_detections_json(w, r, names);
      w.field("hit_ratio", rep.sparse.hit_ratio()).field("flop_hit_ratio", rep.sparse.flop_hit_ratio());
      w.field("recomputed_positions", rep.sparse.recomputed_positions).field("critical_blocks", rep.critical_blocks);
      w.field("candidate_blocks", rep.candidate_blocks).field("salient_skipped", rep.salient_skipped);
      w.field("changed_blocks", rep.changed_blocks).field("drift_refreshed", rep.drift_refreshed);
      w.field("refresh_all", rep.refresh_all);
      w.field("truncated_positions", rep.sparse.truncated_positions).field("islands_run", rep.sparse.islands_run);
      w.field("origin_moves", rep.sparse.origin_moves).field("epilogue_columns", rep.sparse.tail_columns);
      w.field("bucket", rep.bucket);
      w.key("motion").begin_object().field("candidate_share", rep.motion.candidate_share);
      w.field("exposed_share", rep.motion.exposed_share).field("median_mv", rep.motion.median_mv);
      w.field("stride_aligned_share", rep.motion.stride_aligned_share).end_object();
      w.key("timing").begin_object().field("decode_ms", decode_ms).field("preprocess_ms", rep.time.preprocess_ms);
      w.field("motion_ms", rep.time.motion_ms).field("classify_ms", rep.time.classify_ms);
      w.field("execute_ms", rep.time.execute_ms).field("post_ms", rep.time.post_ms);
      w.field("total_ms", rep.time.total_ms());
      if (opt.mode != SessionMode::Dense) {
        w.field("labels_ms", rep.sparse.labels_ms).field("copy_ms", rep.sparse.copy_ms);
        w.field("kernel_ms", rep.sparse.kernel_ms).field("compare_ms", rep.sparse.compare_ms);
        w.field("island_ms", rep.sparse.island_ms).field("epilogue_ms", rep.sparse.epilogue_ms);
      }
      if (rep.time.refresh_ms > 0) w.field("refresh_ms", rep.time.refresh_ms);
      w.end_object();
      if (frame_gt_iou >= 0) w.field("gt_mask_iou", frame_gt_iou);
      if (dense) {
        w.field("dense_ms", dense_ms).field("f1_vs_dense", match.f1);
        if (seg) w.field("mask_iou_vs_dense", mask_iou_matched(match, r.masks, dense->result().masks));
      }
      w.end_object();
      json << w.str() << '\n';
    }
    annotated.add(frame, r, names);
    char note[96];
    std::snprintf(note, sizeof note, "%.1f ms/frame, hit %.0f%%", t.total / static_cast<double>(t.frames),
                  100.0 * t.flop_hit / static_cast<double>(t.frames));
    progress.update(t.frames, note);
  }
  progress.finish();
  annotated.close();
  if (t.frames == 0) throw Error("'" + args.get("--input") + "' has no decodable frames");
  double wall_s = std::chrono::duration<double>(Clock::now() - wall0).count();
  double n = static_cast<double>(t.frames);
  double mean = t.total / n;
  if (json.is_open()) {
    JsonWriter w;
    w.begin_object().field("summary", true).field("frames", t.frames).field("mode", mode_name(opt.mode));
    w.field("backend", opt.backend.kind).field("device", device->name());
    w.field("threads", device->pool().size()).field("hit_ratio", t.hit / n).field("flop_hit_ratio", t.flop_hit / n);
    w.field("mean_ms", mean).field("median_ms", median(t.totals));
    w.field("mean_preprocess_ms", t.pre / n).field("mean_motion_ms", t.motion / n);
    w.field("mean_classify_ms", t.classify / n).field("mean_execute_ms", t.execute / n);
    w.field("mean_post_ms", t.post / n).field("mean_decode_ms", t.decode / n);
    w.field("mean_critical_blocks", t.critical / n).field("mean_candidate_share", t.candidate_share / n);
    w.field("mean_median_mv", t.median_mv / n).field("mean_epilogue_ms", t.epilogue / n);
    w.field("mean_island_ms", t.islands / n).field("mean_kernel_ms", t.kernels / n);
    w.field("detections_per_frame", static_cast<double>(t.detections) / n).field("wall_s", wall_s);
    w.field("missing_frames", reader.missing_frames()).field("decode_errors", reader.decode_errors());
    w.field("reconnects", reader.reconnects());
    if (stop_signal()) w.field("stopped_by", stop_signal_name());
    if (t.gt_frames) {
      w.field("gt_mask_iou", t.gt_iou / static_cast<double>(t.gt_frames));
      if (dense) w.field("dense_gt_mask_iou", t.dense_gt_iou / static_cast<double>(t.gt_frames));
    }
    if (dense) {
      w.field("dense_mean_ms", t.dense_total / n).field("speedup_vs_dense", (t.dense_total / n) / mean);
      w.field("f1_vs_dense", acc.f1()).field("map50_vs_dense", ap.map()).field("mean_iou_vs_dense", acc.mean_iou());
      w.field("frames_with_detections", acc.frames_with_either)
          .field("frames_with_dense_detections", acc.frames_with_ref);
      if (seg) w.field("mask_iou_vs_dense", acc.mean_mask_iou());
    }
    w.end_object();
    json << w.str() << '\n';
  }
  json.close();
  std::fprintf(out,
               "%lld frames of %s (%dx%d), %s mode, %s: %.2f ms/frame (letterbox %.2f, motion %.2f, "
               "classify %.2f, execute %.2f, post %.2f), FLOP hit %.1f%%, position hit %.1f%%, %.2f detections/frame\n",
               static_cast<long long>(t.frames), args.get("--input").c_str(), reader.width(), reader.height(),
               mode_name(opt.mode), device->name().c_str(), mean, t.pre / n, t.motion / n, t.classify / n,
               t.execute / n, t.post / n, 100 * t.flop_hit / n, 100 * t.hit / n,
               static_cast<double>(t.detections) / n);
  if (opt.mode != SessionMode::Dense)
    std::fprintf(out,
                 "execute: labels %.2f ms, cache copies %.2f, local kernels %.2f, compare %.2f, islands %.2f, "
                 "epilogue %.2f\n",
                 t.labels / n, t.copies / n, t.kernels / n, t.compare / n, t.islands / n, t.epilogue / n);
  if (dense)
    std::fprintf(
        out,
        "vs dense: %.2f ms/frame, speed-up %.2fx, F1 %.4f, mAP50 %.4f, mean box IoU %.4f%s (%lld of %lld frames had "
        "detections on either side)\n",
        t.dense_total / n, (t.dense_total / n) / mean, acc.f1(), ap.map(), acc.mean_iou(),
        seg ? (", mask IoU " + std::to_string(acc.mean_mask_iou())).c_str() : "",
        static_cast<long long>(acc.frames_with_either), static_cast<long long>(acc.frames));
  if (args.has("--layer-stats") && session.sparse() && t.frames > 1) {
    std::fprintf(out, "%4s %-14s %-46s %8s %10s\n", "op", "kind", "name", "recomp%", "MFLOPs");
    for (int i = 0; i < plan->op_count(); ++i) {
      const OpDesc& op = plan->op(i);
      std::string name = op.name;
      if (name.size() > 46) name = "..." + name.substr(name.size() - 43);
      std::fprintf(out, "%4d %-14s %-46s %7.1f%% %10.2f\n", i, op_kind_name(op.kind), name.c_str(),
                   100 * layer_share[static_cast<size_t>(i)] / (n - 1), op.flops / 1e6);
    }
  }
  if (t.gt_frames)
    std::fprintf(
        out, "ground-truth mask IoU over %lld frames: %.4f%s\n", static_cast<long long>(t.gt_frames),
        t.gt_iou / static_cast<double>(t.gt_frames),
        dense ? (" (dense: " + std::to_string(t.dense_gt_iou / static_cast<double>(t.gt_frames)) + ")").c_str() : "");
  annotated.print_summary(out);
  warn_input_damage(reader, args.get("--input"));
  if (stop_signal())
    std::fprintf(stderr, "run: stopped by %s after %lld frames\n", stop_signal_name(),
                 static_cast<long long>(t.frames));
  return 0;
}

}  // namespace fx::cli
