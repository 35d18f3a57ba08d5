/* Compiled as C: the public header must be valid C, and a C program can drive a session.
 * usage: c_api_smoke PLAN.fsp  -> prints "<version> detections=<n>" for a grey frame.
 *        c_api_smoke --no-video -> checks that a build without FFmpeg says so (CTest c_api_no_video). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fluxshard/fluxshard.h"

int main(int argc, char** argv) {
  fx_plan* plan = NULL;
  fx_session* session = NULL;
  fx_session_options opt;
  unsigned char* frame;
  int n;
  if (argc != 2) return 2;
  if (!strcmp(argv[1], "--no-video")) {
    fx_video* video = (fx_video*)&n; /* must come back NULL */
    fx_status st = fx_video_open("clip.mp4", &video);
    printf("%d %s\n", (int)st, fx_last_error());
    return st == FX_ERROR_UNSUPPORTED && video == NULL &&
                   !strcmp(fx_last_error(), "fluxshard was built without FFmpeg (no video input)")
               ? 0
               : 1;
  }
  if (fx_plan_load(argv[1], &plan) != FX_OK) {
    fprintf(stderr, "error: %s\n", fx_last_error());
    return 1;
  }
  fx_session_options_default(&opt);
  opt.threads = 1;
  if (fx_session_create(plan, &opt, &session) != FX_OK) {
    fprintf(stderr, "error: %s\n", fx_last_error());
    fx_plan_free(plan);
    return 1;
  }
  fx_plan_free(plan); /* the session keeps its own reference */
  frame = (unsigned char*)malloc(320 * 240 * 3);
  memset(frame, 114, 320 * 240 * 3);
  if (fx_session_push_rgb(session, frame, 320, 240, 0) != FX_OK) {
    fprintf(stderr, "error: %s\n", fx_last_error());
    return 1;
  }
  n = fx_session_detection_count(session);
  printf("%s detections=%d\n", fx_version(), n);
  free(frame);
  fx_session_free(session);
  return 0;
}
