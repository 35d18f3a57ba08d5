#!/usr/bin/env bash
# Sets up, builds and runs every test (CTest), then the same tests under AddressSanitizer/UBSan and a
# bounded fuzz run of the ONNX loader, the plan loader, the wire protocol and image / video headers
# (scripts/sanitize_and_fuzz.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
# CI and tests build CUDA (when nvcc exists) for one architecture only, to keep the build short.
scripts/setup.sh -DCMAKE_CUDA_ARCHITECTURES=90
ctest --test-dir build --output-on-failure -j "$(nproc 2>/dev/null || echo 2)"
scripts/sanitize_and_fuzz.sh
