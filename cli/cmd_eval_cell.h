// One cell of `fluxshard eval`: a system (net/systems.h) on one clip at one bandwidth preset with N edges,
// each edge an EdgeClient on a thread of its own against the evaluation's in-process server, and the
// cell's row of results (cli/eval_report.h): latency and its composition, bandwidth, reuse, and accuracy
// against the clip's dense reference and ground truth.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cli/eval_report.h"
#include "net/systems.h"
#include "runtime/io/video_reader.h"
#include "runtime/post/metrics.h"
#include "runtime/session.h"

namespace fx::cli {

// A clip, decoded once for every cell, and its dense reference.
struct EvalClip {
  std::string name, path, gt_pattern;  // gt_pattern: ground-truth annotations ("" for none)
  double fps = 30;
  std::vector<Frame> frames;
  std::vector<Frame> gt;  // per frame (empty where the annotation is missing)
  // Dense inference of the evaluated plan per frame: detections and masks (COCO RLE, source pixels).
  struct Ref {
    std::vector<Detection> dets;
    std::vector<std::vector<uint32_t>> masks;
  };
  std::vector<Ref> ref;
  std::vector<double> ref_gt_iou;  // dense's ground-truth IoU per frame (NaN: no annotation)
  double ref_seconds = 0;          // the reference run's wall time
};

// Decodes up to max_frames (0: all) of `path` and its annotations, and runs the dense reference of `plan`
// with `threads` kernel threads. Throws fx::Error for an unreadable clip or annotation.
EvalClip load_clip(const std::string& path, const std::string& gt_pattern, int max_frames,
                   std::shared_ptr<const Plan> plan, int threads);

struct CellContext {
  std::shared_ptr<const Plan> plan, small_plan;
  std::string task;       // the plan's
  net::EdgeOptions base;  // server address, threads, RTT, slowdown, session settings
  int hold_k = 3;
  // f_e per block size (this machine's, unscaled): measured once, shared by every cell.
  std::map<int, std::vector<std::pair<int, double>>>* edge_profiles = nullptr;
};

// Runs the cell; `tick` is called after every frame of every edge (from the edges' threads, serialised).
EvalRow run_cell(const CellContext& ctx, const net::SystemSpec& sys, const EvalClip& clip, const std::string& preset,
                 int edges, const std::function<void()>& tick);

}  // namespace fx::cli
