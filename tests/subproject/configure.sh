#!/usr/bin/env bash
# Configures tests/subproject (FluxShard through add_subdirectory) in a temporary directory, with the
# compiler and net left out to keep it short; the configure step is where a CMAKE_SOURCE_DIR path breaks.
# usage: configure.sh SOURCE_DIR
set -euo pipefail
src=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake -S "$src/tests/subproject" -B "$tmp" -DFLUXSHARD_SOURCE_DIR="$src" -DFLUXSHARD_CUDA=OFF \
      -DFLUXSHARD_COMPILER=OFF -DFLUXSHARD_NET=OFF >"$tmp/log" 2>&1 || { cat "$tmp/log"; exit 1; }
# Nothing of the subproject's tests or benchmarks comes along.
if grep -q "add_test\|bench_" "$tmp/fluxshard/CTestTestfile.cmake" 2>/dev/null; then
  echo "subproject: the tests were configured"; exit 1
fi
echo "subproject_configure: ok"
