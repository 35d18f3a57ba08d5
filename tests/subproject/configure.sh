#!/usr/bin/env bash
# Configures tests/subproject (FluxShard through add_subdirectory, default options) in a temporary
# directory: the configure step is where a CMAKE_SOURCE_DIR path breaks.
# usage: configure.sh SOURCE_DIR
set -euo pipefail
src=$1
# The project's CMake files use no ${CMAKE_SOURCE_DIR} / ${CMAKE_BINARY_DIR} path.
bad=$(grep -HnF -e '${CMAKE_SOURCE_DIR}' -e '${CMAKE_BINARY_DIR}' "$src/CMakeLists.txt" "$src"/cmake/*.cmake \
      "$src"/*/CMakeLists.txt || true)
[ -z "$bad" ] || { echo "paths relative to the top-level project instead of this one:"; echo "$bad"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake -S "$src/tests/subproject" -B "$tmp" -DFLUXSHARD_SOURCE_DIR="$src" -DFLUXSHARD_CUDA=OFF \
      >"$tmp/log" 2>&1 || { cat "$tmp/log"; exit 1; }
echo "subproject_configure: ok"
