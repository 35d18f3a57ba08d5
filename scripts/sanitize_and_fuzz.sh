#!/usr/bin/env bash
# A second build with clang, AddressSanitizer + UBSan and the libFuzzer targets (build-asan/): runs the
# tests under the sanitizers (minus the slowest kernel sweeps, which the Release run covers) and each
# fuzz target (ONNX loader, plan loader, wire protocol, image / video headers) for a bounded time.
# Called by scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
# Four targets at 45 s each: the same three minutes of fuzzing as three at 60 s.
fuzz_seconds=${FLUXSHARD_FUZZ_SECONDS:-45}
CC=clang CXX=clang++ cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFLUXSHARD_SANITIZE=ON \
  -DFLUXSHARD_FUZZ=ON -DFLUXSHARD_CUDA=OFF >/dev/null
cmake --build build-asan -j "$jobs"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir build-asan --output-on-failure -j "$jobs" -E '^(test_conv|test_conv_transpose|test_synth|test_no_alloc)$'

corpus=build-asan/fuzz-corpus
mkdir -p "$corpus/onnx" "$corpus/plan" "$corpus/wire" "$corpus/media"
build-asan/bin/make_fuzz_seeds "$corpus/onnx" "$corpus/plan" "$corpus/wire" "$corpus/media"
for target in onnx_loader plan_loader wire media; do
  dir=$corpus/${target%_loader}
  echo "fuzz_$target: ${fuzz_seconds} s"
  # No single allocation over 1 GiB: a size taken from a file's claim without a check shows up here.
  build-asan/bin/fuzz_$target -max_total_time="$fuzz_seconds" -rss_limit_mb=2048 -malloc_limit_mb=1024 \
    -print_final_stats=1 "$dir" \
    >"build-asan/fuzz_$target.log" 2>&1 || { tail -n 40 "build-asan/fuzz_$target.log"; exit 1; }
  grep -E "^stat::number_of_executed_units" "build-asan/fuzz_$target.log" || true
done
