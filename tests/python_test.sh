#!/usr/bin/env bash
# The Python package: `pip install .` from the repository with Debian's tools (no index, no build
# isolation, the library of this build bundled) into a temporary directory, then its pytest tests
# (python/tests: detections and masks equal to the CLI's). Registered in CTest as python_package.
#
# usage: python_test.sh SOURCE_DIR BUILD_DIR PYTHON
set -euo pipefail
src=$1 build=$2 python=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$src"
FLUXSHARD_LIBRARY=$build/lib/libfluxshard.so "$python" -m pip install --quiet --no-build-isolation --no-index \
  --no-deps --target "$tmp/site" . >"$tmp/pip.log" 2>&1 || { cat "$tmp/pip.log"; exit 1; }
# The installed package, not the source tree's python/ folder.
cd "$tmp"
PYTHONPATH=$tmp/site FLUXSHARD_SOURCE_DIR=$src FLUXSHARD_CLI=$build/bin/fluxshard \
  "$python" -m pytest -q -p no:cacheprovider "$src/python/tests"
