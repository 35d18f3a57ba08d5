// Small pieces shared by the subcommands.
#pragma once

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/json_lines.h"
#include "ops/thread_pool.h"
#include "runtime/detector.h"
#include "runtime/io/video_reader.h"
#include "runtime/session.h"

namespace fx::cli {

// --threads N (default: every hardware thread), validated.
int thread_option(const Args& args);
int default_threads();

std::string shape_text(const std::vector<int64_t>& s);
// A tensor name as a file-name part: characters other than [A-Za-z0-9_.-] become '_' (as the ONNX
// Runtime reference tool names its outputs).
std::string sanitize_file_part(const std::string& name);

// --backend cpu|cuda, --device N, --precision fp32|fp16 (fp16 only with cuda) and --threads, validated.
BackendOptions backend_options(const Args& args);
// --conf and --iou (the post-processing thresholds), validated.
PostOptions post_options(const Args& args);
// The flags `run` and `edge` share for motion search, recompute planning and truncation (--block,
// --window, --tau, --tau-rel, --drift-bound, --refresh-share, --cut-share, --fade-levels, --sigma,
// --gate-max-share, --tau-salient, --island-eps, --island-reused, --no-codec-mvs, --conf, --iou) and the
// backend (backend_options), validated, over `base`; mode is left as it is.
SessionOptions planning_options(const Args& args, SessionOptions base = {});
// --mode (one of `modes`, default `default_mode`) and --preset (runtime/presets.h): a preset without
// --mode runs in its own mode, a cache mode without --preset takes its default preset (exact -> exact,
// fluxshard -> balanced); a preset of another mode than --mode is a usage error. Then the planning
// flags over the preset's knobs.
SessionOptions session_options(const Args& args, const std::string& default_mode,
                               const std::vector<std::string>& modes);
// --block must divide the plan's input size (a command-line error, exit 2, when it does not).
void check_block_option(const Args& args, const Plan& plan, int block);
// The --json output (a file, truncated, or "-" for standard output); not open without --json. Throws
// when it cannot be written.
JsonLines json_output(const Args& args);

// How run / edge open --input: --reconnect SECONDS for live sources, interrupted by SIGINT / SIGTERM
// (cli/stop_signal.h).
VideoReaderOptions input_options(const Args& args);

// One "warning: ..." line on stderr when the input lost frames (timestamps skipped source frames, or the
// decoder rejected some); nothing for an undamaged input.
void warn_input_damage(const VideoReader& reader, const std::string& input);

// Median of a list of numbers (sorted copy).
double median(std::vector<double> v);

}  // namespace fx::cli
