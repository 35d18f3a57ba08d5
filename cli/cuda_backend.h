// `--backend cuda` for `fluxshard run` (dense mode) and `fluxshard dump`, kept apart from the CPU
// commands. Without CUDA compiled in, every entry point fails with "fluxshard was built without CUDA";
// with CUDA but no usable device, with "no CUDA device: <reason>" (exit status 1 either way).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "cli/args.h"
#include "runtime/plan.h"

namespace fx::cli {

// "cpu" (default) or "cuda" from --backend; with "cuda" also validates --precision.
std::string backend_option(const Args& args);

// fluxshard run PLAN --backend cuda ... (only --mode dense).
int cmd_run_cuda(const Args& args);

// Dense inference of `input` (the plan's input tensor, numel floats) on the GPU; fills one vector per
// plan output. --precision from args.
std::vector<std::vector<float>> run_plan_cuda(const Args& args, std::shared_ptr<const Plan> plan,
                                              const std::vector<float>& input);

}  // namespace fx::cli
