// The C boundary: status codes and a per-thread error message; no exception crosses it.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <new>
#include <string>
#include <thread>

#include "fluxshard/fluxshard.h"
#include "ops/thread_pool.h"
#include "runtime/backend.h"
#include "runtime/session.h"
#include "runtime/error.h"
#include "runtime/io/video_reader.h"
#include "runtime/presets.h"
#include "runtime/session.h"
#include "runtime/util/clock.h"
#include "runtime/version.h"

struct fx_plan {
  std::shared_ptr<const fx::Plan> plan;
};

struct fx_video {
#if defined(FLUXSHARD_HAVE_FFMPEG)
  std::unique_ptr<fx::VideoReader> reader;
#endif
  fx::Frame frame;  // the current frame (index -1 before the first read)
  bool ended = false;
};

struct fx_session {
  std::shared_ptr<const fx::Plan> plan;
  std::shared_ptr<fx::ThreadPool> pool;
  std::unique_ptr<fx::StreamSession> session;
  fx::Frame frame;
  double last_ms = 0, last_flop_hit = 0;
};

namespace {

thread_local std::string g_last_error;

fx_status fail(fx_status s, const std::string& message) {
  g_last_error = message;
  return s;
}

// Runs `body`, mapping exceptions to status codes.
template <typename F>
fx_status guarded(fx_status error_kind, F&& body) {
  try {
    g_last_error.clear();
    return body();
  } catch (const fx::Error& e) {
    return fail(error_kind, e.what());
  } catch (const std::bad_alloc&) {
    return fail(FX_ERROR_OUT_OF_MEMORY, "out of memory");
  } catch (const std::exception& e) {
    return fail(FX_ERROR_INTERNAL, e.what());
  } catch (...) {
    return fail(FX_ERROR_INTERNAL, "unknown error");
  }
}

// Runs the session on `frame` and records the push's time and FLOP hit (throws).
void process_frame(fx_session* s, const fx::Frame& frame) {
  auto t0 = fx::Clock::now();
  fx::FrameReport rep;
  s->session->process(frame, &rep);
  s->last_flop_hit = rep.mode != fx::SessionMode::Dense ? rep.sparse.flop_hit_ratio() : 0.0;
  s->last_ms = fx::ms_since(t0);
}

fx_status plan_error_kind(const std::string& message) {
  return message.rfind("cannot open", 0) == 0 || message.rfind("cannot read", 0) == 0 ? FX_ERROR_IO
                                                                                       : FX_ERROR_INVALID_PLAN;
}

}  // namespace

extern "C" {

const char* fx_version(void) { return fx::version_string(); }
int fx_version_number(void) { return FX_VERSION_NUMBER; }
const char* fx_last_error(void) { return g_last_error.c_str(); }

fx_status fx_plan_load(const char* path, fx_plan** out) {
  if (!path || !out) return fail(FX_ERROR_INVALID_ARGUMENT, "fx_plan_load: NULL argument");
  *out = nullptr;
  fx_status s = guarded(FX_ERROR_INVALID_PLAN, [&] {
    auto p = std::make_unique<fx_plan>();
    p->plan = fx::Plan::load_file(path);
    *out = p.release();
    return FX_OK;
  });
  if (s == FX_ERROR_INVALID_PLAN) s = plan_error_kind(g_last_error);
  return s;
}

fx_status fx_plan_load_memory(const void* data, size_t size, fx_plan** out) {
  if (!data || !out) return fail(FX_ERROR_INVALID_ARGUMENT, "fx_plan_load_memory: NULL argument");
  *out = nullptr;
  return guarded(FX_ERROR_INVALID_PLAN, [&] {
    auto p = std::make_unique<fx_plan>();
    p->plan = fx::Plan::from_bytes(data, size, "<memory>");
    *out = p.release();
    return FX_OK;
  });
}

void fx_plan_free(fx_plan* plan) { delete plan; }

int fx_plan_input_width(const fx_plan* plan) { return plan ? plan->plan->input_w() : 0; }
int fx_plan_input_height(const fx_plan* plan) { return plan ? plan->plan->input_h() : 0; }
const char* fx_plan_task(const fx_plan* plan) { return plan ? plan->plan->task().c_str() : ""; }
int fx_plan_class_count(const fx_plan* plan) {
  return plan ? static_cast<int>(plan->plan->class_names().size()) : 0;
}
const char* fx_plan_class_name(const fx_plan* plan, int cls) {
  if (!plan || cls < 0 || cls >= static_cast<int>(plan->plan->class_names().size())) return nullptr;
  return plan->plan->class_names()[static_cast<size_t>(cls)].c_str();
}

void fx_session_options_default(fx_session_options* o) {
  if (!o) return;
  std::memset(o, 0, sizeof *o);
  o->struct_size = sizeof *o;
  o->threads = 0;
  o->conf = 0.25f;
  o->iou = 0.7f;
  o->masks = 1;
  o->mode = FX_MODE_DENSE;
  o->backend = FX_BACKEND_CPU;
  o->device = 0;
  o->precision = FX_PRECISION_FP32;
}

fx_status fx_session_create(const fx_plan* plan, const fx_session_options* options, fx_session** out) {
  if (!plan || !out) return fail(FX_ERROR_INVALID_ARGUMENT, "fx_session_create: NULL argument");
  *out = nullptr;
  fx_session_options o;
  fx_session_options_default(&o);
  if (options) {
    // Callers built against an older header pass a smaller struct: take the fields it has.
    size_t n = options->struct_size;
    if (n < offsetof(fx_session_options, masks) + sizeof(int))
      return fail(FX_ERROR_INVALID_ARGUMENT, "fx_session_create: options.struct_size is too small");
    std::memcpy(&o, options, std::min(n, sizeof o));
    o.struct_size = sizeof o;
  }
  if (o.mode < FX_MODE_DENSE || o.mode > FX_MODE_FLUXSHARD) return fail(FX_ERROR_INVALID_ARGUMENT, "unknown mode");
  if (o.preset < FX_PRESET_DEFAULT || o.preset > FX_PRESET_FAST)
    return fail(FX_ERROR_INVALID_ARGUMENT, "unknown preset");
  if (o.preset != FX_PRESET_DEFAULT && o.mode == FX_MODE_DENSE)
    return fail(FX_ERROR_INVALID_ARGUMENT, "a preset needs mode FX_MODE_EXACT or FX_MODE_FLUXSHARD");
  if (o.preset != FX_PRESET_DEFAULT && (o.preset == FX_PRESET_EXACT) != (o.mode == FX_MODE_EXACT))
    return fail(FX_ERROR_INVALID_ARGUMENT,
                "preset and mode disagree (FX_PRESET_EXACT runs in FX_MODE_EXACT, the others in FX_MODE_FLUXSHARD)");
  if (o.threads < 0 || o.threads > 256) return fail(FX_ERROR_INVALID_ARGUMENT, "threads must be 0..256");
  if (!(o.conf >= 0 && o.conf <= 1) || !(o.iou >= 0 && o.iou <= 1))
    return fail(FX_ERROR_INVALID_ARGUMENT, "conf and iou must be in [0, 1]");
  if (o.backend != FX_BACKEND_CPU && o.backend != FX_BACKEND_CUDA) return fail(FX_ERROR_INVALID_ARGUMENT, "unknown backend");
  if (o.precision != FX_PRECISION_FP32 && o.precision != FX_PRECISION_FP16)
    return fail(FX_ERROR_INVALID_ARGUMENT, "unknown precision");
  if (o.device < 0) return fail(FX_ERROR_INVALID_ARGUMENT, "device must be >= 0");
  if (o.precision == FX_PRECISION_FP16 && o.backend != FX_BACKEND_CUDA)
    return fail(FX_ERROR_INVALID_ARGUMENT, "precision fp16 needs the cuda backend");
  auto s = std::make_unique<fx_session>();
  s->plan = plan->plan;
  fx::SessionOptions so;
  if (o.mode != FX_MODE_DENSE) {
    const fx::Preset p = o.preset == FX_PRESET_EXACT      ? fx::Preset::Exact
                         : o.preset == FX_PRESET_FAST     ? fx::Preset::Fast
                         : o.preset == FX_PRESET_BALANCED ? fx::Preset::Balanced
                         : o.mode == FX_MODE_EXACT        ? fx::Preset::Exact
                                                          : fx::Preset::Balanced;
    so = fx::preset_options(p);
  } else {
    so.mode = fx::SessionMode::Dense;
  }
  so.post.decode.conf = o.conf;
  so.post.decode.iou = o.iou;
  so.post.masks = o.masks != 0;
  so.backend.kind = o.backend == FX_BACKEND_CUDA ? "cuda" : "cpu";
  so.backend.device = o.device;
  so.backend.precision = o.precision == FX_PRECISION_FP16 ? fx::Precision::FP16 : fx::Precision::FP32;
  so.backend.threads = o.threads > 0 ? o.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  // The device first: a backend this build or machine cannot run is the caller's choice to revisit.
  std::shared_ptr<const fx::Device> device;
  fx_status st = guarded(FX_ERROR_INVALID_ARGUMENT, [&] {
    s->pool = std::make_shared<fx::ThreadPool>(so.backend.threads);
    device = fx::make_device(s->plan, so.backend, s->pool);
    return FX_OK;
  });
  if (st != FX_OK) return st;
  return guarded(FX_ERROR_INVALID_PLAN, [&] {
    s->session = std::make_unique<fx::StreamSession>(device, so);
    *out = s.release();
    return FX_OK;
  });
}

void fx_session_free(fx_session* session) { delete session; }

fx_status fx_session_push_rgb(fx_session* s, const uint8_t* rgb, int width, int height, int stride) {
  if (!s || !rgb) return fail(FX_ERROR_INVALID_ARGUMENT, "fx_session_push_rgb: NULL argument");
  if (width <= 0 || height <= 0 || width > 16384 || height > 16384)
    return fail(FX_ERROR_INVALID_ARGUMENT, "fx_session_push_rgb: invalid frame size");
  if (stride == 0) stride = width * 3;
  if (stride < width * 3) return fail(FX_ERROR_INVALID_ARGUMENT, "fx_session_push_rgb: stride < width * 3");
  return guarded(FX_ERROR_INTERNAL, [&] {
    s->frame.width = width;
    s->frame.height = height;
    s->frame.rgb.resize(static_cast<size_t>(width) * height * 3);
    for (int y = 0; y < height; ++y)
      std::memcpy(s->frame.rgb.data() + static_cast<size_t>(y) * width * 3, rgb + static_cast<size_t>(y) * stride,
                  static_cast<size_t>(width) * 3);
    process_frame(s, s->frame);
    return FX_OK;
  });
}

int fx_session_detection_count(const fx_session* s) {
  return s ? static_cast<int>(s->session->result().detections.size()) : 0;
}

fx_status fx_session_detection(const fx_session* s, int index, fx_detection* out) {
  if (!s || !out) return fail(FX_ERROR_INVALID_ARGUMENT, "fx_session_detection: NULL argument");
  const auto& dets = s->session->result().detections;
  if (index < 0 || index >= static_cast<int>(dets.size()))
    return fail(FX_ERROR_INVALID_ARGUMENT, "fx_session_detection: index out of range");
  const fx::Detection& d = dets[static_cast<size_t>(index)];
  out->cls = d.cls;
  out->score = d.score;
  out->x1 = d.box[0], out->y1 = d.box[1], out->x2 = d.box[2], out->y2 = d.box[3];
  return FX_OK;
}

fx_status fx_session_mask(const fx_session* s, int index, const uint8_t** data, int* width, int* height) {
  if (!s || !data || !width || !height) return fail(FX_ERROR_INVALID_ARGUMENT, "fx_session_mask: NULL argument");
  const auto& masks = s->session->result().masks;
  if (index < 0 || index >= static_cast<int>(masks.size()))
    return fail(FX_ERROR_INVALID_ARGUMENT, "fx_session_mask: no mask with that index (detect model or masks off?)");
  const fx::Mask& m = masks[static_cast<size_t>(index)];
  *data = m.data.data();
  *width = m.width;
  *height = m.height;
  return FX_OK;
}

double fx_session_last_ms(const fx_session* s) { return s ? s->last_ms : 0.0; }
double fx_session_last_flop_hit(const fx_session* s) { return s ? s->last_flop_hit : 0.0; }

// ---- video input

fx_status fx_video_open(const char* url, fx_video** out) {
  if (!url || !out) return fail(FX_ERROR_INVALID_ARGUMENT, "fx_video_open: NULL argument");
  *out = nullptr;
#if defined(FLUXSHARD_HAVE_FFMPEG)
  return guarded(FX_ERROR_IO, [&] {
    auto v = std::make_unique<fx_video>();
    v->reader = std::make_unique<fx::VideoReader>(url);
    *out = v.release();
    return FX_OK;
  });
#else
  return fail(FX_ERROR_UNSUPPORTED, "fluxshard was built without FFmpeg (no video input)");
#endif
}

void fx_video_free(fx_video* video) { delete video; }

#if defined(FLUXSHARD_HAVE_FFMPEG)
int fx_video_width(const fx_video* v) { return v ? v->reader->width() : 0; }
int fx_video_height(const fx_video* v) { return v ? v->reader->height() : 0; }
double fx_video_fps(const fx_video* v) { return v ? v->reader->fps() : 0.0; }
int64_t fx_video_frame_count(const fx_video* v) { return v ? v->reader->frame_count_estimate() : -1; }
#else
// No fx_video exists without FFmpeg (fx_video_open fails).
int fx_video_width(const fx_video*) { return 0; }
int fx_video_height(const fx_video*) { return 0; }
double fx_video_fps(const fx_video*) { return 0.0; }
int64_t fx_video_frame_count(const fx_video*) { return -1; }
#endif

fx_status fx_video_read(fx_video* v) {
  if (!v) return fail(FX_ERROR_INVALID_ARGUMENT, "fx_video_read: NULL argument");
  if (v->ended) return FX_END_OF_STREAM;
#if defined(FLUXSHARD_HAVE_FFMPEG)
  return guarded(FX_ERROR_IO, [&] {
    if (v->reader->read(v->frame)) return FX_OK;
    v->ended = true;
    return FX_END_OF_STREAM;
  });
#else
  return fail(FX_ERROR_UNSUPPORTED, "fluxshard was built without FFmpeg (no video input)");
#endif
}

const uint8_t* fx_video_frame_rgb(const fx_video* v, int* width, int* height) {
  const bool have = v && v->frame.index >= 0;
  if (width) *width = have ? v->frame.width : 0;
  if (height) *height = have ? v->frame.height : 0;
  return have ? v->frame.rgb.data() : nullptr;
}

int64_t fx_video_frame_index(const fx_video* v) { return v ? v->frame.index : -1; }
double fx_video_frame_time(const fx_video* v) { return v ? v->frame.time_s : 0.0; }

fx_status fx_session_push_video(fx_session* s, const fx_video* v) {
  if (!s || !v) return fail(FX_ERROR_INVALID_ARGUMENT, "fx_session_push_video: NULL argument");
  if (v->frame.index < 0) return fail(FX_ERROR_INVALID_ARGUMENT, "fx_session_push_video: no frame read yet");
  return guarded(FX_ERROR_INTERNAL, [&] {
    process_frame(s, v->frame);
    return FX_OK;
  });
}

}  // extern "C"
