#!/usr/bin/env bash
# fluxshard-edge's footprint (perf/RESULTS.md, "Deployment"): its stripped size, the shared libraries it
# loads (ldd) and links directly (NEEDED), and its peak resident memory (GNU time's maximum RSS) running
# a plan on a clip in fluxshard mode against dense mode, both in this run; the full `fluxshard` CLI in
# dense mode alongside for comparison.
#
# usage: perf/edge_footprint.sh [BUILD_DIR] [MODEL] [CLIP] [FRAMES] [THREADS]
#        (defaults: build assets/yolo11n-640.onnx assets/bedroom.mp4 60 2)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build} model=${2:-assets/yolo11n-640.onnx} clip=${3:-assets/bedroom.mp4} frames=${4:-60} threads=${5:-2}
edge=$build/bin/fluxshard-edge
[ -x "$edge" ] || { echo "error: no $edge (configure with FLUXSHARD_CLI and FLUXSHARD_FFMPEG on)"; exit 1; }
[ -x /usr/bin/time ] || { echo "error: no /usr/bin/time (Debian package 'time')"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

strip -o "$tmp/fluxshard-edge" "$edge"
strip -o "$tmp/fluxshard" "$build/bin/fluxshard"
"$build/bin/fluxshard" compile "$model" -o "$tmp/m.fsp" --quiet   # on the workstation: the edge has no compiler

# peak RSS in KiB of: BINARY run PLAN --mode MODE
rss() {
  /usr/bin/time -f "%M" -o "$tmp/rss" "$1" run "$tmp/m.fsp" --input "$clip" --mode "$2" --max-frames "$frames" \
    --threads "$threads" --quiet --json "$tmp/out.jsonl" >/dev/null
  cat "$tmp/rss"
}

echo "binary          stripped bytes  ldd libraries  NEEDED"
for b in fluxshard-edge fluxshard; do
  printf "%-15s %14d %14d %7d\n" "$b" "$(stat -c %s "$tmp/$b")" "$(ldd "$tmp/$b" | grep -c '\.so')" \
    "$(readelf -d "$tmp/$b" | grep -c NEEDED)"
done
dense=$(rss "$tmp/fluxshard-edge" dense)
flux=$(rss "$tmp/fluxshard-edge" fluxshard)
full=$(rss "$tmp/fluxshard" dense)
echo
echo "peak RSS, $(basename "$model" .onnx) on $(basename "$clip"), $frames frames, $threads threads"
printf "fluxshard-edge dense      %8d KiB\n" "$dense"
printf "fluxshard-edge fluxshard  %8d KiB   ratio to dense %.2f\n" "$flux" "$(awk "BEGIN { print $flux / $dense }")"
printf "fluxshard      dense      %8d KiB\n" "$full"
