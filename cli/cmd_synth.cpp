#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "cli/commands.h"
#include "cli/output_file.h"
#include "compiler/synth/yolo11_synth.h"
#include "runtime/error.h"

namespace fx::cli {

int cmd_synth(const Args& args) {
  args.max_positionals(1);
  const std::string& model = args.positional(0, "MODEL (yolo11n, yolo11s, yolo11m, yolo11l or yolo11x)");
  SynthOptions o;
  std::string task;
  std::string rest = model.rfind("yolo11", 0) == 0 ? model.substr(6) : "";
  if (rest.size() >= 1 && std::strchr("nsmlx", rest[0]) && (rest.size() == 1 || rest.substr(1) == "-seg")) {
    o.scale = rest[0];
    if (rest.size() > 1) task = "segment";
  } else {
    throw UsageError("fluxshard synth: unknown model '" + model +
                     "' (expected yolo11n, yolo11s, yolo11m, yolo11l or yolo11x)");
  }
  if (args.has("--task")) {
    std::string t = args.get_choice("--task", "detect", {"detect", "segment"});
    if (!task.empty() && t != task)
      throw UsageError("fluxshard synth: '" + model + "' is a segment model but --task is " + t);
    task = t;
  }
  o.task = task.empty() ? "detect" : task;
  o.imgsz = args.get_int("--imgsz", 640, 32, 4096);
  if (o.imgsz % 32 != 0)
    throw UsageError("fluxshard synth: --imgsz must be a multiple of 32 (got " + std::to_string(o.imgsz) + ")");
  o.opset = args.get_int("--opset", 19, 12, 21);
  o.head = args.get_choice("--head", "8.3", {"8.3", "8.4"});
  if (args.has("--seed")) {
    std::string s = args.get("--seed");
    char* end = nullptr;
    errno = 0;
    unsigned long long v = std::strtoull(s.c_str(), &end, 10);
    if (s.empty() || s[0] == '-' || *end != '\0' || errno != 0)
      throw UsageError("fluxshard synth: --seed must be a non-negative integer (got '" + s + "')");
    o.seed = v;
  }
  if (!args.has("-o")) throw UsageError("fluxshard synth: missing -o FILE.onnx");
  std::string out = args.get("-o");
  try {
    validate_synth_options(o);
  } catch (const Error& e) {
    throw UsageError(std::string("fluxshard synth: ") + e.what());
  }

  SynthInfo info;
  std::string bytes = synth_yolo11(o, &info);
  write_output_file(out, bytes.data(), bytes.size());
  if (!args.has("--quiet"))
    std::printf("%s: %s %s %dx%d (opset %d, head %s, seed %llu, random weights), %d nodes, %.2fM parameters, "
                "%.2f GFLOPs, %zu bytes\n",
                out.c_str(), info.model_name.c_str(), o.task.c_str(), o.imgsz, o.imgsz, o.opset, o.head.c_str(),
                static_cast<unsigned long long>(o.seed), info.nodes, info.parameters / 1e6, info.flops / 1e9,
                bytes.size());
  return 0;
}

}  // namespace fx::cli
