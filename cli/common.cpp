#include "cli/common.h"

#include <algorithm>
#include <cctype>
#include <thread>

#include "runtime/error.h"
#include "runtime/presets.h"

namespace fx::cli {

int default_threads() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(std::min(n, 256u));
}

int thread_option(const Args& args) { return args.get_int("--threads", default_threads(), 1, 256); }

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
  return o;
}

std::ofstream json_output(const Args& args) {
  std::ofstream json;
  if (!args.has("--json")) return json;
  json.open(args.get("--json"), std::ios::trunc);
  if (!json) throw Error("cannot write '" + args.get("--json") + "'");
  return json;
}

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

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace fx::cli
