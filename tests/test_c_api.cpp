// The C API: ownership, status codes and messages at the boundary, results equal to the C++ pipeline.
#include <catch2/catch.hpp>

#include <cstring>

#include "compiled_model.h"
#include "fluxshard/fluxshard.h"
#include "runtime/dense_executor.h"
#include "runtime/detector.h"
#include "runtime/io/video_reader.h"
#include "runtime/session.h"
#include "test_util.h"

using namespace fx;

namespace {

std::string plan_file(test::TempDir& tmp) {
  const auto& bytes = test::compiled_model(test::source_path("assets/yolo11n-320.onnx")).bytes;
  std::string path = tmp.file("y320.fsp");
  test::write_file(path, std::string(bytes.begin(), bytes.end()));
  return path;
}

}  // namespace

TEST_CASE("C API: load, session, push frames, read detections", "[c-api]") {
  test::TempDir tmp;
  std::string path = plan_file(tmp);
  fx_plan* plan = nullptr;
  REQUIRE(fx_plan_load(path.c_str(), &plan) == FX_OK);
  CHECK(std::string(fx_plan_task(plan)) == "detect");
  CHECK(fx_plan_input_width(plan) == 320);
  CHECK(fx_plan_class_count(plan) == 80);
  CHECK(std::string(fx_plan_class_name(plan, 0)) == "person");
  CHECK(fx_plan_class_name(plan, 80) == nullptr);

  fx_session_options opt;
  fx_session_options_default(&opt);
  opt.threads = 2;
  fx_session* s = nullptr;
  REQUIRE(fx_session_create(plan, &opt, &s) == FX_OK);
  fx_plan_free(plan);  // the session keeps the plan alive

  VideoReader reader(test::source_path("assets/bedroom.mp4"));
  Frame f;
  for (int i = 0; i < 31; ++i) REQUIRE(reader.read(f));
  // Pass the frame with a padded stride to check stride handling.
  int stride = f.width * 3 + 16;
  std::vector<uint8_t> padded(static_cast<size_t>(stride) * f.height, 0);
  for (int y = 0; y < f.height; ++y)
    std::memcpy(&padded[static_cast<size_t>(y) * stride], &f.rgb[static_cast<size_t>(y) * f.width * 3], f.width * 3);
  REQUIRE(fx_session_push_rgb(s, padded.data(), f.width, f.height, stride) == FX_OK);
  // The same frame through the C++ pipeline gives the same detections, bit for bit.
  auto cpp_plan = Plan::load_file(path);
  DenseExecutor exec(cpp_plan, std::make_shared<ThreadPool>(1));
  std::vector<uint8_t> scratch;
  LetterboxInfo lb = preprocess_frame(f, 320, 320, scratch, exec.input_data());
  exec.invoke();
  OutputLayout layout = output_layout(*cpp_plan);
  FrameResult ref = postprocess(layout, exec.tensor_data(layout.output0), nullptr, lb, PostOptions{});
  int n = fx_session_detection_count(s);
  REQUIRE(n >= 1);
  REQUIRE(n == static_cast<int>(ref.detections.size()));
  for (int i = 0; i < n; ++i) {
    fx_detection d;
    REQUIRE(fx_session_detection(s, i, &d) == FX_OK);
    CHECK(d.cls == ref.detections[i].cls);
    CHECK(d.score == ref.detections[i].score);
    CHECK(d.x1 == ref.detections[i].box[0]);
    CHECK(d.y2 == ref.detections[i].box[3]);
    CHECK(d.x1 >= 0);
    CHECK(d.x2 <= f.width);
  }
  CHECK(fx_session_last_ms(s) > 0);

  fx_detection d;
  CHECK(fx_session_detection(s, n, &d) == FX_ERROR_INVALID_ARGUMENT);
  CHECK(std::string(fx_last_error()) == "fx_session_detection: index out of range");
  const uint8_t* mask;
  int w, h;
  CHECK(fx_session_mask(s, 0, &mask, &w, &h) == FX_ERROR_INVALID_ARGUMENT);
  CHECK(fx_session_push_rgb(s, padded.data(), f.width, f.height, 5) == FX_ERROR_INVALID_ARGUMENT);
  CHECK(fx_session_push_rgb(s, nullptr, f.width, f.height, 0) == FX_ERROR_INVALID_ARGUMENT);
  fx_session_free(s);
  fx_session_free(nullptr);
  fx_plan_free(nullptr);
}

TEST_CASE("C API: errors are status codes with one-line messages", "[c-api]") {
  fx_plan* plan = reinterpret_cast<fx_plan*>(0x1);
  CHECK(fx_plan_load("/nonexistent.fsp", &plan) == FX_ERROR_IO);
  CHECK(plan == nullptr);
  CHECK(std::string(fx_last_error()) == "cannot open plan '/nonexistent.fsp': No such file or directory");
  const char junk[] = "definitely not a plan";
  CHECK(fx_plan_load_memory(junk, sizeof junk, &plan) == FX_ERROR_INVALID_PLAN);
  CHECK(std::string(fx_last_error()) == "'<memory>' is not a FluxShard plan (missing the FXSP file identifier)");
  CHECK(fx_plan_load(nullptr, &plan) == FX_ERROR_INVALID_ARGUMENT);
  fx_session* s = nullptr;
  CHECK(fx_session_create(nullptr, nullptr, &s) == FX_ERROR_INVALID_ARGUMENT);
}

TEST_CASE("C API from a C program", "[c-api]") {
  test::TempDir tmp;
  std::string path = plan_file(tmp);
  std::string out = tmp.file("out.txt");
  int rc = std::system((std::string(FLUXSHARD_BINARY_DIR) + "/bin/c_api_smoke '" + path + "' > '" + out + "'").c_str());
  CHECK(rc == 0);
  CHECK(test::read_file(out).rfind("fluxshard ", 0) == 0);
}

TEST_CASE("C API: a fluxshard-mode session reuses its cache across consecutive frames", "[c-api]") {
  test::TempDir tmp;
  std::string path = plan_file(tmp);
  fx_plan* plan = nullptr;
  REQUIRE(fx_plan_load(path.c_str(), &plan) == FX_OK);
  fx_session_options opt;
  fx_session_options_default(&opt);
  CHECK(opt.mode == FX_MODE_DENSE);
  opt.mode = FX_MODE_FLUXSHARD;
  opt.threads = 2;
  fx_session* s = nullptr;
  REQUIRE(fx_session_create(plan, &opt, &s) == FX_OK);
  VideoReader reader(test::source_path("assets/bedroom.mp4"));
  Frame f;
  double hit = 0;
  for (int i = 0; i < 5 && reader.read(f); ++i) {
    REQUIRE(fx_session_push_rgb(s, f.rgb.data(), f.width, f.height, 0) == FX_OK);
    if (i > 0) hit += fx_session_last_flop_hit(s);
  }
  CHECK(hit / 4 > 0.2);
  fx_session_free(s);
  // A caller built against the first version of the struct (no mode field) gets a dense session.
  fx_session_options old;
  fx_session_options_default(&old);
  old.mode = 77;  // beyond the old struct: must not be read
  old.struct_size = offsetof(fx_session_options, mode);
  REQUIRE(fx_session_create(plan, &old, &s) == FX_OK);
  REQUIRE(fx_session_push_rgb(s, f.rgb.data(), f.width, f.height, 0) == FX_OK);
  CHECK(fx_session_last_flop_hit(s) == 0.0);
  fx_session_free(s);
  opt.mode = 9;
  CHECK(fx_session_create(plan, &opt, &s) == FX_ERROR_INVALID_ARGUMENT);
  fx_plan_free(plan);
}

TEST_CASE("C API: version macros and queries agree", "[c-api]") {
  CHECK(fx_version_number() == FX_VERSION_NUMBER);
  CHECK(FX_VERSION_NUMBER == FX_VERSION_MAJOR * 10000 + FX_VERSION_MINOR * 100 + FX_VERSION_PATCH);
  CHECK(std::string(fx_version()) == std::string("fluxshard ") + FX_VERSION_STRING);
}

TEST_CASE("C API: video input decodes frames and pushes them with their motion vectors", "[c-api]") {
  test::TempDir tmp;
  std::string path = plan_file(tmp);
  const std::string clip = test::source_path("assets/bedroom.mp4");
  fx_video* v = nullptr;
  REQUIRE(fx_video_open(clip.c_str(), &v) == FX_OK);
  CHECK(fx_video_width(v) == 960);
  CHECK(fx_video_height(v) == 540);
  CHECK(fx_video_fps(v) == Approx(30.0).epsilon(0.01));
  CHECK(fx_video_frame_count(v) == 200);
  int w = -1, h = -1;
  CHECK(fx_video_frame_rgb(v, &w, &h) == nullptr);
  CHECK((w == 0 && h == 0));
  CHECK(fx_video_frame_index(v) == -1);

  fx_plan* plan = nullptr;
  REQUIRE(fx_plan_load(path.c_str(), &plan) == FX_OK);
  fx_session_options opt;
  fx_session_options_default(&opt);
  opt.mode = FX_MODE_FLUXSHARD;
  opt.threads = 2;
  fx_session* s = nullptr;
  REQUIRE(fx_session_create(plan, &opt, &s) == FX_OK);
  CHECK(fx_session_push_video(s, v) == FX_ERROR_INVALID_ARGUMENT);
  CHECK(std::string(fx_last_error()) == "fx_session_push_video: no frame read yet");

  // The same frames through the C++ pipeline, motion vectors included: identical detections, bit for bit
  // (fx_session_push_rgb of the same pixels would drop the vectors the motion search is seeded with).
  auto cpp_plan = Plan::load_file(path);
  SessionOptions so;
  so.mode = SessionMode::FluxShard;
  StreamSession ref(cpp_plan, std::make_shared<ThreadPool>(2), so);
  VideoReader reader(clip);
  Frame f;
  size_t compared = 0;
  for (int i = 0; i < 5; ++i) {
    REQUIRE(fx_video_read(v) == FX_OK);
    REQUIRE(reader.read(f));
    CHECK(fx_video_frame_index(v) == i);
    CHECK(fx_video_frame_time(v) == f.time_s);
    const uint8_t* rgb = fx_video_frame_rgb(v, &w, &h);
    REQUIRE((w == f.width && h == f.height));
    CHECK(std::memcmp(rgb, f.rgb.data(), f.rgb.size()) == 0);
    REQUIRE(fx_session_push_video(s, v) == FX_OK);
    const FrameResult& r = ref.process(f);
    REQUIRE(fx_session_detection_count(s) == static_cast<int>(r.detections.size()));
    for (int k = 0; k < fx_session_detection_count(s); ++k, ++compared) {
      fx_detection d;
      REQUIRE(fx_session_detection(s, k, &d) == FX_OK);
      const Detection& e = r.detections[static_cast<size_t>(k)];
      CHECK(d.cls == e.cls);
      CHECK(d.score == e.score);
      CHECK((d.x1 == e.box[0] && d.y1 == e.box[1] && d.x2 == e.box[2] && d.y2 == e.box[3]));
    }
  }
  CHECK(compared > 0);
  CHECK(fx_session_last_flop_hit(s) > 0);
  fx_session_free(s);
  fx_plan_free(plan);

  int frames = 5;
  fx_status st;
  while ((st = fx_video_read(v)) == FX_OK) ++frames;
  CHECK(st == FX_END_OF_STREAM);
  CHECK(frames == 200);
  CHECK(fx_video_read(v) == FX_END_OF_STREAM);
  fx_video_free(v);
  fx_video_free(nullptr);

  v = reinterpret_cast<fx_video*>(0x1);
  CHECK(fx_video_open("/nonexistent.mp4", &v) == FX_ERROR_IO);
  CHECK(v == nullptr);
  CHECK(std::string(fx_last_error()) == "cannot open video '/nonexistent.mp4': No such file or directory");
  CHECK(fx_video_open(nullptr, &v) == FX_ERROR_INVALID_ARGUMENT);
  CHECK(fx_video_read(nullptr) == FX_ERROR_INVALID_ARGUMENT);
  CHECK(fx_video_frame_rgb(nullptr, nullptr, nullptr) == nullptr);
}

TEST_CASE("C API: presets by name, checked against the mode", "[c-api]") {
  test::TempDir tmp;
  std::string path = plan_file(tmp);
  fx_plan* plan = nullptr;
  REQUIRE(fx_plan_load(path.c_str(), &plan) == FX_OK);
  fx_session_options opt;
  fx_session_options_default(&opt);
  CHECK(opt.preset == FX_PRESET_DEFAULT);
  opt.threads = 2;
  VideoReader reader(test::source_path("assets/bedroom.mp4"));
  std::vector<Frame> frames(4);
  for (Frame& f : frames) REQUIRE(reader.read(f));
  // The fast preset reuses at least as much as the balanced one on the same frames.
  double hit[2] = {0, 0};
  const int presets[2] = {FX_PRESET_BALANCED, FX_PRESET_FAST};
  for (int k = 0; k < 2; ++k) {
    opt.mode = FX_MODE_FLUXSHARD;
    opt.preset = presets[k];
    fx_session* s = nullptr;
    REQUIRE(fx_session_create(plan, &opt, &s) == FX_OK);
    for (size_t i = 0; i < frames.size(); ++i) {
      REQUIRE(fx_session_push_rgb(s, frames[i].rgb.data(), frames[i].width, frames[i].height, 0) == FX_OK);
      if (i > 0) hit[k] += fx_session_last_flop_hit(s);
    }
    fx_session_free(s);
  }
  CHECK(hit[0] > 0.3);
  CHECK(hit[1] >= hit[0]);
  fx_session* s = nullptr;
  opt.mode = FX_MODE_EXACT;
  opt.preset = FX_PRESET_EXACT;
  REQUIRE(fx_session_create(plan, &opt, &s) == FX_OK);
  fx_session_free(s);
  opt.preset = FX_PRESET_FAST;  // a fluxshard-mode preset on an exact session
  CHECK(fx_session_create(plan, &opt, &s) == FX_ERROR_INVALID_ARGUMENT);
  CHECK(std::string(fx_last_error()).find("preset and mode disagree") != std::string::npos);
  opt.mode = FX_MODE_DENSE;
  CHECK(fx_session_create(plan, &opt, &s) == FX_ERROR_INVALID_ARGUMENT);
  opt.preset = 4;
  opt.mode = FX_MODE_FLUXSHARD;
  CHECK(fx_session_create(plan, &opt, &s) == FX_ERROR_INVALID_ARGUMENT);
  fx_plan_free(plan);
}
