#!/usr/bin/env bash
# GPU check: runs the CUDA tests and benchmarks of a build made elsewhere (an x86-64 build carried to a
# GPU machine that has no package manager) and prints a short table at the end. Under 8 minutes:
# every step has its own timeout.
#
#   perf/gpu_check.sh [BUILD_DIR]             default: <repo>/build-cuda; run from anywhere
#   perf/gpu_check.sh --bundle [BUILD_DIR]    on the build machine: copy the shared libraries the GPU
#                                             binaries need (except glibc and the NVIDIA driver) into
#                                             BUILD_DIR/lib, so the build can be carried
#
# Environment: OUT (logs and JSON results go there; default a temporary directory), FLUXSHARD_LIB_DIR
# (shared libraries; default BUILD_DIR/lib), PYTHON (default python3).
# The binaries link the CUDA runtime statically and load cuBLAS at run time when present (the
# built-in GEMM is used otherwise); only the driver's libcuda.so must exist on the GPU machine.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")

if [[ "${1:-}" == "--bundle" ]]; then
  BUILD=${2:-$ROOT/build-cuda}
  mkdir -p "$BUILD/lib"
  for bin in fluxshard test_cuda_ops test_cuda_models bench_gpu; do
    [[ -x "$BUILD/bin/$bin" ]] || continue
    ldd "$BUILD/bin/$bin" | awk '/=> \// {print $3}'
  done | sort -u | while read -r lib; do
    case "$(basename "$lib")" in
      libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|ld-linux*|libcuda.so*|libnvidia*|libgcc_s.so*) ;;
      *) cp -L -n "$lib" "$BUILD/lib/" ;;
    esac
  done
  du -sh "$BUILD/lib"
  exit 0
fi

BUILD=$(cd "${1:-$ROOT/build-cuda}" && pwd)
LIBDIR=${FLUXSHARD_LIB_DIR:-$BUILD/lib}
export LD_LIBRARY_PATH="$LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
PY=${PYTHON:-python3}
# cuBLAS shipped with PyTorch's wheels, when the CUDA major version matches (found by dlopen).
if TORCH_LIBS=$(timeout 20 "$PY" -c 'import os, glob, torch; d = os.path.dirname(torch.__file__); print(":".join(sorted(set(os.path.dirname(p) for p in glob.glob(os.path.join(d, "..", "nvidia", "*", "lib", "libcublas*.so*")) + glob.glob(os.path.join(d, "lib", "libcublas*.so*"))))))' 2>/dev/null) && [[ -n "$TORCH_LIBS" ]]; then
  export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$TORCH_LIBS"
fi
LOG=${OUT:-$(mktemp -d /tmp/gpu_check.XXXXXX)}
mkdir -p "$LOG"
cd "$ROOT"
export FLUXSHARD_SOURCE_DIR="$ROOT"

declare -a ROWS
row() { ROWS+=("$(printf '%-34s %-8s %s' "$1" "$2" "$3")"); }
START=$(date +%s)
DEADLINE=$((START + ${GPU_CHECK_BUDGET_S:-450}))
# A step's timeout: its own limit, cut to what is left of the whole budget (at least 5 s).
budget() { local left=$((DEADLINE - $(date +%s))); (( left < 5 )) && left=5; (( $1 < left )) && echo "$1" || echo "$left"; }

echo "== GPU check: build $BUILD, logs in $LOG"
(command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader) \
  2>&1 | tee "$LOG/nvidia-smi.txt"

run_test() {  # name, timeout
  local name=$1 limit=$2 rc
  if [[ ! -x "$BUILD/bin/$name" ]]; then row "$name" "MISSING" "$BUILD/bin/$name"; return; fi
  limit=$(budget "$limit")
  timeout "$limit" "$BUILD/bin/$name" --durations yes >"$LOG/$name.log" 2>&1
  rc=$?
  local summary
  summary=$(grep -E "^(All tests passed|test cases:)" "$LOG/$name.log" | tail -1)
  local warn=""
  grep -q "no CUDA device:" "$LOG/$name.log" && warn=" [SKIPPED: $(grep -m1 -A1 'no CUDA device:' "$LOG/$name.log" | tr -s ' \n' ' ' | cut -c1-80)]"
  if [[ $rc -eq 0 ]]; then row "$name" "PASS" "$summary$warn"
  elif [[ $rc -eq 124 ]]; then row "$name" "TIMEOUT" "after ${limit}s"
  else row "$name" "FAIL($rc)" "$summary (see $LOG/$name.log)"; fi
  tail -3 "$LOG/$name.log"
}

echo "== tests"
run_test test_cuda_ops 120
run_test test_cuda_models 170

echo "== benchmarks"
PLAN="$LOG/yolo11n-640.fsp"
if timeout "$(budget 60)" "$BUILD/bin/fluxshard" compile assets/yolo11n-640.onnx -o "$PLAN" --quiet >"$LOG/compile.log" 2>&1; then
  if timeout "$(budget 90)" "$BUILD/bin/bench_gpu" --plan "$PLAN" --runs 30 --json "$LOG/bench_gpu.json" >"$LOG/bench_gpu.log" 2>&1; then
    cat "$LOG/bench_gpu.log"
    fp32=$(awk '$1 == "fp32" && NF >= 4 && $2 ~ /^[0-9.]+$/ {print $2; exit}' "$LOG/bench_gpu.log")
    fp16=$(awk '$1 == "fp16" && NF >= 4 && $2 ~ /^[0-9.]+$/ && $3 ~ /^[0-9.]+$/ {v=$2} END {print v}' "$LOG/bench_gpu.log")
    motion=$(grep -o "kernel [0-9.]* ms" "$LOG/bench_gpu.log" | head -1)
    row "bench_gpu yolo11n-640 dense fp32" "OK" "${fp32:-?} ms (device, median)"
    row "bench_gpu yolo11n-640 dense fp16" "OK" "${fp16:-?} ms (device, median)"
    row "bench_gpu motion 1024x1024" "OK" "${motion:-?}"
  else
    row "bench_gpu" "FAIL" "see $LOG/bench_gpu.log"; tail -5 "$LOG/bench_gpu.log"
  fi
else
  row "fluxshard compile" "FAIL" "see $LOG/compile.log"
fi
if timeout "$(budget 40)" "$BUILD/bin/fluxshard" run "$PLAN" --input assets/bedroom.mp4 --backend cuda --max-frames 30 --quiet \
     >"$LOG/run_cuda.log" 2>&1; then
  row "fluxshard run --backend cuda" "OK" "$(grep -o '[0-9.]* ms/frame' "$LOG/run_cuda.log" | head -1) end to end (30 frames)"
else
  row "fluxshard run --backend cuda" "FAIL" "$(tail -1 "$LOG/run_cuda.log" | cut -c1-100)"
fi

echo "== PyTorch peer"
timeout "$(budget 120)" "$PY" perf/torch_peer.py assets/yolo11n-640.onnx --runs 50 --json "$LOG/torch_peer.json" \
  >"$LOG/torch_peer.log" 2>&1
rc=$?
cat "$LOG/torch_peer.log"
if [[ $rc -eq 0 ]]; then
  for m in fp32 tf32 fp16; do
    v=$(awk -v m=$m '$1 == m {print $2; exit}' "$LOG/torch_peer.log")
    row "torch peer yolo11n-640 $m" "OK" "${v:-?} ms (CUDA graph replay, median)"
  done
elif [[ $rc -eq 3 ]]; then row "torch peer" "SKIP" "$(tail -1 "$LOG/torch_peer.log")"
else row "torch peer" "FAIL($rc)" "$(tail -1 "$LOG/torch_peer.log" | cut -c1-100)"; fi

echo
echo "== summary ($(( $(date +%s) - START )) s; logs in $LOG)"
printf '%-34s %-8s %s\n' "check" "status" "result"
for r in "${ROWS[@]}"; do echo "$r"; done | tee "$LOG/summary.txt"
