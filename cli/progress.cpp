#include "cli/progress.h"

#include <unistd.h>

#include <cstdio>

namespace fx::cli {

Progress::Progress(int64_t total, bool enabled) : total_(total), enabled_(enabled && isatty(STDERR_FILENO)) {}

void Progress::update(int64_t done, const std::string& note) {
  if (!enabled_) return;
  constexpr int kWidth = 30;
  if (total_ > 0) {
    int fill = static_cast<int>(kWidth * std::min<int64_t>(done, total_) / total_);
    std::fprintf(stderr, "\r[%.*s%*s] %lld/%lld %s\x1b[K", fill, "##############################", kWidth - fill, "",
                 static_cast<long long>(done), static_cast<long long>(total_), note.c_str());
  } else {
    std::fprintf(stderr, "\r%lld frames %s\x1b[K", static_cast<long long>(done), note.c_str());
  }
  std::fflush(stderr);
  drawn_ = true;
}

void Progress::finish() {
  if (drawn_) std::fprintf(stderr, "\n");
  drawn_ = false;
}

}  // namespace fx::cli
