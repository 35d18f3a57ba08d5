#include <cerrno>
#include <cstdio>
#include <cstring>

#include "cli/commands.h"
#include "cli/output_file.h"
#include "compiler/compile.h"
#include "runtime/detector.h"
#include "runtime/error.h"
#include "runtime/plan.h"

namespace fx::cli {

int cmd_compile(const Args& args) {
  args.max_positionals(1);
  const std::string& model = args.positional(0, "MODEL.onnx");
  if (!args.has("-o")) throw UsageError("fluxshard compile: missing -o PLAN.fsp");
  std::string out = args.get("-o");
  CompileReport report;
  std::vector<uint8_t> bytes = compile_onnx_file(model, &report);
  // Load what we wrote before claiming success: the plan must pass the runtime's own checks, including
  // what run / serve / edge require of its outputs (one detect output, or two for segment, of the right
  // shapes), so a graph they would refuse is refused here, naming the model.
  auto plan = Plan::from_bytes(bytes.data(), bytes.size(), model);
  output_layout(*plan);
  write_output_file(out, bytes.data(), bytes.size());
  if (!args.has("--quiet"))
    std::printf("%s: %s %dx%d, %d ops, %.2f GFLOPs, arena %.1f MB (%.1f MB unshared), %zu bytes; "
                "folded %d, fused %d activations and %d residual adds, %d relayouts\n",
                out.c_str(), plan->task().c_str(), plan->input_w(), plan->input_h(), plan->op_count(),
                plan->total_flops() / 1e9, report.arena_bytes / 1e6, report.naive_bytes / 1e6, bytes.size(),
                report.folded, report.activations, report.residuals, report.relayouts);
  return 0;
}

}  // namespace fx::cli
