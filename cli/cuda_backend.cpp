#include "cli/cuda_backend.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>

#include "cli/annotated_video.h"
#include "cli/common.h"
#include "cli/progress.h"
#include "runtime/detector.h"
#include "runtime/error.h"
#include "runtime/util/clock.h"
#include "runtime/io/letterbox.h"
#include "runtime/io/video_reader.h"
#include "runtime/plan.h"
#include "runtime/util/json.h"
#if defined(FLUXSHARD_HAVE_CUDA)
#include "runtime/cuda/cuda_executor.h"
#endif

namespace fx::cli {

std::string backend_option(const Args& args) {
  const std::string b = args.get_choice("--backend", "cpu", {"cpu", "cuda"});
  const std::string p = args.get_choice("--precision", "fp32", {"fp32", "fp16"});
  if (b == "cpu" && args.has("--precision") && p != "fp32")
    throw UsageError("fluxshard " + args.command() + ": --precision " + p + " needs --backend cuda");
  return b;
}

#if !defined(FLUXSHARD_HAVE_CUDA)

int cmd_run_cuda(const Args&) { throw Error("fluxshard was built without CUDA"); }

std::vector<std::vector<float>> run_plan_cuda(const Args&, std::shared_ptr<const Plan>, const std::vector<float>&) {
  throw Error("fluxshard was built without CUDA");
}

#else

namespace {


std::unique_ptr<CudaExecutor> make_executor(const Args& args, std::shared_ptr<const Plan> plan) {
  CudaOptions opt;
  std::string why;
  if (!CudaExecutor::available(&why, opt.device)) throw Error("no CUDA device: " + why);
  opt.precision = parse_precision(args.get_choice("--precision", "fp32", {"fp32", "fp16"}));
  return std::make_unique<CudaExecutor>(std::move(plan), opt);
}

}  // namespace

int cmd_run_cuda(const Args& args) {
  args.max_positionals(1);
  const std::string& plan_path = args.positional(0, "PLAN.fsp");
  if (!args.has("--input")) throw UsageError("fluxshard run: missing --input FILE");
  const std::string mode = args.get_choice("--mode", "dense", {"dense", "exact", "fluxshard"});
  if (mode != "dense" || args.has("--preset"))  // a preset names a cache mode
    throw Error("fluxshard run: --backend cuda supports --mode dense only (the sparse modes run on the CPU)");
  for (const char* flag : {"--compare-dense", "--layer-stats", "--refresh-ms"})
    if (args.has(flag)) throw Error(std::string("fluxshard run: ") + flag + " is not supported with --backend cuda");
  const int max_frames = args.get_int("--max-frames", 0, 0, 1 << 30);
  const PostOptions post = post_options(args);
  auto plan = Plan::load_file(plan_path);
  auto exec = make_executor(args, plan);

  VideoReader reader(args.get("--input"));
  std::ofstream json = json_output(args);
  AnnotatedVideo annotated(args.has("--annotate") ? args.get("--annotate") : "", reader.fps());
  const OutputLayout layout = output_layout(*plan);
  const auto& names = plan->class_names();
  const int W = plan->input_w(), H = plan->input_h();
  std::vector<uint8_t> lb_rgb(static_cast<size_t>(W) * H * 3);
  LetterboxInfo lb;

  int64_t total = reader.frame_count_estimate();
  if (max_frames > 0 && (total <= 0 || total > max_frames)) total = max_frames;
  Progress progress(total, !args.has("--quiet"));
  Frame frame;
  int64_t frames = 0, detections = 0;
  double decode = 0, pre = 0, execute = 0, postp = 0;
  std::vector<double> totals;
  const auto wall0 = Clock::now();
  for (;;) {
    if (max_frames > 0 && frames >= max_frames) break;
    auto t0 = Clock::now();
    if (!reader.read(frame)) break;
    const double decode_ms = ms_since(t0);
    auto t1 = Clock::now();
    letterbox_rgb(frame.rgb.data(), frame.width, frame.height, W, H, lb_rgb.data(), &lb);
    rgb_to_planar_float(lb_rgb.data(), W, H, exec->input_host());
    const double pre_ms = ms_since(t1);
    auto t2 = Clock::now();
    exec->invoke();
    const double exec_ms = ms_since(t2);
    auto t3 = Clock::now();
    const FrameResult r = postprocess(layout, exec->output_host(0), layout.protos >= 0 ? exec->output_host(1) : nullptr,
                                      lb, post);
    const double post_ms = ms_since(t3);
    ++frames;
    detections += static_cast<int64_t>(r.detections.size());
    decode += decode_ms, pre += pre_ms, execute += exec_ms, postp += post_ms;
    totals.push_back(pre_ms + exec_ms + post_ms);
    if (json.is_open()) {
      JsonWriter w;
      w.begin_object().field("frame", frame.index).field("time_s", frame.time_s).field("mode", "dense");
      w.field("backend", "cuda").field("precision", precision_name(exec->options().precision));
      write_detections_json(w, r, names);
      w.key("timing").begin_object().field("decode_ms", decode_ms).field("preprocess_ms", pre_ms);
      w.field("execute_ms", exec_ms).field("post_ms", post_ms).field("total_ms", pre_ms + exec_ms + post_ms);
      w.end_object().end_object();
      json << w.str() << '\n';
    }
    annotated.add(frame, r, names);
    char note[64];
    std::snprintf(note, sizeof note, "%.1f ms/frame", (pre + execute + postp) / static_cast<double>(frames));
    progress.update(frames, note);
  }
  progress.finish();
  annotated.close();
  if (frames == 0) throw Error("'" + args.get("--input") + "' has no decodable frames");
  const double wall_s = std::chrono::duration<double>(Clock::now() - wall0).count();
  const double n = static_cast<double>(frames);
  const double mean = (pre + execute + postp) / n;
  if (json.is_open()) {
    JsonWriter w;
    w.begin_object().field("summary", true).field("frames", frames).field("mode", "dense").field("backend", "cuda");
    w.field("precision", precision_name(exec->options().precision)).field("device", exec->device_name());
    w.field("cuda_graph", exec->graph_active()).field("mean_ms", mean).field("median_ms", median(totals));
    w.field("mean_preprocess_ms", pre / n).field("mean_execute_ms", execute / n).field("mean_post_ms", postp / n);
    w.field("mean_decode_ms", decode / n).field("detections_per_frame", static_cast<double>(detections) / n);
    w.field("wall_s", wall_s).end_object();
    json << w.str() << '\n';
  }
  std::printf("%lld frames of %s (%dx%d), dense mode, cuda backend (%s, %s%s): %.2f ms/frame (letterbox %.2f, "
              "execute %.2f, post %.2f), %.2f detections/frame\n",
              static_cast<long long>(frames), args.get("--input").c_str(), reader.width(), reader.height(),
              exec->device_name().c_str(), precision_name(exec->options().precision),
              exec->graph_active() ? ", CUDA graph" : "", mean, pre / n, execute / n, postp / n,
              static_cast<double>(detections) / n);
  annotated.print_summary();
  return 0;
}

std::vector<std::vector<float>> run_plan_cuda(const Args& args, std::shared_ptr<const Plan> plan,
                                              const std::vector<float>& input) {
  auto exec = make_executor(args, plan);
  const TensorInfo& it = plan->tensor(plan->input());
  if (static_cast<int64_t>(input.size()) != it.numel) throw Error("input size does not match the plan's input");
  std::copy(input.begin(), input.end(), exec->input_host());
  exec->invoke();
  std::vector<std::vector<float>> outs;
  for (size_t i = 0; i < plan->outputs().size(); ++i) {
    const TensorInfo& ot = plan->tensor(plan->outputs()[i]);
    outs.emplace_back(exec->output_host(i), exec->output_host(i) + ot.numel);
  }
  return outs;
}

#endif

}  // namespace fx::cli
