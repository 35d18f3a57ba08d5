// A one-line progress bar on stderr, drawn only when stderr is a terminal.
#pragma once

#include <cstdint>
#include <string>

namespace fx::cli {

class Progress {
 public:
  Progress(int64_t total, bool enabled);  // total <= 0: unknown
  void update(int64_t done, const std::string& note);
  void finish();

 private:
  int64_t total_;
  bool enabled_;
  bool drawn_ = false;
};

}  // namespace fx::cli
