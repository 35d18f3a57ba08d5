#include "cli/commands.h"

namespace fx::cli {

const std::vector<Command>& commands() {
  static const std::vector<Command> table = {
      {"compile", "compile MODEL.onnx -o PLAN.fsp", "compile an ONNX YOLO11 model into a plan",
       {{"-o", true, "output plan file"}, {"--quiet", false, "print nothing on success"}}, cmd_compile},
      {"inspect", "inspect PLAN.fsp [--json]", "per-node table: op, shape, stride, halo, region, FLOPs",
       {{"--json", false, "one JSON object with total_flops and a nodes array"}}, cmd_inspect},
 {"run", "run PLAN.fsp --input FILE [--json OUT.jsonl] [--annotate OUT.mp4]",
       "detect (or segment) every frame of a video or image",
       {{"--input", true, "video or image file"},
        {"--threads", true, "worker threads (default: all cores)"},
        {"--max-frames", true, "stop after N frames"},
        {"--json", true, "write one JSON line per frame, then a summary line"},
        {"--annotate", true, "write the video with boxes (and masks) drawn"},
        {"--conf", true, "score threshold (default 0.25)"},
        {"--iou", true, "NMS IoU threshold (default 0.7)"},
        {"--quiet", false, "no progress bar"}},
       cmd_run},
      {"dump", "dump PLAN.fsp --input IN.npy --prefix OUT", "write every raw model output as OUT.<name>.npy",
       {{"--input", true, "input tensor, float32 .npy of the plan's input shape"},
        {"--prefix", true, "output path prefix"},
        {"--threads", true, "worker threads (default: all cores)"}},
       cmd_dump},
      {"bench", "bench dense PLAN.fsp [--threads N] [--runs N]", "time inference only (input already letterboxed)",
       {{"--threads", true, "worker threads (default: all cores)"},
        {"--runs", true, "timed runs (default 20)"},
        {"--warmup", true, "untimed runs first (default 3)"},
        {"--input", true, "use this .npy input instead of a seeded random one"},
        {"--profile", false, "print the slowest ops to stderr"},
        {"--json", false, "one JSON object with min_ms, median_ms, max_ms"}},
       cmd_bench},
      {"letterbox", "letterbox INPUT -o OUT.npy [--size N] [--frame N]",
       "write one letterboxed frame as the model's float32 input tensor",
       {{"-o", true, "output .npy"}, {"--size", true, "square model input size (default 640)"},
        {"--frame", true, "frame index (default 0)"}},
       cmd_letterbox},
  };
  return table;
}

}  // namespace fx::cli
