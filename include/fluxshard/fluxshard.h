/* FluxShard C API: load a compiled plan, open a stream session, push frames, read detections.
 *
 * Conventions
 *  - Handles are opaque. Every function that creates one says who owns it; free what you own with the
 *    matching *_free function (passing NULL is allowed and does nothing).
 *  - Functions return FX_OK or an error status; fx_last_error() then gives a one-line message for the
 *    calling thread. No C++ exception ever crosses this boundary.
 *  - A session is used by one thread at a time; different sessions may run concurrently and may share
 *    one plan.
 *  - Linking: libfluxshard.so / libfluxshard.a; CMake `find_package(FluxShard)` then
 *    `target_link_libraries(app FluxShard::fluxshard)` (or FluxShard::fluxshard_static), or
 *    `pkg-config --cflags --libs fluxshard`. include/fluxshard/fluxshard.hpp wraps this API in C++ classes.
 *  - Only the functions declared here are exported from the shared library (FX_API).
 */
#ifndef FLUXSHARD_H
#define FLUXSHARD_H

#include <stddef.h>
#include <stdint.h>

/* The version of this header (CMake reads the project's version from these lines). fx_version_number()
 * gives the library's at run time; a program can compare the two. */
#define FX_VERSION_MAJOR 0
#define FX_VERSION_MINOR 1
#define FX_VERSION_PATCH 0
#define FX_VERSION_STR_(x) #x
#define FX_VERSION_XSTR_(x) FX_VERSION_STR_(x)
/* "0.1.0" */
#define FX_VERSION_STRING \
  FX_VERSION_XSTR_(FX_VERSION_MAJOR) "." FX_VERSION_XSTR_(FX_VERSION_MINOR) "." FX_VERSION_XSTR_(FX_VERSION_PATCH)
/* MAJOR * 10000 + MINOR * 100 + PATCH, e.g. 100 for 0.1.0 */
#define FX_VERSION_NUMBER (FX_VERSION_MAJOR * 10000 + FX_VERSION_MINOR * 100 + FX_VERSION_PATCH)

/* Marks the exported functions. The library is built with hidden visibility and a version script, so
 * these are its only dynamic symbols. */
#if defined(__GNUC__) || defined(__clang__)
#define FX_API __attribute__((visibility("default")))
#else
#define FX_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef enum fx_status {
  FX_OK = 0,
  FX_ERROR_INVALID_ARGUMENT = 1, /* NULL handle, bad size, index out of range, unknown option value */
  FX_ERROR_IO = 2,               /* file cannot be opened or read */
  FX_ERROR_INVALID_PLAN = 3,     /* not a plan, corrupted, another version, inconsistent */
  FX_ERROR_OUT_OF_MEMORY = 4,
  FX_ERROR_INTERNAL = 5,
  FX_ERROR_UNSUPPORTED = 6,      /* not in this build (e.g. video input in a build without FFmpeg) */
  FX_END_OF_STREAM = 7           /* fx_video_read: no frame after the last one (not an error) */
} fx_status;

typedef struct fx_plan fx_plan;
typedef struct fx_session fx_session;

typedef struct fx_detection {
  int cls;        /* class index; fx_plan_class_name() gives its name */
  float score;    /* confidence in [0, 1] */
  float x1, y1;   /* top-left corner, source-image pixels */
  float x2, y2;   /* bottom-right corner */
} fx_detection;

/* "fluxshard X.Y.Z"; static storage. */
FX_API const char* fx_version(void);
/* The library's version as FX_VERSION_NUMBER computes it (MAJOR * 10000 + MINOR * 100 + PATCH). */
FX_API int fx_version_number(void);

/* The message of the last failed call on this thread; static per-thread storage, valid until the next
 * call on this thread. "" when there was none. */
FX_API const char* fx_last_error(void);

/* Loads and verifies a plan file. On success *out is a new plan owned by the caller (fx_plan_free). */
FX_API fx_status fx_plan_load(const char* path, fx_plan** out);
/* Same from memory; the bytes are copied, the caller keeps ownership of `data`. */
FX_API fx_status fx_plan_load_memory(const void* data, size_t size, fx_plan** out);
/* Releases the caller's reference; sessions created from the plan keep their own. */
FX_API void fx_plan_free(fx_plan* plan);

/* Plan properties. Strings are owned by the plan and live as long as it. */
FX_API int fx_plan_input_width(const fx_plan* plan);
FX_API int fx_plan_input_height(const fx_plan* plan);
FX_API const char* fx_plan_task(const fx_plan* plan); /* "detect" or "segment" */
FX_API int fx_plan_class_count(const fx_plan* plan);
FX_API const char* fx_plan_class_name(const fx_plan* plan, int cls); /* NULL when out of range */

typedef enum fx_mode {
  FX_MODE_DENSE = 0,     /* every frame through dense inference */
  FX_MODE_EXACT = 1,     /* feature-cache reuse; caches equal dense inference on the reference image */
  FX_MODE_FLUXSHARD = 2  /* the production mode: salience filtering, nearest-offset reuse, truncation */
} fx_mode;

typedef enum fx_backend {
  FX_BACKEND_CPU = 0, /* the CPU kernels (always built) */
  FX_BACKEND_CUDA = 1 /* a CUDA GPU (builds with CUDA); ops without a GPU kernel run on the CPU */
} fx_backend;

typedef enum fx_precision {
  FX_PRECISION_FP32 = 0, /* the CUDA backend computes the CPU's bits */
  FX_PRECISION_FP16 = 1  /* CUDA only: tensor-core convolutions, fp32 accumulation; not bit-exact */
} fx_precision;

/* Named operating points of the cache modes (README "Presets"): FX_PRESET_EXACT runs in FX_MODE_EXACT,
 * FX_PRESET_BALANCED and FX_PRESET_FAST in FX_MODE_FLUXSHARD; FX_PRESET_DEFAULT is the mode's own (exact
 * -> exact, fluxshard -> balanced). A preset of another mode, or any preset but the default with
 * FX_MODE_DENSE, is FX_ERROR_INVALID_ARGUMENT. */
typedef enum fx_preset {
  FX_PRESET_DEFAULT = 0,
  FX_PRESET_EXACT = 1,
  FX_PRESET_BALANCED = 2, /* salience gating, nearest-offset reuse, truncation; the change test and staleness bound */
  FX_PRESET_FAST = 3      /* more reuse, looser change test and truncation */
} fx_preset;

typedef struct fx_session_options {
  size_t struct_size; /* sizeof(fx_session_options): lets the struct grow compatibly */
  int threads;        /* worker threads; 0 = all cores */
  float conf;         /* score threshold, default 0.25 */
  float iou;          /* NMS IoU threshold, default 0.7 */
  int masks;          /* segment models: compute masks (1, default) or not (0) */
  int mode;           /* an fx_mode; default FX_MODE_DENSE (added after masks: older callers get it) */
  int backend;        /* an fx_backend; default FX_BACKEND_CPU (fields from here on added later) */
  int device;         /* CUDA device index, default 0 */
  int precision;      /* an fx_precision; default FX_PRECISION_FP32 */
  int preset;         /* an fx_preset: the cache modes' knobs; default FX_PRESET_DEFAULT */
} fx_session_options;

/* Fills `options` with the defaults (and sets struct_size). */
FX_API void fx_session_options_default(fx_session_options* options);

/* Creates a session running `plan` (options may be NULL for the defaults). On success *out is owned
 * by the caller (fx_session_free); the session holds its own reference to the plan. A backend this
 * build or machine cannot run (FX_BACKEND_CUDA without CUDA, or without a usable GPU) fails with
 * FX_ERROR_INVALID_ARGUMENT and says why. */
FX_API fx_status fx_session_create(const fx_plan* plan, const fx_session_options* options, fx_session** out);
FX_API void fx_session_free(fx_session* session);

/* Runs the model on one packed RGB24 frame of width x height pixels, `stride` bytes per row (0: width*3).
 * Frames of a session are consecutive frames of one stream (the cache modes reuse work across them).
 * The results replace the previous frame's and stay valid until the next push on this session. */
FX_API fx_status fx_session_push_rgb(fx_session* session, const uint8_t* rgb, int width, int height, int stride);

FX_API int fx_session_detection_count(const fx_session* session);
FX_API fx_status fx_session_detection(const fx_session* session, int index, fx_detection* out);
/* Segment models: the mask of detection `index` at source resolution, width*height bytes of 0/1,
 * row-major, owned by the session. */
FX_API fx_status fx_session_mask(const fx_session* session, int index, const uint8_t** data, int* width, int* height);
/* Milliseconds the last push spent in letterboxing, inference and post-processing. */
FX_API double fx_session_last_ms(const fx_session* session);
/* Share of the local layers' FLOPs the last push reused from the cache (0 in dense mode). */
FX_API double fx_session_last_flop_hit(const fx_session* session);

/* Video input: the library decodes video itself (FFmpeg inside), so a program needs no decoder of its
 * own. A build without FFmpeg (FLUXSHARD_FFMPEG=OFF) has these functions too; fx_video_open then fails
 * with FX_ERROR_UNSUPPORTED.
 *
 *   fx_video* v;
 *   if (fx_video_open("clip.mp4", &v) != FX_OK) { ...fx_last_error()... }
 *   while ((st = fx_video_read(v)) == FX_OK) {
 *     fx_session_push_video(session, v);   (then fx_session_detection_count / fx_session_detection)
 *   }
 *   if (st != FX_END_OF_STREAM) { ...a decoding error... }
 *   fx_video_free(v);
 */
typedef struct fx_video fx_video;

/* Opens a video file, an image or numbered image sequence (dir/%05d.png), or a URL libavformat reads
 * (rtsp://, http://, ...), and decodes its first frame (so a file without a decodable frame fails here,
 * FX_ERROR_IO with the reason). On success *out is owned by the caller (fx_video_free). */
FX_API fx_status fx_video_open(const char* url, fx_video** out);
FX_API void fx_video_free(fx_video* video);

/* Size of the decoded frames, the stream's frame rate, and the container's frame count (-1: unknown). */
FX_API int fx_video_width(const fx_video* video);
FX_API int fx_video_height(const fx_video* video);
FX_API double fx_video_fps(const fx_video* video);
FX_API int64_t fx_video_frame_count(const fx_video* video);

/* Decodes the next frame, which becomes the current one. FX_OK; FX_END_OF_STREAM after the last frame
 * (and on every later call); another status on a read error. */
FX_API fx_status fx_video_read(fx_video* video);
/* The current frame: packed RGB24 rows of width * 3 bytes, owned by the video and valid until the next
 * fx_video_read; NULL before the first read. width / height may be NULL. */
FX_API const uint8_t* fx_video_frame_rgb(const fx_video* video, int* width, int* height);
/* 0, 1, 2, ... in decoding output order (-1 before the first read), and its presentation time in seconds
 * from the stream's start. */
FX_API int64_t fx_video_frame_index(const fx_video* video);
FX_API double fx_video_frame_time(const fx_video* video);

/* Runs the session on the video's current frame together with the codec's motion vectors, which the
 * cache modes use to seed their motion search (as `fluxshard run` does): on the same file, the results
 * equal `fluxshard run`'s with the same mode and thresholds. Results as fx_session_push_rgb. */
FX_API fx_status fx_session_push_video(fx_session* session, const fx_video* video);

#ifdef __cplusplus
}
#endif

#endif /* FLUXSHARD_H */
