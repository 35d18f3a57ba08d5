// The `run` and `profile` commands end to end: the per-frame JSON lines and the summary line carry the
// documented keys, and a profiled truncation table is written into the plan and used by `run`.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <sstream>

#include "compiler/compile.h"
#include "runtime/io/video_reader.h"
#include "runtime/plan.h"
#include "runtime/util/json.h"
#include "test_util.h"

using namespace fx;

namespace {

std::vector<JsonValue> json_lines(const std::string& path) {
  std::vector<JsonValue> out;
  std::istringstream in(test::read_file(path));
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) out.push_back(JsonValue::parse(line));
  return out;
}

std::string compile_to(test::TempDir& tmp, const std::string& model) {
  std::string plan = tmp.file(model + ".fsp");
  auto r = test::run_cli({"compile", test::source_path("assets/" + model + ".onnx"), "-o", plan, "--quiet"});
  REQUIRE(r.status == 0);
  return plan;
}

// `run PLAN --input bedroom.mp4 --threads 2 --quiet --json ... EXTRA`: requires success, returns the JSON
// lines; `stdout` (optional) receives what it printed.
std::vector<JsonValue> run_bedroom(test::TempDir& tmp, const std::string& plan, std::vector<std::string> extra,
                                   std::string* stdout_text = nullptr) {
  std::string json = tmp.file("run.jsonl");
  std::vector<std::string> args = {"run", plan, "--input", test::source_path("assets/bedroom.mp4"), "--threads", "2",
                                   "--quiet", "--json", json};
  args.insert(args.end(), extra.begin(), extra.end());
  auto r = test::run_cli(args);
  INFO(r.err);
  REQUIRE(r.status == 0);
  if (stdout_text) *stdout_text = r.out;
  return json_lines(json);
}

}  // namespace

TEST_CASE("run --mode fluxshard --compare-dense writes per-frame statistics and a summary", "[cli][run]") {
  test::TempDir tmp;
  std::string plan = compile_to(tmp, "yolo11n-320");
  std::string out;
  auto lines = run_bedroom(tmp, plan, {"--mode", "fluxshard", "--compare-dense", "--max-frames", "6"}, &out);
  CHECK(out.find("speed-up") != std::string::npos);
  REQUIRE(lines.size() == 7);
  int column_frames = 0;  // frames whose epilogue recomputed only some anchor columns
  for (size_t i = 0; i < 6; ++i) {
    const JsonValue& l = lines[i];
    CHECK(l.at("frame").as_int() == static_cast<int64_t>(i));
    CHECK(l.at("mode").as_string() == "fluxshard");
    for (const char* k : {"hit_ratio", "flop_hit_ratio", "recomputed_positions", "critical_blocks", "f1_vs_dense"})
      CHECK(l.find(k) != nullptr);
    const int64_t columns = l.at("epilogue_columns").as_int();
    CHECK(columns >= 0);
    CHECK(columns <= 2100);
    column_frames += columns > 0;
    for (const char* k : {"motion_ms", "classify_ms", "execute_ms", "epilogue_ms", "post_ms", "total_ms"})
      CHECK(l.at("timing").find(k) != nullptr);
    CHECK(l.at("motion").find("median_mv") != nullptr);
    for (const JsonValue& d : l.at("detections").items()) {
      CHECK(d.at("box").size() == 4);
      CHECK(d.at("score").as_double() >= 0.25);
    }
  }
  CHECK(column_frames > 0);
  const JsonValue& s = lines.back();
  CHECK(s.at("summary").as_bool());
  CHECK(s.at("frames").as_int() == 6);
  CHECK(s.at("mode").as_string() == "fluxshard");
  for (const char* k :
       {"hit_ratio", "flop_hit_ratio", "mean_ms", "dense_mean_ms", "speedup_vs_dense", "f1_vs_dense", "map50_vs_dense"})
    CHECK(s.find(k) != nullptr);
  CHECK(s.at("map50_vs_dense").as_double() >= 0.0);
  CHECK(s.at("map50_vs_dense").as_double() <= 1.0);
  CHECK(s.at("frames_with_detections").as_int() >= s.at("frames_with_dense_detections").as_int());
  CHECK(s.at("frames_with_detections").as_int() <= 6);
  CHECK(s.at("flop_hit_ratio").as_double() > 0.0);
  CHECK(s.at("flop_hit_ratio").as_double() < 1.0);
}

TEST_CASE("run --preset picks the mode and the knobs; a preset of another mode is a usage error", "[cli][run]") {
  test::TempDir tmp;
  std::string plan = compile_to(tmp, "yolo11n-320");
  auto exact = run_bedroom(tmp, plan, {"--preset", "exact", "--max-frames", "2"});
  CHECK(exact.back().at("mode").as_string() == "exact");
  auto fast = run_bedroom(tmp, plan, {"--preset", "fast", "--max-frames", "2"});
  CHECK(fast.back().at("mode").as_string() == "fluxshard");
  const std::string clip = test::source_path("assets/bedroom.mp4");
  auto bad = test::run_cli({"run", plan, "--input", clip, "--preset", "fast", "--mode", "exact", "--quiet"});
  CHECK(bad.status == 2);
  CHECK(bad.err == "error: --preset fast runs in fluxshard mode, not exact (drop --mode or pick another preset)\n");
  auto unknown = test::run_cli({"run", plan, "--input", clip, "--preset", "quick", "--quiet"});
  CHECK(unknown.status == 2);
  CHECK(unknown.err.find("--preset") != std::string::npos);
}

TEST_CASE("run on a segment model reports mask IoU against dense", "[cli][run]") {
  test::TempDir tmp;
  std::string plan = compile_to(tmp, "yolo11n-seg-640");
  auto lines = run_bedroom(tmp, plan, {"--mode", "exact", "--compare-dense", "--max-frames", "3"});
  REQUIRE(lines.size() == 4);
  CHECK(lines.back().at("mask_iou_vs_dense").as_double() > 0.8);
  bool any_mask = false;
  for (size_t i = 0; i < 3; ++i)
    for (const JsonValue& d : lines[i].at("detections").items()) any_mask = any_mask || d.find("mask") != nullptr;
  CHECK(any_mask);
}

TEST_CASE("profile writes a truncation table that run then uses", "[cli][profile]") {
  test::TempDir tmp;
  std::string plan = compile_to(tmp, "yolo11n-320");
  std::string profiled = tmp.file("profiled.fsp");
  auto r = test::run_cli({"profile", plan, "--input", test::source_path("assets/bedroom.mp4"), "--frames", "6",
                          "--threads", "2", "--target", "0.9", "-o", profiled});
  INFO(r.err);
  REQUIRE(r.status == 0);
  auto p = Plan::load_file(profiled);
  REQUIRE(p->fb().truncation());
  CHECK(p->fb().truncation()->size() == 4);
  for (const auto* b : *p->fb().truncation()) {
    REQUIRE(b->eps()->size() == static_cast<size_t>(p->op_count()));
    // Never below the default session's attention-island threshold.
    for (int i = 0; i < p->op_count(); ++i) {
      const OpDesc& op = p->op(i);
      if (op.region == PlanRegion::Global) CHECK(b->eps()->Get(i) > 0.f);
    }
  }
  // Everything else is the original plan: same ops and outputs.
  auto orig = Plan::load_file(plan);
  CHECK(p->op_count() == orig->op_count());
  CHECK(p->total_flops() == orig->total_flops());
  auto lines = run_bedroom(tmp, profiled, {"--mode", "fluxshard", "--max-frames", "4"});
  REQUIRE(lines.size() == 5);
  CHECK(lines[2].at("bucket").as_int() >= 0);
}

TEST_CASE("run --annotate writes the clip again with the detections drawn", "[cli][run][annotate]") {
  test::TempDir tmp;
  std::string plan = compile_to(tmp, "yolo11n-320");
  const std::string clip = test::source_path("assets/bedroom.mp4");
  const std::string out = tmp.file("annotated.mkv");
  auto r = test::run_cli({"run", plan, "--input", clip, "--max-frames", "3", "--threads", "2", "--annotate", out,
                          "--quiet"});
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(r.out.find("annotated video: " + out + " (3 frames, ") != std::string::npos);

  // Same size and frame count as the input; the boxes change a visible but small share of the pixels
  // (the codec's own error is a few levels, a box outline tens of levels).
  VideoReader src(clip), ann(out);
  Frame a, b;
  int frames = 0;
  while (ann.read(b)) {
    REQUIRE(src.read(a));
    REQUIRE(b.width == a.width);
    REQUIRE(b.height == a.height);
    size_t strong = 0;
    for (size_t i = 0; i < a.rgb.size(); i += 3) {
      int d = 0;
      for (int c = 0; c < 3; ++c) d = std::max(d, std::abs(int(a.rgb[i + c]) - int(b.rgb[i + c])));
      strong += d > 60;
    }
    const double share = static_cast<double>(strong) / (a.rgb.size() / 3);
    INFO("frame " << frames << ": " << 100 * share << "% of pixels changed by more than 60 levels");
    CHECK(share > 0.002);
    CHECK(share < 0.2);
    ++frames;
  }
  CHECK(frames == 3);

  auto bad = test::run_cli(
      {"run", plan, "--input", clip, "--max-frames", "1", "--annotate", "/nonexistent_dir_fx/a.mp4", "--quiet"});
  CHECK(bad.status != 0);
  CHECK(bad.err == "error: cannot write video '/nonexistent_dir_fx/a.mp4': No such file or directory\n");
  auto bad_json = test::run_cli(
      {"run", plan, "--input", clip, "--max-frames", "1", "--json", "/nonexistent_dir_fx/a.jsonl", "--quiet"});
  CHECK(bad_json.status == 1);
  CHECK(bad_json.err == "error: cannot write '/nonexistent_dir_fx/a.jsonl': No such file or directory\n");
}
