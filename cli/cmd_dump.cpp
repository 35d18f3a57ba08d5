#include <cstdio>

#include "cli/commands.h"
#include "cli/common.h"
#include "runtime/dense_executor.h"
#include "runtime/error.h"
#include "runtime/io/npy.h"

namespace fx::cli {

int cmd_dump(const Args& args) {
  args.max_positionals(1);
  const std::string& plan_path = args.positional(0, "PLAN.fsp");
  if (!args.has("--input")) throw UsageError("fluxshard dump: missing --input IN.npy");
  if (!args.has("--prefix")) throw UsageError("fluxshard dump: missing --prefix OUT");
  const BackendOptions backend = backend_options(args);
  auto plan = Plan::load_file(plan_path);
  NpyArray in = read_npy(args.get("--input"));
  const TensorInfo& it = plan->tensor(plan->input());
  if (in.shape != it.shape)
    throw Error("'" + args.get("--input") + "' has shape " + shape_text(in.shape) + "; the plan's input '" + it.name +
                "' is " + shape_text(it.shape));
  DenseExecutor exec(make_device(plan, backend));
  std::copy(in.data.begin(), in.data.end(), exec.input_data());
  exec.invoke();
  std::string prefix = args.get("--prefix");
  for (size_t i = 0; i < plan->outputs().size(); ++i) {
    const TensorInfo& ot = plan->tensor(plan->outputs()[i]);
    std::string path = prefix + "." + sanitize_file_part(ot.name) + ".npy";
    write_npy(path, ot.shape, exec.output_data(i));
    std::printf("%s %s -> %s\n", ot.name.c_str(), shape_text(ot.shape).c_str(), path.c_str());
  }
  return 0;
}

}  // namespace fx::cli
