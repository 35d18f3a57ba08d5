#!/usr/bin/env bash
# Sets up, compiles the bundled YOLO11n model and runs detection on the bundled clip, writing an
# annotated video and one JSON line per frame under out/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
mkdir -p out
build/bin/fluxshard compile assets/yolo11n-640.onnx -o out/yolo11n-640.fsp
build/bin/fluxshard run out/yolo11n-640.fsp --input assets/bedroom.mp4 --mode fluxshard --compare-dense \
  --json out/demo.jsonl --annotate out/demo.mp4
