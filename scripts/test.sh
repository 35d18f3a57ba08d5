#!/usr/bin/env bash
# Sets up, builds and runs every test (CTest), then the kernel tests and one whole model cross-built for
# aarch64 under qemu-user (scripts/cross_aarch64.sh), then the same tests under AddressSanitizer/UBSan
# and a bounded fuzz run of the ONNX loader, the plan loader, the wire protocol and image / video headers
# (scripts/sanitize_and_fuzz.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
# CI and tests build CUDA (when nvcc exists) for one architecture only, to keep the build short.
scripts/setup.sh -DCMAKE_CUDA_ARCHITECTURES=90
ctest --test-dir build --output-on-failure -j "$(nproc 2>/dev/null || echo 2)"
scripts/cross_aarch64.sh build
scripts/sanitize_and_fuzz.sh
