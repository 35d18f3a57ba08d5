// The subcommands of `fluxshard`. Each takes the arguments after its name and returns the exit status;
// errors are thrown as fx::Error and reported by main().
#pragma once

#include <string>
#include <vector>

#include "cli/args.h"

namespace fx::cli {

struct Command {
  const char* name;
  const char* synopsis;  // "compile MODEL.onnx -o PLAN.fsp"
  const char* summary;
  std::vector<OptionSpec> options;
  int (*run)(const Args& args);
};

const std::vector<Command>& commands();

int cmd_compile(const Args& args);
int cmd_inspect(const Args& args);
int cmd_run(const Args& args);
int cmd_dump(const Args& args);
int cmd_bench(const Args& args);
int cmd_letterbox(const Args& args);
int cmd_profile(const Args& args);
int cmd_synth(const Args& args);
int cmd_serve(const Args& args);
int cmd_edge(const Args& args);
int cmd_eval(const Args& args);

}  // namespace fx::cli
