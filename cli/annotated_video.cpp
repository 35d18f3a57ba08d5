#include "cli/annotated_video.h"

#include <cstdio>
#include <utility>

namespace fx::cli {

AnnotatedVideo::AnnotatedVideo(std::string path, double fps) : path_(std::move(path)), fps_(fps > 0 ? fps : 25.0) {}

void AnnotatedVideo::add(Frame& frame, const FrameResult& r, const std::vector<std::string>& names) {
  if (path_.empty()) return;
  if (!writer_.is_open()) {
    writer_.open(path_, frame.width, frame.height, fps_);
    codec_ = writer_.codec_name();
  }
  draw_result(frame, r, names);
  writer_.write(frame);
}

void AnnotatedVideo::close() {
  if (!writer_.is_open()) return;
  written_ = writer_.frames_written();
  writer_.close();
}

void AnnotatedVideo::print_summary(FILE* out) const {
  if (written_ > 0)
    std::fprintf(out, "annotated video: %s (%lld frames, %s)\n", path_.c_str(), static_cast<long long>(written_),
                 codec_.c_str());
}

}  // namespace fx::cli
