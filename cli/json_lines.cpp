#include "cli/json_lines.h"

#include <cerrno>
#include <cstring>
#include <utility>

#include "runtime/error.h"

namespace fx::cli {

JsonLines::JsonLines(const std::string& path) : path_(path) {
  if (path == "-") {
    f_ = stdout;
    return;
  }
  f_ = std::fopen(path.c_str(), "w");
  if (!f_) fail(errno);
}

JsonLines::JsonLines(JsonLines&& o) noexcept
    : f_(std::exchange(o.f_, nullptr)), path_(std::move(o.path_)), pending_(std::move(o.pending_)) {}

JsonLines& JsonLines::operator=(JsonLines&& o) noexcept {
  if (this != &o) {
    if (f_ && f_ != stdout) std::fclose(f_);
    f_ = std::exchange(o.f_, nullptr);
    path_ = std::move(o.path_);
    pending_ = std::move(o.pending_);
  }
  return *this;
}

JsonLines::~JsonLines() {
  if (f_ && f_ != stdout) std::fclose(f_);  // errors were reported by close(), or an error is in flight
}

void JsonLines::fail(int err) { throw Error("cannot write '" + path_ + "': " + std::strerror(err ? err : EIO)); }

void JsonLines::write_line(const std::string& json) {
  if (!f_) return;
  errno = 0;
  if (std::fwrite(json.data(), 1, json.size(), f_) != json.size() || std::fputc('\n', f_) == EOF ||
      std::fflush(f_) != 0)
    fail(errno);
}

JsonLines& JsonLines::operator<<(const std::string& s) {
  for (char c : s) *this << c;
  return *this;
}

JsonLines& JsonLines::operator<<(char c) {
  if (c != '\n') {
    pending_ += c;
  } else {
    write_line(pending_);
    pending_.clear();
  }
  return *this;
}

void JsonLines::close() {
  if (!f_) return;
  if (!pending_.empty()) write_line(std::exchange(pending_, std::string()));
  FILE* f = std::exchange(f_, nullptr);
  errno = 0;
  if (f == stdout ? std::fflush(f) != 0 : std::fclose(f) != 0) fail(errno);
}

}  // namespace fx::cli
