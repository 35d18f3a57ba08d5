#!/usr/bin/env bash
# What one edge session costs the server in resident memory (issue 17; README "Edge and cloud"): per plan,
# `fluxshard serve` idle, then N edges (offload, exact mode, paced at 5 fps so that all N sessions are
# open at once), the server's peak RSS while they run, and its RSS once they have all closed.
#   per session = (peak - idle) / N
# usage: perf/server_memory.sh [--sessions N] [--build DIR] [PLAN.fsp|MODEL.onnx ...]
# Default: 4 sessions; yolo11n-320, yolo11n-640 (bedroom.mp4) and yolo11n-seg-640 (cockatoo.mp4) from
# assets/ (compiled into a temporary directory).
set -euo pipefail
cd "$(dirname "$0")/.."
sessions=4 build=${FLUXSHARD_BUILD:-build} models=()
while [ $# -gt 0 ]; do
  case "$1" in
    --sessions) sessions=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) models+=("$1"); shift ;;
  esac
done
[ ${#models[@]} -gt 0 ] || models=(assets/yolo11n-320.onnx assets/yolo11n-640.onnx assets/yolo11n-seg-640.onnx)
fx=$build/bin/fluxshard
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf "%-22s %10s %12s %12s %12s %14s\n" plan idle_MB peak_MB after_MB per_session sessions
for m in "${models[@]}"; do
  plan=$m
  if [[ $m == *.onnx ]]; then plan=$tmp/$(basename "$m" .onnx).fsp; "$fx" compile "$m" -o "$plan" --quiet; fi
  clip=assets/bedroom.mp4
  [[ $(basename "$plan") == *seg* ]] && clip=assets/cockatoo.mp4
  rm -f "$tmp/port"
  "$fx" serve "$plan" --listen 127.0.0.1:0 --port-file "$tmp/port" --threads 1 --quiet &
  server=$!
  for _ in $(seq 600); do [ -s "$tmp/port" ] && break; sleep 0.1; done
  rss() { awk '/^VmRSS:/ {print $2}' "/proc/$server/status"; }
  sleep 2
  idle=$(rss)
  pids=()
  for i in $(seq "$sessions"); do
    "$fx" edge "$plan" --input "$clip" --server "127.0.0.1:$(cat "$tmp/port")" --policy offload --mode exact \
      --max-frames 40 --fps 5 --threads 1 --quiet 2>/dev/null &
    pids+=($!)
  done
  peak=$idle
  while kill -0 "${pids[0]}" 2>/dev/null; do
    r=$(rss); [ "$r" -gt "$peak" ] && peak=$r
    sleep 0.2
  done
  for p in "${pids[@]}"; do wait "$p" || true; done
  sleep 2
  after=$(rss)
  kill -TERM "$server"; wait "$server" || true
  awk -v n="$(basename "$plan")" -v i="$idle" -v p="$peak" -v a="$after" -v s="$sessions" \
    'BEGIN { printf "%-22s %10.1f %12.1f %12.1f %12.1f %14d\n", n, i / 1024, p / 1024, a / 1024, (p - i) / 1024 / s, s }'
done
