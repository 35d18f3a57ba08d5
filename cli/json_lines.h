// The --json output of `run` and `edge`: one JSON object per line, each written and flushed as soon as
// it is complete (a reader following the file sees every frame as it happens), every write checked:
// a full disk or `--json /dev/full` ends the command with "cannot write 'F': No space left on device"
// instead of exiting 0 with nothing written. "-" is standard output.
#pragma once

#include <cstdio>
#include <memory>
#include <string>

namespace fx::cli {

class JsonLines {
 public:
  JsonLines() = default;  // not open: writes are ignored
  // Creates or truncates `path` ("-": standard output). Throws fx::Error when it cannot be opened.
  explicit JsonLines(const std::string& path);
  JsonLines(JsonLines&&) noexcept;
  JsonLines& operator=(JsonLines&&) noexcept;
  ~JsonLines();

  bool is_open() const { return f_ != nullptr; }
  bool to_stdout() const { return f_ == stdout; }
  // Writes `json` and a newline, and flushes; throws fx::Error on failure.
  void write_line(const std::string& json);
  // Stream style (`json << w.str() << '\n'`): text is collected and written at each newline.
  JsonLines& operator<<(const std::string& s);
  JsonLines& operator<<(char c);
  // Flushes and closes (standard output is flushed only); throws fx::Error on failure.
  void close();

 private:
  [[noreturn]] void fail(int err);
  FILE* f_ = nullptr;
  std::string path_, pending_;
};

}  // namespace fx::cli
