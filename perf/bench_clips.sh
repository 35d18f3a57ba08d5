#!/usr/bin/env bash
# Real clips, each preset vs dense in the same run (issue: core benchmarks 2): the seven DAVIS clips
# (strong camera motion) and bedroom, box, cup, vtest (mild or static camera), for detect (yolo11n-640)
# and segment (yolo11n-seg-640; DAVIS also against the ground-truth masks). Prints one table row per
# clip, task and preset from each run's summary line; the JSON lines stay under $OUT (default perf/out).
# usage: [PRESETS="balanced"] [CLIPS="..."] [TASKS="detect segment"] perf/bench_clips.sh [FRAMES=60] [THREADS=2]
#        [RUN FLAGS...]
#        (PRESETS: any of exact balanced fast; extra flags go to every `run`, e.g. --island-reused 1;
#        CLIPS: names under the assets' video/ or paths of other clips)
# Columns: FLOP hit = share of local FLOPs reused; F1 and mAP50 of the detections against dense at IoU
# 0.5; mask IoU of matched detections against dense; gt_iou = DAVIS ground-truth mask IoU, preset / dense;
# det = frames with a detection on either side / frames.
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

presets=${PRESETS:-balanced}
clips=${CLIPS:-davis/bmx-trees davis/breakdance davis/car-roundabout davis/dance-twirl davis/dog davis/parkour \
               davis/soapbox bedroom box cup vtest}
printf '%-16s %-8s %-8s %8s %9s %9s %8s %7s %7s %7s %8s %13s %7s\n' clip task preset hit% flophit% ms dense_ms \
  speedup f1 map50 maskiou gt_iou det
for clip in $clips; do
  file=$assets/video/$clip.mp4
  [ -f "$file" ] || file=$assets/video/$clip.avi
  [ -f "$file" ] || file=$clip
  for task in ${TASKS:-detect segment}; do
   for preset in $presets; do
    gt=()
    if [ "$task" = segment ] && [ -d "$assets/video/davis/annotations/${clip#davis/}" ]; then
      gt=(--gt-masks "$assets/video/davis/annotations/${clip#davis/}/%05d.png")
    fi
    name=$(basename "$clip" | sed 's/\.[a-z0-9]*$//')
    json="$out/$name.$task.$preset.jsonl"
    "$fx" run "$out/$task.fsp" --input "$file" --preset "$preset" --compare-dense --threads "$threads" \
      --max-frames "$frames" --quiet --json "$json" "${gt[@]}" \
      ${extra[@]+"${extra[@]}"} >/dev/null
    tail -n 1 "$json" | node -e '
      const s = JSON.parse(require("fs").readFileSync(0, "utf8"));
      const f = (v, d = 3) => (v === undefined ? "-" : Number(v).toFixed(d));
      console.log([process.argv[1].padEnd(16), process.argv[2].padEnd(8), process.argv[3].padEnd(8),
        f(100 * s.hit_ratio, 1).padStart(8), f(100 * s.flop_hit_ratio, 1).padStart(9), f(s.mean_ms, 2).padStart(9),
        f(s.dense_mean_ms, 2).padStart(8), f(s.speedup_vs_dense, 2).padStart(7), f(s.f1_vs_dense).padStart(7),
        f(s.map50_vs_dense).padStart(7), f(s.mask_iou_vs_dense).padStart(8), (s.gt_mask_iou === undefined ? "-" :
        f(s.gt_mask_iou) + "/" + f(s.dense_gt_mask_iou)).padStart(13),
        (s.frames_with_detections + "/" + s.frames).padStart(7)].join(" "));' "$name" "$task" "$preset"
   done
  done
done
