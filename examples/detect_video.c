/* Runs a compiled plan on a video with the FluxShard C API and prints one JSON line per frame:
 *   {"frame":0,"detections":[{"cls":0,"name":"person","score":0.91,"box":[x1,y1,x2,y2]}]}
 * (the shape of `fluxshard run --json`'s lines; boxes in source pixels). The library decodes the video.
 *
 * usage: detect_video PLAN.fsp VIDEO [--mode dense|exact|fluxshard] [--threads N] [--max-frames N]
 *                     [--conf X] [--iou X]
 * Build: see examples/README.md (CMake: find_package(FluxShard); or pkg-config fluxshard). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fluxshard/fluxshard.h"

/* A JSON string literal (class names are plain ASCII, but escape what JSON requires anyway). */
static void print_json_string(const char* s) {
  putchar('"');
  for (; *s; ++s) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') printf("\\%c", c);
    else if (c < 0x20) printf("\\u%04x", c);
    else putchar(c);
  }
  putchar('"');
}

static int usage(void) {
  fprintf(stderr,
          "usage: detect_video PLAN.fsp VIDEO [--mode dense|exact|fluxshard] [--threads N] [--max-frames N] "
          "[--conf X] [--iou X]\n");
  return 2;
}

int main(int argc, char** argv) {
  fx_session_options opt;
  fx_plan* plan = NULL;
  fx_session* session = NULL;
  fx_video* video = NULL;
  fx_status st = FX_OK;
  long max_frames = 0, frames = 0;
  int i, rc = 1;

  if (argc < 3) return usage();
  fx_session_options_default(&opt);
  for (i = 3; i < argc; ++i) {
    const char* a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) return usage();
    if (!strcmp(a, "--mode")) {
      if (!strcmp(v, "dense")) opt.mode = FX_MODE_DENSE;
      else if (!strcmp(v, "exact")) opt.mode = FX_MODE_EXACT;
      else if (!strcmp(v, "fluxshard")) opt.mode = FX_MODE_FLUXSHARD;
      else return usage();
    } else if (!strcmp(a, "--threads")) {
      opt.threads = atoi(v);
    } else if (!strcmp(a, "--max-frames")) {
      max_frames = atol(v);
    } else if (!strcmp(a, "--conf")) {
      opt.conf = (float)atof(v);
    } else if (!strcmp(a, "--iou")) {
      opt.iou = (float)atof(v);
    } else {
      return usage();
    }
    ++i;
  }

  if (fx_plan_load(argv[1], &plan) != FX_OK || fx_session_create(plan, &opt, &session) != FX_OK ||
      fx_video_open(argv[2], &video) != FX_OK) {
    fprintf(stderr, "error: %s\n", fx_last_error());
    goto done;
  }
  while ((max_frames <= 0 || frames < max_frames) && (st = fx_video_read(video)) == FX_OK) {
    int n, k;
    if (fx_session_push_video(session, video) != FX_OK) {
      fprintf(stderr, "error: %s\n", fx_last_error());
      goto done;
    }
    n = fx_session_detection_count(session);
    printf("{\"frame\":%lld,\"detections\":[", (long long)fx_video_frame_index(video));
    for (k = 0; k < n; ++k) {
      fx_detection d;
      const char* name;
      fx_session_detection(session, k, &d);
      name = fx_plan_class_name(plan, d.cls);
      printf("%s{\"cls\":%d,\"name\":", k ? "," : "", d.cls);
      print_json_string(name ? name : "");
      /* %.9g: enough digits to read back the same float */
      printf(",\"score\":%.9g,\"box\":[%.9g,%.9g,%.9g,%.9g]}", d.score, d.x1, d.y1, d.x2, d.y2);
    }
    printf("]}\n");
    ++frames;
  }
  if (st != FX_OK && st != FX_END_OF_STREAM) {
    fprintf(stderr, "error: %s\n", fx_last_error());
    goto done;
  }
  rc = 0;
done:
  fx_video_free(video);
  fx_session_free(session);
  fx_plan_free(plan);
  return rc;
}
