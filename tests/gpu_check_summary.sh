#!/usr/bin/env bash
# perf/gpu_check.sh's summary, checked without a GPU: stand-ins for the GPU binaries and the PyTorch peer
# print what the real ones printed on an H100 (2026-11-27), and the table must carry the right figures,
# ratios and statuses (a failing test binary, the CLI left out of a bundle).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d /tmp/gpu_check_summary.XXXXXX)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/bin" "$T/lib"

cat >"$T/bin/test_cuda_ops" <<'EOF'
#!/bin/sh
echo "All tests passed (15413 assertions in 18 test cases)"
EOF
cat >"$T/bin/test_cuda_models" <<'EOF'
#!/bin/sh
echo "test cases: 4 | 3 passed | 1 failed"
exit 1
EOF
cat >"$T/bin/test_cuda_sparse" <<'EOF'
#!/bin/sh
echo "All tests passed (901 assertions in 7 test cases)"
EOF
cat >"$T/bin/bench_gpu" <<'EOF'
#!/bin/sh
curve() {  # precision, dense ms, 5% and 25% speed-ups
  echo "sparse cost curve (model, $1): dense $2 ms"
  echo "policy     pattern     blocks    FLOPs        ms  speed-up"
  echo "footprint  random         5%    14.2%     0.900     1.10x"
  echo "footprint  clustered      5%     5.8%     0.500     $3"
  echo "footprint  clustered     25%    28.5%     0.900     $4"
}
case "$*" in
  *--synth*)
    echo "fp32          9.091        9.279      19.23 CUDA graph, cuBLAS"
    echo "fp16          6.537        6.281      26.75 CUDA graph, cuBLAS"
    curve fp32 9.091 7.01x 2.90x
    curve fp16 6.537 6.20x 2.60x
    prev=""
    for a in "$@"; do [ "$prev" = --save-onnx ] && : >"$a"; prev=$a; done ;;
  *)
    echo "3x3 s2 3->16 @640        fp32    0.0331      2.67     4.6%       346    12.4%"
    echo "fp32          1.639        1.758       3.99 CUDA graph, cuBLAS"
    echo "fp16          1.318        1.412       4.96 CUDA graph, cuBLAS"
    echo "motion search 1024x1024 (16 px blocks, +-16 px): kernel 0.183 ms, with transfers 0.731 ms (candidates 7.7%)"
    curve fp32 1.639 3.28x 1.82x
    curve fp16 1.318 2.91x 1.60x
    echo "16 fluxshard sessions on one device (cuda:0): median 1.100 ms per frame (dense 1.700 ms, 1.55x), host-side 0.400 ms (letterbox, motion planning, labels), 192 frames in 240 ms overall; 30.3 sessions at 30 fps; device memory: weights 12.0 MiB, 150.2 MiB per session" ;;
esac
EOF
cat >"$T/python" <<'EOF'
#!/bin/sh
case "$*" in
  *torch_peer.py*yolo11n-640.onnx*)
    echo "fp32      1.904 ms  CUDA graph"; echo "tf32      1.427 ms  CUDA graph"; echo "fp16      1.332 ms  CUDA graph" ;;
  *torch_peer.py*)
    echo "fp32      8.518 ms  CUDA graph"; echo "tf32      4.253 ms  CUDA graph"; echo "fp16      3.081 ms  CUDA graph" ;;
  *) exit 1 ;;
esac
EOF
chmod +x "$T/bin/"* "$T/python"

OUT="$T/out" PYTHON="$T/python" GPU_CHECK_BUDGET_S=60 bash "$ROOT/perf/gpu_check.sh" "$T" >"$T/log" 2>&1
summary="$T/out/summary.txt"
fail=0
expect() {  # a fixed string the summary must contain
  if ! grep -qF -- "$1" "$summary" 2>/dev/null; then
    echo "gpu_check_summary: missing: $1"
    fail=1
  fi
}
expect "test_cuda_ops                        PASS      All tests passed (15413 assertions in 18 test cases)"
expect "test_cuda_models                     FAIL(1)   test cases: 4 | 3 passed | 1 failed"
expect "test_cuda_sparse                     PASS      All tests passed (901 assertions in 7 test cases)"
expect "yolo11n-640 sparse fp32              5% 3.28x  25% 1.82x"
expect "yolo11n-640 sparse fp16              5% 2.91x  25% 1.60x"
expect "yolo11m-1024 sparse fp32             5% 7.01x  25% 2.90x"
expect "sessions on one GPU                  OK        30.3 sessions at 30 fps; device memory: weights 12.0 MiB, 150.2 MiB per session"
expect "test_cuda_models [cli]               SKIP      no bin/fluxshard (a bundle leaves the CLI and FFmpeg out)"
expect "motion search 1024x1024              OK        kernel 0.183 ms, with transfers 0.731 ms"
expect "yolo11n-640 dense fp32               1.639 ms  peer fp32 1.904 ms: ours/peer 0.86x; vs TF32 1.427 ms: 1.15x"
expect "yolo11n-640 dense fp16               1.318 ms  peer fp16 1.332 ms: ours/peer 0.99x"
expect "yolo11m-1024 dense fp32              9.091 ms  peer fp32 8.518 ms: ours/peer 1.07x; vs TF32 4.253 ms: 2.14x"
expect "yolo11m-1024 dense fp16              6.537 ms  peer fp16 3.081 ms: ours/peer 2.12x"
expect "fluxshard run --backend cuda         SKIP      no bin/fluxshard (a bundle leaves the CLI and FFmpeg out)"
if [ "$fail" -ne 0 ]; then
  echo "--- gpu_check output:"
  cat "$T/log"
  exit 1
fi
echo "gpu_check summary: all rows as expected"
