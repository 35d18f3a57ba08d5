#include "cli/commands.h"

// Each binary carries the commands whose FX_CLI_<NAME> it defines (cmake/cli.cmake): only those are
// referenced here, so only their code is linked.

namespace fx::cli {

namespace {

// The options `run` and `edge` share for choosing what is recomputed (runtime/presets.h,
// runtime/planner.h), after the command's own.
std::vector<OptionSpec> with_reuse_options(std::vector<OptionSpec> own) {
  const std::vector<OptionSpec> shared = {
      {"--preset", true,
       "exact, balanced (default of fluxshard mode) or fast: a named set of the knobs below (runtime/presets.h); "
       "implies the mode, flags given override its values"},
      {"--tau-rel", true,
       "change test: a block changed when (its largest quadrant residual - the noise) / (its contrast + a noise "
       "floor) is above this (preset; < 0: off)"},
      {"--tau-rel-salient", true,
       "salient blocks pass the change test from --tau-rel x this (fluxshard mode; preset; 1: off)"},
      {"--tau-cap", true,
       "with the change test on, an aligner candidate under this normalised SAD is one only if the test says so "
       "(preset; <= --tau: every aligner candidate stays one)"},
      {"--drift-bound", true,
       "refresh a kept block once its accumulated normalised residual passes this, spread over up to twice it "
       "(preset; 0: off)"},
      {"--cut-share", true, "refresh every block when this share of blocks changed (scene cut; default 0.6, 0: off)"},
      {"--fade-levels", true,
       "refresh every block when the picture's level moved this many grey levels (default 3, 0: off)"},
  };
  own.insert(own.end(), shared.begin(), shared.end());
  return own;
}

}  // namespace

const std::vector<Command>& commands() {
  static const std::vector<Command> table = {
#ifdef FX_CLI_COMPILE
      {"compile",
       "compile MODEL.onnx -o PLAN.fsp",
       "compile an ONNX YOLO11 model into a plan",
       {{"-o", true, "output plan file"}, {"--quiet", false, "print nothing on success"}},
       cmd_compile},
#endif
#ifdef FX_CLI_INSPECT
      {"inspect",
       "inspect PLAN.fsp [--json] [--backend cpu|cuda]",
       "per-node table: op, shape, stride, halo, region, FLOPs (and with --backend, where each op runs)",
       {{"--json", false, "one JSON object with total_flops and a nodes array"},
        {"--backend", true, "cpu (default) or cuda"},
        {"--device", true, "cuda backend: the GPU's index (default 0)"},
        {"--precision", true, "cuda backend: fp32 (default) or fp16 (tensor-core convolutions)"},
        {"--cpu-ops", true, "cuda backend: op kinds to run on the CPU instead (e.g. MatMul,Softmax)"}},
       cmd_inspect},
#endif
#ifdef FX_CLI_RUN
      {"run",
       "run PLAN.fsp --input FILE [--mode dense|exact|fluxshard] [--json F]",
       "detect (or segment) every frame of a video or image",
       with_reuse_options({{"--input", true,
         "video or image file, '-' (standard input), a folder or glob of images, a camera (/dev/video0) or a "
         "stream URL (rtsp://, http://)"},
        {"--reconnect", true, "live inputs: seconds to keep reconnecting after the stream drops (default 30; 0: off)"},
        {"--threads", true, "worker threads (default: all cores)"},
        {"--max-frames", true, "stop after N frames"},
        {"--json", true, "write one JSON line per frame (flushed as written), then a summary line; '-': stdout"},
        {"--annotate", true, "write the video with boxes (and masks) drawn"},
        {"--conf", true, "score threshold (default 0.25)"},
        {"--iou", true, "NMS IoU threshold (default 0.7)"},
        {"--mode", true, "dense (default), exact or fluxshard"},
        {"--block", true, "motion block size in input pixels (preset: exact 16, balanced and fast 32)"},
        {"--window", true, "motion search window, +-pixels (default 16)"},
        {"--tau", true, "normalised SAD above which a block is a recompute candidate (default 0.025)"},
        {"--island-eps", true,
         "without a profiled table: attention-island truncation, relative to its outputs' mean |value| "
         "(preset: 0.2, fast 0.35)"},
        {"--island-reused", true,
         "island positions whose own inputs were reused compare at this multiple of --island-eps "
         "(preset: 1.5, fast 3; 1: off)"},
        {"--tau-salient", true,
         "salient blocks are recomputed above this SAD too (fluxshard mode; preset: 0.005, fast 0.01; 0: off)"},
        {"--sigma", true, "salience threshold for recomputing a candidate (default: detect 0.1, segment 0.05)"},
        {"--gate-max-share", true,
         "salience gating applies up to this share of candidate blocks; above, all are recomputed (default 0.1)"},
        {"--eps-scale", true, "multiply the profiled truncation thresholds (default 1; 0: none)"},
        {"--refresh-ms", true, "per-frame budget for background refresh slices (fluxshard mode)"},
        {"--no-codec-mvs", false, "do not seed the motion search with the codec's motion vectors"},
        {"--compare-dense", false, "also run dense inference; report speed-up and accuracy retention"},
        {"--gt-masks", true, "segment: ground-truth masks (image sequence, e.g. dir/%05d.png) for mask IoU"},
        {"--layer-stats", false, "print each op's mean share of recomputed positions at the end"},
        {"--quiet", false, "no progress bar"},
        {"--backend", true, "cpu (default) or cuda"},
        {"--device", true, "cuda backend: the GPU's index (default 0)"},
        {"--precision", true, "cuda backend: fp32 (default) or fp16 (tensor-core convolutions)"},
        {"--cpu-ops", true, "cuda backend: op kinds to run on the CPU instead (e.g. MatMul,Softmax)"}}),
       cmd_run},
#endif
#ifdef FX_CLI_DUMP
      {"dump",
       "dump PLAN.fsp --input IN.npy --prefix OUT",
       "write every raw model output as OUT.<name>.npy",
       {{"--input", true, "input tensor, float32 .npy of the plan's input shape"},
        {"--prefix", true, "output path prefix"},
        {"--threads", true, "worker threads (default: all cores)"},
        {"--backend", true, "cpu (default) or cuda"},
        {"--device", true, "cuda backend: the GPU's index (default 0)"},
        {"--precision", true, "cuda backend: fp32 (default) or fp16 (tensor-core convolutions)"},
        {"--cpu-ops", true, "cuda backend: op kinds to run on the CPU instead (e.g. MatMul,Softmax)"}},
       cmd_dump},
#endif
#ifdef FX_CLI_BENCH
      {"bench",
       "bench dense|sparse PLAN.fsp [--threads N] [--runs N]",
       "time inference only (dense), or the sparse cost curve over forced recompute shares (sparse)",
       {{"--threads", true, "worker threads (default: all cores)"},
        {"--runs", true, "timed runs (default 20)"},
        {"--warmup", true, "untimed runs first (default 3)"},
        {"--input", true, "dense: this .npy input instead of a seeded random one; sparse: a clip for content"},
        {"--block", true, "sparse: block size (default 16)"},
        {"--pan", true, "sparse: every block moves by DX pixels (a camera pan); copies vs origin moves"},
        {"--profile", false, "print the slowest ops to stderr"},
        {"--json", false, "one JSON object with min_ms, median_ms, max_ms"},
        {"--backend", true, "cpu (default) or cuda"},
        {"--device", true, "cuda backend: the GPU's index (default 0)"},
        {"--precision", true, "cuda backend: fp32 (default) or fp16 (tensor-core convolutions)"},
        {"--cpu-ops", true, "cuda backend: op kinds to run on the CPU instead (e.g. MatMul,Softmax)"}},
       cmd_bench},
#endif
#ifdef FX_CLI_PROFILE
      {"profile",
       "profile PLAN.fsp --input CLIP... [--target 0.99] -o PLAN2.fsp",
       "profiling-driven truncation: write per-motion-bucket thresholds into the plan",
       {{"--input", true, "a clip (more clips may follow as arguments)"},
        {"-o", true, "output plan"},
        {"--target", true,
         "accuracy to keep vs the same session without truncation: F1 (detect) or mask IoU (segment); default 0.99"},
        {"--frames", true, "frames per clip (default 60)"},
        {"--preset", true, "the session's knobs under the profiled thresholds: balanced (default) or fast"},
        {"--threads", true, "worker threads (default: all cores)"}},
       cmd_profile},
#endif
#ifdef FX_CLI_LETTERBOX
      {"letterbox",
       "letterbox INPUT -o OUT.npy [--size N] [--frame N]",
       "write one letterboxed frame as the model's float32 input tensor",
       {{"-o", true, "output .npy"},
        {"--size", true, "square model input size (default 640)"},
        {"--frame", true, "frame index (default 0)"}},
       cmd_letterbox},
#endif
#ifdef FX_CLI_SERVE
      {"serve",
       "serve PLAN.fsp --listen ADDR:PORT [--backend cpu|cuda] [--token-file F]",
       "the cloud side: run offloaded frames for many edges over TCP",
       {{"--listen", true, "address and port to listen on (default 127.0.0.1:7070; port 0: any free port)"},
        {"--backend", true, "cpu (default) or cuda"},
        {"--device", true, "cuda backend: the GPU's index (default 0)"},
        {"--precision", true, "cuda backend: fp32 (default) or fp16 (tensor-core convolutions)"},
        {"--cpu-ops", true, "cuda backend: op kinds to run on the CPU instead (e.g. MatMul,Softmax)"},
        {"--token-file", true, "edges must present this file's contents as their token"},
        {"--threads", true, "worker threads (default: all cores)"},
        {"--max-message-mb", true, "largest message an edge may send, MiB (default 64)"},
        {"--max-edges", true, "edges served at once (default 64)"},
        {"--max-edges-per-address", true, "of those, from one IP address (default 16)"},
        {"--max-handshakes", true,
         "connections in their handshake at once; a new one displaces the oldest (default 64)"},
        {"--max-handshakes-per-address", true, "of those, from one IP address (default 8)"},
        {"--hello-timeout", true, "seconds a connection may take to complete its handshake (default 10)"},
        {"--idle-timeout", true, "close a session that has sent nothing for this many seconds (default 120; 0: never)"},
        {"--evict-idle", true,
         "when full, a new edge displaces a session idle for this many seconds (default 2; -1: never)"},
        {"--message-timeout", true, "seconds a message may take to arrive once started (default 60)"},
        {"--max-buffered-mb", true, "input buffered across all connections, MiB (default 256)"},
        {"--port-file", true, "write the port listened on to this file once listening"},
        {"--metrics", true,
         "ADDR:PORT for HTTP GET /healthz and /metrics (Prometheus text: sessions, frames, bytes, latency "
         "percentiles, per edge); not an edge port"},
        {"--quiet", false, "no log lines (each log line: UTC time, level, message)"}},
       cmd_serve},
#endif
#ifdef FX_CLI_EDGE
      {"edge",
       "edge PLAN.fsp --input CLIP --server ADDR:PORT [--policy fluxshard|local|offload] [--json F]",
       "the edge side: run a clip, computing each frame locally or on the server",
       with_reuse_options({{"--input", true, "video file, '-', a folder or glob of images, a camera or a stream URL (as run)"},
        {"--reconnect", true, "live inputs: seconds to keep reconnecting after the stream drops (default 30)"},
        {"--server", true, "the server's HOST:PORT"},
        {"--policy", true, "fluxshard (default: the faster side per frame), local or offload"},
        {"--mode", true, "fluxshard (default) or exact"},
        {"--codec", true, "block payload codec: raw (default), lossless (zstd), lz4 or jpeg"},
        {"--jpeg-quality", true, "JPEG quality (default 90)"},
        {"--trace", true, "shape the uplink: high (130 Mbit/s), medium (56), low (25), Mbit/s, or a trace file"},
        {"--rtt-ms", true, "emulated round-trip time (default 20 with --trace, else 0)"},
        {"--token-file", true, "present this file's contents as the token"},
        {"--max-frames", true, "stop after N frames"},
        {"--json", true, "write one JSON line per frame (flushed as written), then a summary line; '-': stdout"},
        {"--fps", true, "feed frames at this rate (default: as fast as they are processed)"},
        {"--realtime", false, "feed frames at the clip's frame rate"},
        {"--threads", true, "worker threads (default: all cores)"},
        {"--conf", true, "score threshold (default 0.25)"},
        {"--iou", true, "NMS IoU threshold (default 0.7)"},
        {"--block", true, "block size in input pixels (preset: exact 16, balanced and fast 32)"},
        {"--window", true, "motion search window, +-pixels (default 16)"},
        {"--tau", true, "normalised SAD above which a block is a recompute candidate (default 0.025)"},
        {"--sigma", true, "salience threshold (default: detect 0.1, segment 0.05)"},
        {"--gate-max-share", true, "salience gating up to this share of candidate blocks (default 0.1)"},
        {"--tau-salient", true,
         "salient blocks are recomputed above this SAD too (fluxshard mode; preset: 0.005, fast 0.01; 0: off)"},
        {"--island-eps", true,
         "attention-island truncation, relative to its outputs' mean |value| (preset: 0.2, fast 0.35)"},
        {"--island-reused", true,
         "island positions whose own inputs were reused compare at this multiple of --island-eps (preset: 1.5, "
         "fast 3)"},
        {"--result-timeout-ms", true, "compute a frame locally when its result is this late (default 1000)"},
        {"--no-background", false, "do not send non-critical blocks with spare bandwidth"},
        {"--no-refresh", false, "no dense refresh slices while waiting for the server"},
        {"--no-codec-mvs", false, "do not seed the motion search with the codec's motion vectors"},
        {"--name", true, "edge name shown in the server's log"},
        {"--quiet", false, "no summary on stdout"},
        {"--backend", true, "cpu (default) or cuda"},
        {"--device", true, "cuda backend: the GPU's index (default 0)"},
        {"--precision", true, "cuda backend: fp32 (default) or fp16 (tensor-core convolutions)"},
        {"--cpu-ops", true, "cuda backend: op kinds to run on the CPU instead (e.g. MatMul,Softmax)"}}),
       cmd_edge},
#endif
#ifdef FX_CLI_EVAL
      {"eval",
       "eval PLAN.fsp --input CLIP... [--gt-masks PATTERN...] --systems LIST --trace LIST [--edges LIST] --out DIR",
       "compare FluxShard with the baselines, ablations and sweeps as edge + server on this machine; a report",
       {{"--input", true, "clips to evaluate (video files)", true},
        {"--gt-masks", true, "ground-truth annotations per clip (e.g. dir/%05d.png; '-' for none), in clip order",
         true},
        {"--systems", true,
         "comma-separated systems or groups: all (default), baselines, fluxshard, ablations, sweeps, or names "
         "(local, offload, deltacnn, motiondeltacnn, coach, roi, hold, small, fs-no-salience, ...)"},
        {"--trace", true, "bandwidth presets, comma-separated (default high,medium,low; or Mbit/s)"},
        {"--edges", true, "numbers of edges sharing one link, comma-separated (default 1; e.g. 1,2,3,4)"},
        {"--out", true, "output directory (results.csv, results.json, plots, report.md; cells/ to resume)"},
        {"--small-plan", true, "the small detector for roi and small (e.g. a compiled yolo11n-320)"},
        {"--frames", true, "frames per clip (default: all)"},
        {"--edge-slowdown", true, "the emulated edge is K times slower than this machine (default 6)"},
        {"--edge-threads", true, "kernel threads of each edge (default 1)"},
        {"--server-threads", true, "kernel threads of the server (default: the cores the edge does not use)"},
        {"--server-backend", true, "cpu (default) or cuda"},
        {"--server-device", true, "cuda: the GPU's index (default 0)"},
        {"--server-precision", true, "cuda: fp32 (default) or fp16"},
        {"--rtt-ms", true, "emulated round-trip time (default 20)"},
        {"--hold-k", true, "the hold baseline computes every k-th frame (default 3)"},
        {"--conf", true, "score threshold (default 0.25)"},
        {"--iou", true, "NMS IoU threshold (default 0.7)"},
        {"--report", true, "no runs: regenerate results.csv, plots and report.md from DIR/results.json"},
        {"--no-plots", false, "do not make the plots"},
        {"--plot-script", true, "the plotting script (default: perf/eval_plots.py of this build or installation)"},
        {"--quiet", false, "no progress bar, no summary"}},
       cmd_eval},
#endif
#ifdef FX_CLI_SYNTH
      {"synth",
       "synth yolo11{n,s,m,l,x} -o FILE.onnx [--imgsz N]",
       "write a YOLO11 ONNX graph with seeded random weights (for timing larger models)",
       {{"-o", true, "output .onnx"},
        {"--task", true, "detect (default) or segment (also: yolo11n-seg)"},
        {"--imgsz", true, "square input size, a multiple of 32 (default 640)"},
        {"--seed", true, "weight seed (default 0)"},
        {"--opset", true, "ONNX opset, 12 to 21 (default 19)"},
        {"--head", true, "Detect head layout of Ultralytics 8.3 (default) or 8.4 exports"},
        {"--quiet", false, "print nothing on success"}},
       cmd_synth},
#endif
  };
  return table;
}

}  // namespace fx::cli
