// Helpers shared by the integration tests: paths into the source and build trees, temporary files,
// and running the `fluxshard` binary to check its exit status and messages.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "runtime/error.h"

namespace fx::test {

// AddressSanitizer builds (scripts/sanitize_and_fuzz.sh): its allocator holds freed memory in quarantine
// and reserves terabytes of address space, so memory-use and address-space-limit checks do not apply.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kAddressSanitizer = true;
#else
constexpr bool kAddressSanitizer = false;
#endif
#else
constexpr bool kAddressSanitizer = false;
#endif

// Paths of the source tree: $FLUXSHARD_SOURCE_DIR, else the working directory when it is the source
// root (the build may have been carried to another machine), else the configured source directory.
inline std::string source_path(const std::string& rel) {
  if (const char* env = std::getenv("FLUXSHARD_SOURCE_DIR")) return std::string(env) + "/" + rel;
  if (access(("./" + rel).c_str(), R_OK) == 0) return "./" + rel;
  return std::string(FLUXSHARD_SOURCE_DIR) + "/" + rel;
}
inline std::string cli_path() { return std::string(FLUXSHARD_BINARY_DIR) + "/bin/fluxshard"; }

// The message of the fx::Error that f throws, "<no error>" when it returns.
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const fx::Error& e) {
    return e.what();
  }
  return "<no error>";
}

inline bool file_exists(const std::string& p) { return access(p.c_str(), R_OK) == 0; }

// A fresh directory under $TMPDIR removed at scope exit.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base ? base : "/tmp") + "/fluxshard-test-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (!mkdtemp(buf.data())) {
      std::perror("mkdtemp");
      std::abort();  // never fall back to a shared directory: the destructor removes it
    }
    path_ = buf.data();
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

inline void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

struct CliResult {
  int status = -1;  // exit status, or 128 + signal
  std::string out, err;
};

// Runs `fluxshard ARGS` (arguments are single-quoted for the shell) with a timeout.
inline CliResult run_cli(const std::vector<std::string>& args, int timeout_s = 120) {
  TempDir tmp;
  std::string cmd = "timeout " + std::to_string(timeout_s) + " '" + cli_path() + "'";
  for (const auto& a : args) cmd += " '" + a + "'";
  cmd += " >'" + tmp.file("out") + "' 2>'" + tmp.file("err") + "'";
  int raw = std::system(cmd.c_str());
  CliResult r;
  if (WIFEXITED(raw)) r.status = WEXITSTATUS(raw);
  else if (WIFSIGNALED(raw)) r.status = 128 + WTERMSIG(raw);
  r.out = read_file(tmp.file("out"));
  r.err = read_file(tmp.file("err"));
  return r;
}

inline int count_lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

}  // namespace fx::test
