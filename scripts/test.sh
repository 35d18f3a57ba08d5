#!/usr/bin/env bash
# Sets up, builds and runs every test (CTest), then the same tests under AddressSanitizer/UBSan and a
# bounded fuzz run of the ONNX and plan loaders (scripts/sanitize_and_fuzz.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
ctest --test-dir build --output-on-failure -j "$(nproc 2>/dev/null || echo 2)"
scripts/sanitize_and_fuzz.sh
