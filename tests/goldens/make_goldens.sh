#!/usr/bin/env bash
# Regenerates the golden files of tests/goldens/ with ONNX Runtime 1.30 (CPU), from real letterboxed
# frames of the bundled clips (`fluxshard letterbox`). Needs a build (scripts/setup.sh) and network
# access to the npm registry. With arguments, only the goldens of those names (e.g.
# yolo11n-320_cockatoo_f120): the first four predate today's letterbox (their stored inputs differ from
# what it gives now by ~1 grey level), and test_models.cpp checks that the last one's input still equals
# the letterbox of its frame.
set -euo pipefail
cd "$(dirname "$0")/../.."
tools=$(mktemp -d)
trap 'rm -rf "$tools"' EXIT
(cd "$tools" && npm install --silent --ignore-scripts onnxruntime-node@1.30.0 >/dev/null)
export NODE_PATH="$tools/node_modules"
ort=tests/goldens/ort_reference.js
[ -f ../shared/tools/ort_reference.js ] && ort=../shared/tools/ort_reference.js

make_one() {  # model clip frame size
  local model=$1 clip=$2 frame=$3 size=$4
  local base="${model%.onnx}_${clip%.mp4}_f${frame}"
  if (( ${#only[@]} )) && [[ " ${only[*]} " != *" $base "* ]]; then return; fi
  build/bin/fluxshard letterbox "assets/$clip" --frame "$frame" --size "$size" -o "$tools/in.npy" >/dev/null
  node "$ort" "assets/$model" "$tools/in.npy" "$tools/ort" >/dev/null
  local outs=()
  for f in "$tools"/ort.*.npy; do
    local name=${f#"$tools"/ort.}
    outs+=("${name%.npy}=$f")
  done
  build/bin/make_golden "tests/goldens/$base.fxg" "$model" "$clip" "$frame" "$tools/in.npy" "${outs[@]}"
  rm -f "$tools"/ort.*.npy
}
only=("$@")
make_one yolo11n-640.onnx bedroom.mp4 10 640
make_one yolo11n-640.onnx cockatoo.mp4 40 640
make_one yolo11n-320.onnx bedroom.mp4 30 320
make_one yolo11n-seg-640.onnx bedroom.mp4 10 640
make_one yolo11n-320.onnx cockatoo.mp4 120 320
