#!/usr/bin/env bash
# GPU check: runs the CUDA tests and benchmarks of a build made elsewhere (an x86-64 build carried to a
# GPU machine that has no package manager) and prints a short table at the end. Under 8 minutes:
# every step has its own timeout, cut to what is left of the whole budget.
#
#   perf/gpu_check.sh --bundle BUILD_DIR DEST   on the build machine: copy the GPU tests and benchmark
#                                               (stripped) to DEST/bin and the shared libraries they need
#                                               (except glibc, libstdc++ and the NVIDIA driver) to DEST/lib;
#                                               carry DEST
#   perf/gpu_check.sh [DEST]                    on the GPU machine (default <repo>/build-cuda); run from anywhere
#
# Environment: OUT (logs and JSON results go there; default a temporary directory), PYTHON (default
# python3), GPU_CHECK_SESSIONS (default 16: fluxshard sessions sharing the GPU in bench_gpu --sessions),
# GPU_CHECK_BUDGET_S (default 450), GPU_CHECK_BIG (default yolo11m:1024, the synthesised model
# timed against the peer besides yolo11n-640; empty to skip).
# The binaries link the CUDA runtime statically and load cuBLAS at run time when present (the built-in
# GEMM is used otherwise); only the driver's libcuda.so must exist on the GPU machine. The kernel tests
# and benchmarks link no FFmpeg; the CLI (`fluxshard`) does, and FFmpeg's codec libraries (about 165 MB
# on Debian 12) are too many to carry, so a bundle leaves the CLI out and its checks are reported as
# skipped, with the reason. Run on a build directory of a machine that has FFmpeg, they run.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
GPU_BINARIES="test_cuda_ops test_cuda_models test_cuda_sparse bench_gpu"

if [[ "${1:-}" == "--bundle" ]]; then
  BUILD=${2:?usage: gpu_check.sh --bundle BUILD_DIR DEST}
  DEST=${3:?usage: gpu_check.sh --bundle BUILD_DIR DEST}
  rm -rf "$DEST" && mkdir -p "$DEST/bin" "$DEST/lib" || exit 1
  for bin in $GPU_BINARIES; do
    [[ -x "$BUILD/bin/$bin" ]] || { echo "gpu_check: $BUILD/bin/$bin is missing (build it first)" >&2; exit 1; }
    strip -o "$DEST/bin/$bin" "$BUILD/bin/$bin" || exit 1
  done
  for bin in $GPU_BINARIES; do
    ldd "$BUILD/bin/$bin" | awk '/=> \// {print $3}'
  done | sort -u | while read -r lib; do
    case "$(basename "$lib")" in
      libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|ld-linux*|libcuda.so*|libnvidia*|libgcc_s.so*|libstdc++.so*) ;;
      *) cp -L "$lib" "$DEST/lib/" ;;
    esac
  done
  du -sh "$DEST"
  exit 0
fi

BUILD=$(cd "${1:-$ROOT/build-cuda}" && pwd)
export LD_LIBRARY_PATH="$BUILD/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
PY=${PYTHON:-python3}
# cuBLAS shipped with PyTorch's wheels, when the CUDA major version matches (found by dlopen).
if TORCH_LIBS=$(timeout 30 "$PY" -c 'import os, glob, torch; d = os.path.dirname(torch.__file__); print(":".join(sorted(set(os.path.dirname(p) for p in glob.glob(os.path.join(d, "..", "nvidia", "*", "lib", "libcublas*.so*")) + glob.glob(os.path.join(d, "..", "nvidia", "cu*", "lib", "libcublas*.so*")) + glob.glob(os.path.join(d, "lib", "libcublas*.so*"))))))' 2>/dev/null) && [[ -n "$TORCH_LIBS" ]]; then
  export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$TORCH_LIBS"
fi
LOG=${OUT:-$(mktemp -d /tmp/gpu_check.XXXXXX)}
TMP=$(mktemp -d /tmp/gpu_check_tmp.XXXXXX)
mkdir -p "$LOG"
cd "$ROOT"
export FLUXSHARD_SOURCE_DIR="$ROOT"

declare -a ROWS
row() { ROWS+=("$(printf '%-36s %-9s %s' "$1" "$2" "$3")"); }
START=$(date +%s)
DEADLINE=$((START + ${GPU_CHECK_BUDGET_S:-450}))
# A step's timeout: its own limit, cut to what is left of the whole budget (at least 5 s).
budget() { local left=$((DEADLINE - $(date +%s))); (( left < 5 )) && left=5; (( $1 < left )) && echo "$1" || echo "$left"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.2fx", a / b; else printf "?" }'; }

echo "== GPU check: build $BUILD, logs in $LOG"
(command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv,noheader) \
  2>&1 | tee "$LOG/nvidia-smi.txt"
echo "cuBLAS from: ${TORCH_LIBS:-(none found; the built-in GEMM runs the attention MatMuls)}"

# The CLI loads only where FFmpeg's libraries are present.
CLI_WHY=""
if [[ ! -x "$BUILD/bin/fluxshard" ]]; then CLI_WHY="no bin/fluxshard (a bundle leaves the CLI and FFmpeg out)"
elif missing=$(ldd "$BUILD/bin/fluxshard" | awk '/not found/ {print $1}' | head -3 | tr '\n' ' ') && [[ -n "$missing" ]]; then
  CLI_WHY="fluxshard cannot load here (missing ${missing% })"
fi

run_test() {  # name, timeout, [catch2 filter]
  local name=$1 limit=$2 filter=${3:-} rc
  if [[ ! -x "$BUILD/bin/$name" ]]; then row "$name" "MISSING" "$BUILD/bin/$name"; return; fi
  limit=$(budget "$limit")
  timeout "$limit" "$BUILD/bin/$name" --durations yes ${filter:+"$filter"} >"$LOG/$name.log" 2>&1
  rc=$?
  local summary warn=""
  summary=$(grep -E "^(All tests passed|test cases:)" "$LOG/$name.log" | tail -1)
  grep -q "no CUDA device:" "$LOG/$name.log" && warn=" [SKIPPED: $(grep -m1 -A1 'no CUDA device:' "$LOG/$name.log" | tr -s ' \n' ' ' | cut -c1-80)]"
  [[ -n "$filter" ]] && warn="$warn [filter $filter]"
  if [[ $rc -eq 0 ]]; then row "$name" "PASS" "$summary$warn"
  elif [[ $rc -eq 77 ]]; then row "$name" "SKIPPED" "$summary$warn"  # FX_SKIP: nothing failed, cases skipped
  elif [[ $rc -eq 124 ]]; then row "$name" "TIMEOUT" "after ${limit}s"
  else row "$name" "FAIL($rc)" "$summary"; fi
  tail -4 "$LOG/$name.log"
}

echo "== tests"
run_test test_cuda_ops 120
run_test test_cuda_sparse 150
if [[ -z "$CLI_WHY" ]]; then run_test test_cuda_models 170
else
  run_test test_cuda_models 170 "~[cli]"
  row "test_cuda_models [cli]" "SKIP" "$CLI_WHY"
fi

# bench_gpu on one model: its table goes to the log; the dense rows are read back for the summary.
declare -A OURS
bench() {  # label, timeout, bench_gpu arguments...
  local label=$1 limit=$2; shift 2
  if timeout "$(budget "$limit")" "$BUILD/bin/bench_gpu" --runs 50 --json "$LOG/bench_$label.json" "$@" \
       >"$LOG/bench_$label.log" 2>&1; then
    cat "$LOG/bench_$label.log"
    for p in fp32 fp16; do
      OURS[$label.$p]=$(awk -v p=$p '$1 == p && NF >= 4 && $2 ~ /^[0-9.]+$/ && $3 ~ /^[0-9.]+$/ {v = $2} END {print v}' "$LOG/bench_$label.log")
    done
    return 0
  fi
  row "bench_gpu $label" "FAIL" "$(tail -1 "$LOG/bench_$label.log" | cut -c1-100)"
  tail -5 "$LOG/bench_$label.log"
  return 1
}
declare -A PEER
peer() {  # label, onnx file
  local label=$1 onnx=$2 rc
  timeout "$(budget 150)" "$PY" perf/torch_peer.py "$onnx" --runs 50 --json "$LOG/torch_$label.json" \
    >"$LOG/torch_$label.log" 2>&1
  rc=$?
  cat "$LOG/torch_$label.log"
  if [[ $rc -eq 0 ]]; then
    for m in fp32 tf32 fp16; do PEER[$label.$m]=$(awk -v m=$m '$1 == m {print $2; exit}' "$LOG/torch_$label.log"); done
  elif [[ $rc -eq 3 ]]; then row "torch peer $label" "SKIP" "$(tail -1 "$LOG/torch_$label.log" | cut -c1-90)"
  else row "torch peer $label" "FAIL($rc)" "$(tail -1 "$LOG/torch_$label.log" | cut -c1-90)"; fi
}
compare() {  # label: our dense latency against the peer's, same precision (fp32 also against TF32)
  local label=$1
  row "$label dense fp32" "${OURS[$label.fp32]:-?} ms" "peer fp32 ${PEER[$label.fp32]:-?} ms: ours/peer $(ratio "${OURS[$label.fp32]:-0}" "${PEER[$label.fp32]:-0}"); vs TF32 ${PEER[$label.tf32]:-?} ms: $(ratio "${OURS[$label.fp32]:-0}" "${PEER[$label.tf32]:-0}")"
  row "$label dense fp16" "${OURS[$label.fp16]:-?} ms" "peer fp16 ${PEER[$label.fp16]:-?} ms: ours/peer $(ratio "${OURS[$label.fp16]:-0}" "${PEER[$label.fp16]:-0}")"
}

# The sparse cost curve's 25% and 5% clustered points (footprint policy) against dense on the GPU.
curve_rows() {  # label
  local label=$1 p
  for p in fp32 fp16; do
    row "$label sparse $p" "$(awk -v p=$p '/^sparse cost curve/ {on = index($0, p ")") > 0} on && $1 == "footprint" && $2 == "clustered" && ($3 == "5%" || $3 == "25%") {printf "%s %s  ", $3, $6}' "$LOG/bench_$label.log")" "speed-up over dense GPU at 5% / 25% clustered blocks"
  done
}

echo "== benchmarks: yolo11n-640 (kernels, dense, sparse cost curve, sessions, motion)"
if bench yolo11n-640 150 --onnx assets/yolo11n-640.onnx --sparse --sessions "${GPU_CHECK_SESSIONS:-16}"; then
  row "motion search 1024x1024" "OK" "$(grep -o 'kernel [0-9.]* ms, with transfers [0-9.]* ms' "$LOG/bench_yolo11n-640.log" | head -1)"
  curve_rows yolo11n-640
  row "sessions on one GPU" "OK" "$(grep -o '[0-9.]* sessions at 30 fps; device memory: .*' "$LOG/bench_yolo11n-640.log" | head -1 | cut -c1-90)"
fi
peer yolo11n-640 assets/yolo11n-640.onnx
compare yolo11n-640

BIG=${GPU_CHECK_BIG-yolo11m:1024}
if [[ -n "$BIG" ]]; then
  big_model=${BIG%%:*} big_size=${BIG##*:} label="${BIG%%:*}-${BIG##*:}"
  echo "== benchmarks: $label (synthesised, dense)"
  if bench "$label" 180 --synth "$big_model" --imgsz "$big_size" --skip-kernels --skip-motion --sparse --save-onnx "$TMP/$label.onnx"; then
    curve_rows "$label"
    peer "$label" "$TMP/$label.onnx"
  fi
  compare "$label"
fi

if [[ -z "$CLI_WHY" ]]; then
  PLAN="$TMP/yolo11n-640.fsp"
  if timeout "$(budget 60)" "$BUILD/bin/fluxshard" compile assets/yolo11n-640.onnx -o "$PLAN" --quiet >"$LOG/run_cuda.log" 2>&1 &&
     timeout "$(budget 40)" "$BUILD/bin/fluxshard" run "$PLAN" --input assets/bedroom.mp4 --backend cuda --max-frames 30 --quiet \
       >>"$LOG/run_cuda.log" 2>&1 &&
     timeout "$(budget 60)" "$BUILD/bin/fluxshard" run "$PLAN" --input assets/bedroom.mp4 --backend cuda --mode fluxshard \
       --compare-dense --max-frames 30 --quiet >>"$LOG/run_cuda.log" 2>&1; then
    row "fluxshard run --backend cuda" "OK" "$(grep -o '[0-9.]* ms/frame' "$LOG/run_cuda.log" | head -1) dense; fluxshard $(grep -o 'speed-up [0-9.]*x, F1 [0-9.]*' "$LOG/run_cuda.log" | head -1)"
  else
    row "fluxshard run --backend cuda" "FAIL" "$(tail -1 "$LOG/run_cuda.log" | cut -c1-100)"
  fi
else
  row "fluxshard run --backend cuda" "SKIP" "$CLI_WHY"
fi
rm -rf "$TMP"

echo
echo "== summary ($(( $(date +%s) - START )) s; logs in $LOG)"
printf '%-36s %-9s %s\n' "check" "status" "result"
for r in "${ROWS[@]}"; do echo "$r"; done | tee "$LOG/summary.txt"
