// FluxShard C++ wrapper: RAII classes over the C API of fluxshard.h (header-only; link libfluxshard).
//
//   fluxshard::Plan plan("yolo11n-640.fsp");
//   fluxshard::SessionOptions opt;            // the C struct, filled with the defaults
//   opt.mode = FX_MODE_FLUXSHARD;
//   fluxshard::Session session(plan, opt);    // holds its own reference to the plan
//   fluxshard::Video video("clip.mp4");
//   while (video.read()) {
//     session.push(video);
//     for (const fluxshard::Detection& d : session.detections()) ...
//   }
//
// Failures throw fluxshard::Error (the fx_status and fx_last_error()'s message). Handles are move-only
// and freed by their destructors. A Session is used by one thread at a time.
#ifndef FLUXSHARD_HPP
#define FLUXSHARD_HPP

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "fluxshard/fluxshard.h"

namespace fluxshard {

class Error : public std::runtime_error {
 public:
  Error(fx_status status, const std::string& message) : std::runtime_error(message), status_(status) {}
  fx_status status() const noexcept { return status_; }

 private:
  fx_status status_;
};

namespace detail {

inline void check(fx_status s) {
  if (s != FX_OK) throw Error(s, fx_last_error());
}

struct PlanFree {
  void operator()(fx_plan* p) const noexcept { fx_plan_free(p); }
};
struct SessionFree {
  void operator()(fx_session* s) const noexcept { fx_session_free(s); }
};
struct VideoFree {
  void operator()(fx_video* v) const noexcept { fx_video_free(v); }
};

}  // namespace detail

using Detection = fx_detection;

// A mask of one detection at source resolution: width * height bytes of 0/1, owned by the session and
// valid until its next push.
struct Mask {
  const uint8_t* data = nullptr;
  int width = 0, height = 0;
};

// fx_session_options with the library's defaults; set the fields you need (mode, threads, conf, ...).
struct SessionOptions : fx_session_options {
  SessionOptions() { fx_session_options_default(this); }
};

// "fluxshard X.Y.Z" of the library in use.
inline std::string version() { return fx_version(); }

class Plan {
 public:
  explicit Plan(const std::string& path) {
    fx_plan* p = nullptr;
    detail::check(fx_plan_load(path.c_str(), &p));
    p_.reset(p);
  }
  static Plan from_memory(const void* data, size_t size) {
    fx_plan* p = nullptr;
    detail::check(fx_plan_load_memory(data, size, &p));
    return Plan(p);
  }

  int input_width() const { return fx_plan_input_width(p_.get()); }
  int input_height() const { return fx_plan_input_height(p_.get()); }
  std::string task() const { return fx_plan_task(p_.get()); }
  int class_count() const { return fx_plan_class_count(p_.get()); }
  // "" when cls is out of range.
  std::string class_name(int cls) const {
    const char* n = fx_plan_class_name(p_.get(), cls);
    return n ? n : "";
  }
  const fx_plan* get() const noexcept { return p_.get(); }

 private:
  explicit Plan(fx_plan* p) : p_(p) {}
  std::unique_ptr<fx_plan, detail::PlanFree> p_;
};

class Video {
 public:
  // A file, an image (sequence) or a URL; throws when it cannot be opened or has no decodable frame.
  explicit Video(const std::string& url) {
    fx_video* v = nullptr;
    detail::check(fx_video_open(url.c_str(), &v));
    v_.reset(v);
  }

  // Decodes the next frame; false after the last one. Throws on a read error.
  bool read() {
    fx_status s = fx_video_read(v_.get());
    if (s == FX_END_OF_STREAM) return false;
    detail::check(s);
    return true;
  }

  int width() const { return fx_video_width(v_.get()); }
  int height() const { return fx_video_height(v_.get()); }
  double fps() const { return fx_video_fps(v_.get()); }
  int64_t frame_count() const { return fx_video_frame_count(v_.get()); }  // -1: unknown
  // The current frame: packed RGB24, frame_width() * 3 bytes per row; nullptr before the first read().
  const uint8_t* rgb() const { return fx_video_frame_rgb(v_.get(), nullptr, nullptr); }
  int frame_width() const {
    int w = 0;
    fx_video_frame_rgb(v_.get(), &w, nullptr);
    return w;
  }
  int frame_height() const {
    int h = 0;
    fx_video_frame_rgb(v_.get(), nullptr, &h);
    return h;
  }
  int64_t frame_index() const { return fx_video_frame_index(v_.get()); }
  double frame_time() const { return fx_video_frame_time(v_.get()); }
  const fx_video* get() const noexcept { return v_.get(); }

 private:
  std::unique_ptr<fx_video, detail::VideoFree> v_;
};

class Session {
 public:
  explicit Session(const Plan& plan, const SessionOptions& options = SessionOptions()) {
    fx_session* s = nullptr;
    detail::check(fx_session_create(plan.get(), &options, &s));
    s_.reset(s);
  }

  // One packed RGB24 frame (stride 0: width * 3); frames of a session are consecutive frames of a stream.
  void push_rgb(const uint8_t* rgb, int width, int height, int stride = 0) {
    detail::check(fx_session_push_rgb(s_.get(), rgb, width, height, stride));
  }
  // The video's current frame, with its codec motion vectors.
  void push(const Video& video) { detail::check(fx_session_push_video(s_.get(), video.get())); }

  int detection_count() const { return fx_session_detection_count(s_.get()); }
  Detection detection(int index) const {
    Detection d;
    detail::check(fx_session_detection(s_.get(), index, &d));
    return d;
  }
  std::vector<Detection> detections() const {
    std::vector<Detection> out(static_cast<size_t>(detection_count()));
    for (size_t i = 0; i < out.size(); ++i) out[i] = detection(static_cast<int>(i));
    return out;
  }
  // Segment models with masks on: the mask of detection `index`.
  Mask mask(int index) const {
    Mask m;
    detail::check(fx_session_mask(s_.get(), index, &m.data, &m.width, &m.height));
    return m;
  }
  double last_ms() const { return fx_session_last_ms(s_.get()); }
  double last_flop_hit() const { return fx_session_last_flop_hit(s_.get()); }
  fx_session* get() const noexcept { return s_.get(); }

 private:
  std::unique_ptr<fx_session, detail::SessionFree> s_;
};

}  // namespace fluxshard

#endif  // FLUXSHARD_HPP
