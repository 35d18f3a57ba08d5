#include "cli/common.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <thread>

#include "cli/stop_signal.h"
#include "runtime/error.h"
#include "runtime/presets.h"

namespace fx::cli {

int default_threads() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(std::min(n, 256u));
}

int thread_option(const Args& args) { return args.get_int("--threads", default_threads(), 1, 256); }

BackendOptions backend_options(const Args& args) {
  BackendOptions b;
  b.kind = args.get_choice("--backend", "cpu", {"cpu", "cuda"});
  b.device = args.get_int("--device", 0, 0, 64);
  b.precision = parse_precision(args.get_choice("--precision", "fp32", {"fp32", "fp16"}));
  if (b.kind == "cpu" && b.precision != Precision::FP32)
    throw UsageError("fluxshard " + args.command() + ": --precision fp16 needs --backend cuda");
  b.threads = thread_option(args);
  // --cpu-ops Conv,MatMul: op kinds the cuda backend leaves to the CPU kernels (the per-op fallback).
  std::string list = args.get("--cpu-ops", "");
  for (size_t at = 0; !list.empty() && at <= list.size();) {
    const size_t comma = std::min(list.find(',', at), list.size());
    const std::string name = list.substr(at, comma - at);
    bool known = false;
    for (int k = 0; k <= static_cast<int>(OpKind::MAX); ++k)
      if (name == op_kind_name(static_cast<OpKind>(k))) {
        b.cpu_ops.push_back(static_cast<OpKind>(k));
        known = true;
      }
    if (!known) throw UsageError("fluxshard " + args.command() + ": --cpu-ops: unknown op kind '" + name + "'");
    at = comma + 1;
  }
  if (!b.cpu_ops.empty() && b.kind == "cpu")
    throw UsageError("fluxshard " + args.command() + ": --cpu-ops needs --backend cuda");
  return b;
}

PostOptions post_options(const Args& args) {
  PostOptions post;
  post.decode.conf = static_cast<float>(args.get_double("--conf", 0.25, 0.0, 1.0));
  post.decode.iou = static_cast<float>(args.get_double("--iou", 0.7, 0.0, 1.0));
  return post;
}

SessionOptions session_options(const Args& args, const std::string& default_mode,
                               const std::vector<std::string>& modes) {
  std::string mode = args.get_choice("--mode", default_mode, modes);
  SessionOptions base;
  if (args.has("--preset")) {
    const Preset p = parse_preset(args.get_choice("--preset", "balanced", {"exact", "balanced", "fast"}));
    if (!args.has("--mode")) mode = mode_name(preset_mode(p));
    if (mode != mode_name(preset_mode(p)))
      throw UsageError("--preset " + std::string(preset_name(p)) + " runs in " + mode_name(preset_mode(p)) +
                       " mode, not " + mode + " (drop --mode or pick another preset)");
    base = preset_options(p);
  } else if (mode != "dense") {
    base = preset_options(default_preset(parse_mode(mode)));
  }
  SessionOptions o = planning_options(args, base);
  o.mode = parse_mode(mode);
  return o;
}

SessionOptions planning_options(const Args& args, SessionOptions o) {
  o.aligner.block = args.get_int("--block", o.aligner.block, 4, 128);
  o.aligner.window = args.get_int("--window", o.aligner.window, 0, 128);
  o.aligner.tau = static_cast<float>(args.get_double("--tau", o.aligner.tau, 0.0, 1.0));
  o.sigma = static_cast<float>(args.get_double("--sigma", o.sigma, -1, 1.0));
  o.gate_max_share = static_cast<float>(args.get_double("--gate-max-share", o.gate_max_share, 0.0, 1.0));
  o.tau_salient = static_cast<float>(args.get_double("--tau-salient", o.tau_salient, 0, 1.0));
  o.change.tau_rel = static_cast<float>(args.get_double("--tau-rel", o.change.tau_rel, -1, 100.0));
  o.change.cap = static_cast<float>(args.get_double("--tau-cap", o.change.cap, 0, 1.0));
  o.tau_rel_salient = static_cast<float>(args.get_double("--tau-rel-salient", o.tau_rel_salient, 0, 1.0));
  o.staleness.drift_bound = static_cast<float>(args.get_double("--drift-bound", o.staleness.drift_bound, 0, 1e6));
  o.staleness.cut_share = static_cast<float>(args.get_double("--cut-share", o.staleness.cut_share, 0, 1));
  o.staleness.fade_levels = static_cast<float>(args.get_double("--fade-levels", o.staleness.fade_levels, 0, 255));
  o.island_eps = static_cast<float>(args.get_double("--island-eps", o.island_eps, 0, 100.0));
  o.island_reused_scale = static_cast<float>(args.get_double("--island-reused", o.island_reused_scale, 1, 1e6));
  o.codec_mvs = !args.has("--no-codec-mvs");
  o.post = post_options(args);
  o.backend = backend_options(args);
  return o;
}

void check_block_option(const Args& args, const Plan& plan, int block) {
  if (plan.input_w() % block == 0 && plan.input_h() % block == 0) return;
  throw UsageError("fluxshard " + args.command() + ": --block " + std::to_string(block) +
                   " must divide the plan's input size " + std::to_string(plan.input_w()) + "x" +
                   std::to_string(plan.input_h()));
}

JsonLines json_output(const Args& args) { return args.has("--json") ? JsonLines(args.get("--json")) : JsonLines(); }

std::string shape_text(const std::vector<int64_t>& s) {
  std::string o = "[";
  for (size_t i = 0; i < s.size(); ++i) o += (i ? "," : "") + std::to_string(s[i]);
  return o + "]";
}

std::string sanitize_file_part(const std::string& name) {
  std::string o = name;
  for (char& c : o)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-')) c = '_';
  return o;
}

VideoReaderOptions input_options(const Args& args) {
  VideoReaderOptions o;
  o.reconnect_s = args.get_double("--reconnect", o.reconnect_s, 0, 86400);
  o.interrupt = [] { return stop_signal() != 0; };
  return o;
}

void warn_input_damage(const VideoReader& reader, const std::string& input) {
  if (reader.missing_frames() == 0 && reader.decode_errors() == 0) return;
  std::string what = "'" + input + "' is damaged: ";
  if (reader.missing_frames() > 0)
    what += std::to_string(reader.missing_frames()) + " source frame" + (reader.missing_frames() == 1 ? "" : "s") +
            " missing (the first is frame " + std::to_string(reader.first_missing_frame()) +
            "; frame numbers follow the source's timestamps)";
  else
    what += "no frame is missing";
  what += ", " + std::to_string(reader.decode_errors()) + " decoding error" + (reader.decode_errors() == 1 ? "" : "s");
  std::fprintf(stderr, "warning: %s\n", what.c_str());
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace fx::cli
