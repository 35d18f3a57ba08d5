// `run --annotate FILE`: the input video written again with each frame's boxes (and masks) drawn. Shared
// by the CPU and CUDA paths of `run`.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "runtime/detector.h"
#include "runtime/io/video_reader.h"
#include "runtime/io/video_writer.h"

namespace fx::cli {

class AnnotatedVideo {
 public:
  // path "" = no output; fps of the input (<= 0: 25).
  AnnotatedVideo(std::string path, double fps);

  // Draws r onto frame (modified) and appends it; the file is opened at the first frame.
  void add(Frame& frame, const FrameResult& r, const std::vector<std::string>& names);
  // Finishes the file (errors throw, unlike the writer's destructor).
  void close();
  // "annotated video: FILE (N frames, CODEC)" when frames were written.
  void print_summary(FILE* out = stdout) const;

 private:
  std::string path_;
  double fps_;
  VideoWriter writer_;
  std::string codec_;
  int64_t written_ = 0;
};

}  // namespace fx::cli
