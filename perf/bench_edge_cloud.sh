#!/usr/bin/env bash
# Edge + server on loopback (DESIGN 8): one clip per task through `fluxshard edge` and `fluxshard serve`
# under the three bandwidth presets (token-bucket shaping of the edge's uplink: high 130 Mbit/s, medium 56,
# low 25, each with an emulated 20 ms RTT) and the three policies (fluxshard, local, offload). Prints mean
# and p95 end-to-end latency, uplink bandwidth (MB/s at the clip's frame rate) and the share of frames
# computed on each side; also writes the table as Markdown and every run's JSON lines to OUT.
#
# usage: perf/bench_edge_cloud.sh [options]
#   --build DIR        build directory with bin/fluxshard (default: $FLUXSHARD_BUILD or build)
#   --tasks LIST       of detect, detect640, segment (default detect,segment): detect = yolo11n-320 on
#                      bedroom.mp4, detect640 = yolo11n-640 on bedroom.mp4, segment = yolo11n-seg-640 on
#                      cockatoo.mp4
#   --frames N         frames per run (default 120)
#   --server-threads N kernel threads of the server (default: half the cores, at least 1)
#   --edge-threads N   kernel threads of the edge (default: the other half, at least 1)
#   --mode M           fluxshard (default) or exact
#   --codec C          raw, lossless, lz4, jpeg (default jpeg)
#   --presets LIST     default high,medium,low
#   --policies LIST    default fluxshard,local,offload
#   --rtt-ms N         emulated round-trip time (default 20)
#   --realtime         feed frames at the clip's frame rate (default: as fast as they are processed)
#   --out DIR          keep the JSON lines here (default: a temporary directory)
# Server and edge share this machine's cores: give the server the larger share to model a cloud GPU box
# and a weaker edge device; say which split was used when quoting numbers.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${FLUXSHARD_BUILD:-build}
tasks=detect,segment
frames=120
cores=$(nproc 2>/dev/null || echo 2)
server_threads=$(( cores / 2 > 0 ? cores / 2 : 1 ))
edge_threads=$(( cores - server_threads > 0 ? cores - server_threads : 1 ))
mode=fluxshard
codec=jpeg
presets=high,medium,low
policies=fluxshard,local,offload
realtime=()
rtt=20
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --tasks) tasks=$2; shift 2 ;;
    --frames) frames=$2; shift 2 ;;
    --server-threads) server_threads=$2; shift 2 ;;
    --edge-threads) edge_threads=$2; shift 2 ;;
    --mode) mode=$2; shift 2 ;;
    --codec) codec=$2; shift 2 ;;
    --presets) presets=$2; shift 2 ;;
    --policies) policies=$2; shift 2 ;;
    --rtt-ms) rtt=$2; shift 2 ;;
    --realtime) realtime=(--realtime); shift ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
    *) echo "bench_edge_cloud: unknown option $1" >&2; exit 2 ;;
  esac
done
fx=$build/bin/fluxshard
[ -x "$fx" ] || { echo "bench_edge_cloud: $fx not found (build first: scripts/setup.sh)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "bench_edge_cloud: needs python3 to read the JSON summaries" >&2; exit 1; }
work=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
[ -n "$out" ] && mkdir -p "$out" || out=$work

summary() {  # file -> "mean p95 mb_per_s edge_share cloud_share fallbacks"
  python3 - "$1" <<'PY'
import json, sys
s = [json.loads(l) for l in open(sys.argv[1]) if l.strip()][-1]
n = s["frames"]
print("%.2f %.2f %.3f %.0f %.0f %d" % (s["mean_ms"], s["p95_ms"], s["mb_per_s"], 100.0 * s["frames_on_edge"] / n,
                                      100.0 * s["frames_on_cloud"] / n, s["fallbacks"]))
PY
}

md=$out/edge_cloud.md
{
  echo "| task | model | clip | preset | policy | mean ms | p95 ms | MB/s up | edge % | cloud % | fallbacks |"
  echo "|---|---|---|---|---|---:|---:|---:|---:|---:|---:|"
} > "$md"
printf '%-10s %-8s %-10s %9s %9s %9s %7s %8s %9s\n' task preset policy mean_ms p95_ms MB/s edge% cloud% fallbacks
IFS=, read -r -a task_list <<< "$tasks"
IFS=, read -r -a preset_list <<< "$presets"
IFS=, read -r -a policy_list <<< "$policies"
for task in "${task_list[@]}"; do
  case "$task" in
    detect) model=yolo11n-320; clip=assets/bedroom.mp4 ;;
    detect640) model=yolo11n-640; clip=assets/bedroom.mp4 ;;
    segment) model=yolo11n-seg-640; clip=assets/cockatoo.mp4 ;;
    *) echo "bench_edge_cloud: unknown task $task (detect, detect640, segment)" >&2; exit 2 ;;
  esac
  plan=$work/$model.fsp
  "$fx" compile "assets/$model.onnx" -o "$plan" --quiet
  rm -f "$work/port"
  "$fx" serve "$plan" --listen 127.0.0.1:0 --port-file "$work/port" --threads "$server_threads" --quiet &
  server_pid=$!
  for _ in $(seq 600); do [ -s "$work/port" ] && break; sleep 0.1; done
  [ -s "$work/port" ] || { echo "bench_edge_cloud: the server did not start" >&2; exit 1; }
  port=$(cat "$work/port")
  for preset in "${preset_list[@]}"; do
    for policy in "${policy_list[@]}"; do
      json=$out/$task-$preset-$policy.jsonl
      "$fx" edge "$plan" --input "$clip" --server "127.0.0.1:$port" --trace "$preset" --rtt-ms "$rtt" --policy "$policy" \
        --mode "$mode" --codec "$codec" --max-frames "$frames" --threads "$edge_threads" --json "$json" \
        --quiet "${realtime[@]}"
      read -r mean p95 mbs edge cloud fb <<< "$(summary "$json")"
      printf '%-10s %-8s %-10s %9s %9s %9s %7s %8s %9s\n' "$task" "$preset" "$policy" "$mean" "$p95" "$mbs" "$edge" "$cloud" "$fb"
      echo "| $task | $model | $(basename "$clip") | $preset | $policy | $mean | $p95 | $mbs | $edge | $cloud | $fb |" >> "$md"
    done
  done
  kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""
done
echo
echo "server threads $server_threads, edge threads $edge_threads, $frames frames, mode $mode, codec $codec, RTT $rtt ms, $(nproc) cores"
[ "$out" != "$work" ] && echo "JSON lines and edge_cloud.md in $out"
cat "$md"
