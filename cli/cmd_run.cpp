#include <chrono>
#include <cstdio>
#include <fstream>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/progress.h"
#include "runtime/dense_executor.h"
#include "runtime/detector.h"
#include "runtime/error.h"
#include "runtime/io/draw.h"
#include "runtime/io/video_reader.h"
#include "runtime/io/video_writer.h"
#include "runtime/util/json.h"

namespace fx::cli {

namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

void annotate(Frame& f, const FrameResult& r, const std::vector<std::string>& names) {
  ImageRgb img(f.rgb.data(), f.width, f.height);
  for (size_t i = 0; i < r.masks.size(); ++i)
    blend_mask(img, r.masks[i].data.data(), r.masks[i].width, palette_color(r.detections[i].cls), 0.4f);
  for (const Detection& d : r.detections) {
    std::string name = d.cls < static_cast<int>(names.size()) ? names[d.cls] : std::to_string(d.cls);
    char label[96];
    std::snprintf(label, sizeof label, "%s %.2f", name.c_str(), d.score);
    draw_box_label(img, d.box, label, palette_color(d.cls));
  }
}

}  // namespace

int cmd_run(const Args& args) {
  args.max_positionals(1);
  const std::string& plan_path = args.positional(0, "PLAN.fsp");
  if (!args.has("--input")) throw UsageError("fluxshard run: missing --input FILE");
  int threads = thread_option(args);
  int max_frames = args.get_int("--max-frames", 0, 0, 1 << 30);
  PostOptions post;
  post.decode.conf = static_cast<float>(args.get_double("--conf", 0.25, 0.0, 1.0));
  post.decode.iou = static_cast<float>(args.get_double("--iou", 0.7, 0.0, 1.0));
  auto plan = Plan::load_file(plan_path);
  OutputLayout layout = output_layout(*plan);

  VideoReader reader(args.get("--input"));
  std::ofstream json;
  if (args.has("--json")) {
    json.open(args.get("--json"), std::ios::trunc);
    if (!json) throw Error("cannot write '" + args.get("--json") + "'");
  }
  VideoWriter writer;
  auto pool = std::make_shared<ThreadPool>(threads);
  DenseExecutor exec(plan, pool);

  int64_t total = reader.frame_count_estimate();
  if (max_frames > 0 && (total <= 0 || total > max_frames)) total = max_frames;
  Progress progress(total, !args.has("--quiet"));
  std::vector<uint8_t> rgb_scratch;
  Frame frame;
  double sum_decode = 0, sum_pre = 0, sum_infer = 0, sum_post = 0, sum_total = 0;
  int64_t frames = 0, detections = 0;
  std::vector<double> infer_ms;
  auto wall0 = Clock::now();
  for (;;) {
    if (max_frames > 0 && frames >= max_frames) break;
    auto t0 = Clock::now();
    if (!reader.read(frame)) break;
    double decode_ms = ms_since(t0);
    auto t1 = Clock::now();
    LetterboxInfo lb = preprocess_frame(frame, plan->input_w(), plan->input_h(), rgb_scratch, exec.input_data());
    double pre_ms = ms_since(t1);
    auto t2 = Clock::now();
    exec.invoke();
    double inf_ms = ms_since(t2);
    auto t3 = Clock::now();
    FrameResult r = postprocess(layout, exec.tensor_data(layout.output0),
                                layout.protos >= 0 ? exec.tensor_data(layout.protos) : nullptr, lb, post);
    double post_ms = ms_since(t3);
    double total_ms = pre_ms + inf_ms + post_ms;
    sum_decode += decode_ms, sum_pre += pre_ms, sum_infer += inf_ms, sum_post += post_ms, sum_total += total_ms;
    infer_ms.push_back(inf_ms);
    detections += static_cast<int64_t>(r.detections.size());

    if (json.is_open()) {
      JsonWriter w;
      w.begin_object().field("frame", frame.index).field("time_s", frame.time_s).field("mode", "dense");
      w.key("detections").begin_array();
      for (size_t i = 0; i < r.detections.size(); ++i) {
        const Detection& d = r.detections[i];
        std::string name = d.cls < static_cast<int>(plan->class_names().size()) ? plan->class_names()[d.cls] : "";
        write_detection_json(w, d, name, i < r.masks.size() ? &r.masks[i] : nullptr);
      }
      w.end_array();
      w.key("timing").begin_object().field("decode_ms", decode_ms).field("preprocess_ms", pre_ms);
      w.field("infer_ms", inf_ms).field("post_ms", post_ms).field("total_ms", total_ms).end_object();
      w.end_object();
      json << w.str() << '\n';
    }
    if (args.has("--annotate")) {
      if (!writer.is_open())
        writer.open(args.get("--annotate"), frame.width, frame.height, reader.fps() > 0 ? reader.fps() : 25.0);
      annotate(frame, r, plan->class_names());
      writer.write(frame);
    }
    ++frames;
    char note[64];
    std::snprintf(note, sizeof note, "%.1f ms/frame", sum_total / static_cast<double>(frames));
    progress.update(frames, note);
  }
  progress.finish();
  if (writer.is_open()) writer.close();
  if (frames == 0) throw Error("'" + args.get("--input") + "' has no decodable frames");
  double wall_s = std::chrono::duration<double>(Clock::now() - wall0).count();
  double n = static_cast<double>(frames);
  if (json.is_open()) {
    JsonWriter w;
    w.begin_object().field("summary", true).field("frames", frames).field("mode", "dense");
    w.field("threads", pool->size()).field("mean_ms", sum_total / n).field("mean_infer_ms", sum_infer / n);
    w.field("median_infer_ms", median(infer_ms)).field("mean_preprocess_ms", sum_pre / n);
    w.field("mean_post_ms", sum_post / n).field("mean_decode_ms", sum_decode / n);
    w.field("detections_per_frame", static_cast<double>(detections) / n).field("wall_s", wall_s);
    w.end_object();
    json << w.str() << '\n';
  }
  std::printf("%lld frames of %s (%dx%d) with %s on %d threads: %.2f ms/frame (letterbox %.2f, inference %.2f "
              "[median %.2f], post %.2f), decode %.2f ms, %.2f detections/frame, %.1f fps overall\n",
              static_cast<long long>(frames), args.get("--input").c_str(), reader.width(), reader.height(),
              plan->source().c_str(), pool->size(), sum_total / n, sum_pre / n, sum_infer / n, median(infer_ms),
              sum_post / n, sum_decode / n, static_cast<double>(detections) / n, n / wall_s);
  if (writer.frames_written() > 0)
    std::printf("annotated video: %s (%lld frames, %s)\n", args.get("--annotate").c_str(),
                static_cast<long long>(writer.frames_written()), writer.codec_name().c_str());
  return 0;
}

}  // namespace fx::cli
