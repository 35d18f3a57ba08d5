#!/usr/bin/env bash
# Dense CPU inference of the bundled YOLO11n models: FluxShard next to ONNX Runtime (CPU) in the same
# run, same thread count, alternating rounds so both see the same machine load. Prints median latencies
# and the ratio FluxShard / ONNX Runtime (< 1: FluxShard is faster).
# usage: perf/bench_dense_vs_ort.sh [THREADS=2] [ROUNDS=3] [RUNS=20]
# Needs a build (scripts/setup.sh) and the npm registry (installs onnxruntime-node into a temp dir).
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-2}
rounds=${2:-3}
runs=${3:-20}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -z "${NODE_PATH:-}" ] || [ ! -d "$NODE_PATH/onnxruntime-node" ]; then
  (cd "$work" && npm install --silent --ignore-scripts onnxruntime-node@1.30.0 >/dev/null)
  export NODE_PATH="$work/node_modules"
fi
ort=tests/goldens/ort_reference.js
fx=${FLUXSHARD_BUILD:-build}/bin/fluxshard

printf '%-22s %8s %12s %12s %8s\n' model threads fluxshard_ms ort_ms ratio
for model in yolo11n-640 yolo11n-320 yolo11n-seg-640; do
  "$fx" compile "assets/$model.onnx" -o "$work/$model.fsp" --quiet
  fx_ms=()
  ort_ms=()
  for ((r = 0; r < rounds; r++)); do
    fx_ms+=("$("$fx" bench dense "$work/$model.fsp" --threads "$threads" --runs "$runs" --json |
      sed -E 's/.*"median_ms":([0-9.]+).*/\1/')")
    ort_ms+=("$(node "$ort" "assets/$model.onnx" --time "$runs" --threads "$threads" |
      sed -E 's/.*median ([0-9.]+) ms.*/\1/')")
  done
  med() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
  f=$(med "${fx_ms[@]}")
  o=$(med "${ort_ms[@]}")
  awk -v m="$model" -v t="$threads" -v f="$f" -v o="$o" 'BEGIN { printf "%-22s %8d %12.2f %12.2f %8.2f\n", m, t, f, o, f / o }'
done
