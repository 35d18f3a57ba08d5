#!/usr/bin/env bash
# Cross-builds the runtime and its kernel tests for aarch64 (cmake/toolchain-aarch64.cmake, Debian's
# cross compiler and arm64 multiarch libraries) and runs them under qemu-user: every op test (each ISA
# of the emulated CPU, NEON included, against the naive references) and one whole model from a plan the
# host compiled (test_model_plan). Called by scripts/test.sh after the host build.
#   scripts/cross_aarch64.sh [HOST_BUILD_DIR]   (default build; its bin/fluxshard compiles the plan)
# Kernel timings under qemu are not ARM timings: perf/bench_isa_ops prints emulated ratios only.
set -euo pipefail
cd "$(dirname "$0")/.."
host_build=${1:-build}
out=build-aarch64
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

# Debian packages (installed only when missing): the cross compiler, qemu-user, and the runtime's
# libraries for arm64. Catch2 2.x is header-only (the host's package serves), flatc runs on the host.
packages=(g++-aarch64-linux-gnu qemu-user libmimalloc-dev:arm64 libflatbuffers-dev:arm64 libzstd-dev:arm64)
update=0
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  $SUDO dpkg --add-architecture arm64
  update=1
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "cross_aarch64: installing ${missing[*]}"
  update=1
fi
if [ $update -eq 1 ]; then
  $SUDO apt-get update -qq
  [ ${#missing[@]} -eq 0 ] ||
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The runtime alone (no FFmpeg, compiler, transport or CLI), and only the targets that run below.
launcher=()
command -v ccache >/dev/null 2>&1 && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
cmake -S . -B "$out" -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64.cmake -DCMAKE_BUILD_TYPE=Release \
  -DFLUXSHARD_FFMPEG=OFF -DFLUXSHARD_COMPILER=OFF -DFLUXSHARD_NET=OFF -DFLUXSHARD_CLI=OFF -DFLUXSHARD_CUDA=OFF \
  -DFLUXSHARD_TEST_PLAN_DIR="$PWD/$out/plans" "${launcher[@]}" >/dev/null
tests=(test_conv test_conv_transpose test_elementwise test_maxpool test_softmax test_matmul test_resize
       test_shape_ops test_sad test_model_plan)
jobs=$(nproc 2>/dev/null || echo 2)
cmake --build "$out" -j "$jobs" --target "${tests[@]}"

# The plan, compiled on the host (the .fsp format does not depend on the machine).
mkdir -p "$out/plans"
"$host_build/bin/fluxshard" compile assets/yolo11n-320.onnx -o "$out/plans/yolo11n-320.fsp" --quiet

# ctest runs each under qemu-aarch64 (the toolchain's CMAKE_CROSSCOMPILING_EMULATOR).
regex="^($(IFS='|'; echo "${tests[*]}"))\$"
ctest --test-dir "$out" --output-on-failure -j "$jobs" -R "$regex"
