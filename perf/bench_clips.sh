#!/usr/bin/env bash
# Real clips, fluxshard mode vs dense in the same run (issue: core benchmarks 2): the seven DAVIS clips
# (strong camera motion) and bedroom, box, cup, vtest (mild or static camera), for detect (yolo11n-640)
# and segment (yolo11n-seg-640; DAVIS also against the ground-truth masks). Prints one table row per
# clip and task from each run's summary line; the JSON lines stay under $OUT (default perf/out).
# usage: perf/bench_clips.sh [FRAMES=60] [THREADS=2] [RUN FLAGS...]   (extra flags go to every `run`,
#        e.g. --island-reused 1 for the session before that approximation)
set -euo pipefail
cd "$(dirname "$0")/.."
frames=${1:-60}
threads=${2:-2}
shift $(( $# < 2 ? $# : 2 ))
extra=("$@")
fx=${FLUXSHARD_BUILD:-build}/bin/fluxshard
assets=${FLUXSHARD_ASSETS:-../shared/assets}
out=${OUT:-perf/out}
mkdir -p "$out"
[ -d "$assets/video" ] || { echo "bench_clips: no clips under $assets/video (set FLUXSHARD_ASSETS)"; exit 1; }
"$fx" compile assets/yolo11n-640.onnx -o "$out/detect.fsp" --quiet
"$fx" compile assets/yolo11n-seg-640.onnx -o "$out/segment.fsp" --quiet

printf '%-16s %-8s %7s %8s %9s %9s %8s %7s %9s %9s %9s\n' clip task frames hit% flophit% ms dense_ms speedup f1 maskiou gt_iou
for clip in davis/bmx-trees davis/breakdance davis/car-roundabout davis/dance-twirl davis/dog davis/parkour \
            davis/soapbox bedroom box cup vtest; do
  file=$assets/video/$clip.mp4
  [ -f "$file" ] || file=$assets/video/$clip.avi
  for task in detect segment; do
    gt=()
    if [ "$task" = segment ] && [ -d "$assets/video/davis/annotations/${clip#davis/}" ]; then
      gt=(--gt-masks "$assets/video/davis/annotations/${clip#davis/}/%05d.png")
    fi
    name=$(basename "$clip")
    "$fx" run "$out/$task.fsp" --input "$file" --mode fluxshard --compare-dense --threads "$threads" \
      --max-frames "$frames" --quiet --json "$out/$name.$task.jsonl" "${gt[@]}" \
      ${extra[@]+"${extra[@]}"} >/dev/null
    tail -n 1 "$out/$name.$task.jsonl" | node -e '
      const s = JSON.parse(require("fs").readFileSync(0, "utf8"));
      const f = (v, d = 3) => (v === undefined ? "-" : Number(v).toFixed(d));
      console.log([process.argv[1].padEnd(16), process.argv[2].padEnd(8), String(s.frames).padStart(7),
        f(100 * s.hit_ratio, 1).padStart(8), f(100 * s.flop_hit_ratio, 1).padStart(9), f(s.mean_ms, 2).padStart(9),
        f(s.dense_mean_ms, 2).padStart(8), f(s.speedup_vs_dense, 2).padStart(7), f(s.f1_vs_dense).padStart(9),
        f(s.mask_iou_vs_dense).padStart(9), (s.gt_mask_iou === undefined ? "-" :
        f(s.gt_mask_iou) + "/" + f(s.dense_gt_mask_iou)).padStart(9)].join(" "));' "$name" "$task"
  done
done
