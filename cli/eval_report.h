// The results of `fluxshard eval` (DESIGN 8): one row per cell (system, clip, bandwidth preset, number
// of edges), written as results.csv and results.json, and report.md with the paper's tables (setup,
// latency, accuracy, cache hit ratio and bandwidth, time composition, scalability, ablations, sweeps) and
// the targets. Only the results model: the runs are cmd_eval*.cpp, so a report can be regenerated from a
// results.json alone (`eval --report DIR`) and tested from a fixed one.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/util/json.h"

namespace fx::cli {

// One cell. Means are per frame over every frame of every edge of the cell; NaN where a value does not
// apply (mask IoU of a detect model, ground truth for a clip without it), written empty in CSV and null in
// JSON.
struct EvalRow {
  std::string system, group, clip, task, model, preset;
  int64_t edges = 1, frames = 0;
  double latency_ms = 0, p95_ms = 0;                      // end to end: frame in -> result out
  double edge_ms = 0, network_ms = 0, server_ms = 0;      // composition: edge compute, link + waiting, server
  double mb_per_s = 0;                                    // uplink per edge, MB per second of video (the clip's fps)
  int64_t bytes_up = 0;                                   // all edges
  int64_t background_bytes = 0;                           // of which background updates (FluxShard's freshness)
  double hit_ratio = 0;                                   // share of cached positions reused where the frame ran
  double block_reuse = 0;                                 // share of input blocks not fresh there
  double held_share = 0, cloud_share = 0;                 // frames that kept the last result / ran on the server
  double f1 = 0, map50 = 0, mask_iou = 0;                 // against dense inference of the same model
  double gt_iou = 0, gt_dense_iou = 0, gt_retention = 0;  // against ground truth; retention = system / dense
  int64_t fallbacks = 0, overruns = 0;
  double wall_s = 0;
};

// Calls f(name, field) for every field of a row, in column order (field: std::string&, int64_t& or
// double&; const with a const row).
template <class Row, class F>
void visit_fields(Row& r, F&& f) {
  f("system", r.system), f("group", r.group), f("clip", r.clip), f("task", r.task), f("model", r.model);
  f("preset", r.preset), f("edges", r.edges), f("frames", r.frames), f("latency_ms", r.latency_ms);
  f("p95_ms", r.p95_ms), f("edge_ms", r.edge_ms), f("network_ms", r.network_ms), f("server_ms", r.server_ms);
  f("mb_per_s", r.mb_per_s), f("bytes_up", r.bytes_up), f("background_bytes", r.background_bytes);
  f("hit_ratio", r.hit_ratio);
  f("block_reuse", r.block_reuse), f("held_share", r.held_share), f("cloud_share", r.cloud_share);
  f("f1", r.f1), f("map50", r.map50), f("mask_iou", r.mask_iou), f("gt_iou", r.gt_iou);
  f("gt_dense_iou", r.gt_dense_iou), f("gt_retention", r.gt_retention), f("fallbacks", r.fallbacks);
  f("overruns", r.overruns), f("wall_s", r.wall_s);
}

// The CSV header / the keys of a row in results.json, in order.
std::vector<std::string> eval_columns();

JsonValue row_to_json(const EvalRow& r);
// Throws fx::Error naming the missing or mistyped key.
EvalRow row_from_json(const JsonValue& v);

// results.json: {"meta": {...}, "rows": [...]}. meta holds the run's settings (see cmd_eval.cpp):
// presets, systems (name, group, what, simplified, fair), clips, edge_slowdown, machine, load, ...
struct EvalResults {
  JsonValue meta = JsonValue::object();
  std::vector<EvalRow> rows;
};

std::string results_json(const EvalResults& r);
// Throws fx::Error("<source>: ...") on anything that is not a results file of this schema.
EvalResults parse_results(const std::string& text, const std::string& source);
std::string results_csv(const EvalResults& r);
std::string report_markdown(const EvalResults& r);

// The headline accuracy of a row, as a retention in [0, 1]: against ground truth where the clip has it,
// else against dense (segment: mask IoU; detect: F1). `which` receives its name.
double row_accuracy(const EvalRow& r, std::string* which = nullptr);

}  // namespace fx::cli
