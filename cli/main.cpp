// fluxshard: compile YOLO11 ONNX models into plans and run them on video.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>

#include "cli/commands.h"
#include "runtime/error.h"
#include "runtime/version.h"

// The binary's name in its messages: "fluxshard", or "fluxshard-edge" (cmake/cli.cmake).
#ifndef FX_CLI_PROGRAM
#define FX_CLI_PROGRAM "fluxshard"
#endif

namespace {

void print_overview() {
  std::printf("%s: YOLO11 on video with motion-aware feature-cache reuse\n\nusage: " FX_CLI_PROGRAM
              " COMMAND [ARGS]\n\n",
              fx::version_string());
  for (const auto& c : fx::cli::commands()) std::printf("  %-52s %s\n", c.synopsis, c.summary);
  std::printf("\n'" FX_CLI_PROGRAM " COMMAND --help' lists a command's options.\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help")) {
    print_overview();
    return argc < 2 ? 2 : 0;
  }
  if (!std::strcmp(argv[1], "--version")) {
    std::printf("%s\n", fx::version_string());
    return 0;
  }
  const fx::cli::Command* cmd = nullptr;
  for (const auto& c : fx::cli::commands())
    if (!std::strcmp(c.name, argv[1])) cmd = &c;
  if (!cmd) {
    std::fprintf(stderr, "error: unknown command '%s' (run '" FX_CLI_PROGRAM " --help')\n", argv[1]);
    return 2;
  }
  std::vector<std::string> rest(argv + 2, argv + argc);
  for (const auto& a : rest)
    if (a == "--help" || a == "-h") {
      fx::cli::Args a0(cmd->name, cmd->options, {});
      std::printf("usage: " FX_CLI_PROGRAM " %s\n%s\n\n%s", cmd->synopsis, cmd->summary, a0.usage().c_str());
      return 0;
    }
  try {
    fx::cli::Args args(cmd->name, cmd->options, rest);
    int rc = cmd->run(args);
    errno = 0;
    // What went to stdout (summaries, --json -) reached it: `run ... > /dev/full` is an error too.
    if (std::fflush(stdout) != 0 || std::ferror(stdout))
      throw fx::Error(std::string("cannot write to standard output: ") + std::strerror(errno ? errno : EIO));
    return rc;
  } catch (const fx::cli::UsageError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  } catch (const fx::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {  // operator new throws it (cli/new_delete.cpp), never aborts
    std::fprintf(stderr, "error: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
