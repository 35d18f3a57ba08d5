/* FluxShard C API: load a compiled plan, open a stream session, push frames, read detections.
 *
 * Conventions
 *  - Handles are opaque. Every function that creates one says who owns it; free what you own with the
 *    matching *_free function (passing NULL is allowed and does nothing).
 *  - Functions return FX_OK or an error status; fx_last_error() then gives a one-line message for the
 *    calling thread. No C++ exception ever crosses this boundary.
 *  - A session is used by one thread at a time; different sessions may run concurrently and may share
 *    one plan.
 */
#ifndef FLUXSHARD_H
#define FLUXSHARD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum fx_status {
  FX_OK = 0,
  FX_ERROR_INVALID_ARGUMENT = 1, /* NULL handle, bad size, index out of range, unknown option value */
  FX_ERROR_IO = 2,               /* file cannot be opened or read */
  FX_ERROR_INVALID_PLAN = 3,     /* not a plan, corrupted, another version, inconsistent */
  FX_ERROR_OUT_OF_MEMORY = 4,
  FX_ERROR_INTERNAL = 5
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
const char* fx_version(void);

/* The message of the last failed call on this thread; static per-thread storage, valid until the next
 * call on this thread. "" when there was none. */
const char* fx_last_error(void);

/* Loads and verifies a plan file. On success *out is a new plan owned by the caller (fx_plan_free). */
fx_status fx_plan_load(const char* path, fx_plan** out);
/* Same from memory; the bytes are copied, the caller keeps ownership of `data`. */
fx_status fx_plan_load_memory(const void* data, size_t size, fx_plan** out);
/* Releases the caller's reference; sessions created from the plan keep their own. */
void fx_plan_free(fx_plan* plan);

/* Plan properties. Strings are owned by the plan and live as long as it. */
int fx_plan_input_width(const fx_plan* plan);
int fx_plan_input_height(const fx_plan* plan);
const char* fx_plan_task(const fx_plan* plan); /* "detect" or "segment" */
int fx_plan_class_count(const fx_plan* plan);
const char* fx_plan_class_name(const fx_plan* plan, int cls); /* NULL when out of range */

typedef enum fx_mode {
  FX_MODE_DENSE = 0,     /* every frame through dense inference */
  FX_MODE_EXACT = 1,     /* feature-cache reuse; caches equal dense inference on the reference image */
  FX_MODE_FLUXSHARD = 2  /* the production mode: salience filtering, nearest-offset reuse, truncation */
} fx_mode;

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
  int preset;         /* an fx_preset: the cache modes' knobs; default FX_PRESET_DEFAULT (added after mode) */
} fx_session_options;

/* Fills `options` with the defaults (and sets struct_size). */
void fx_session_options_default(fx_session_options* options);

/* Creates a session running `plan` (options may be NULL for the defaults). On success *out is owned
 * by the caller (fx_session_free); the session holds its own reference to the plan. */
fx_status fx_session_create(const fx_plan* plan, const fx_session_options* options, fx_session** out);
void fx_session_free(fx_session* session);

/* Runs the model on one packed RGB24 frame of width x height pixels, `stride` bytes per row (0: width*3).
 * Frames of a session are consecutive frames of one stream (the cache modes reuse work across them).
 * The results replace the previous frame's and stay valid until the next push on this session. */
fx_status fx_session_push_rgb(fx_session* session, const uint8_t* rgb, int width, int height, int stride);

int fx_session_detection_count(const fx_session* session);
fx_status fx_session_detection(const fx_session* session, int index, fx_detection* out);
/* Segment models: the mask of detection `index` at source resolution, width*height bytes of 0/1,
 * row-major, owned by the session. */
fx_status fx_session_mask(const fx_session* session, int index, const uint8_t** data, int* width, int* height);
/* Milliseconds the last push spent in letterboxing, inference and post-processing. */
double fx_session_last_ms(const fx_session* session);
/* Share of the local layers' FLOPs the last push reused from the cache (0 in dense mode). */
double fx_session_last_flop_hit(const fx_session* session);

#ifdef __cplusplus
}
#endif

#endif /* FLUXSHARD_H */
