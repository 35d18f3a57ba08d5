#!/usr/bin/env bash
# Installs the Debian packages FluxShard needs (idempotent: apt-get runs only when one is missing) and
# builds the project in build/ (Release). Usage: scripts/setup.sh [extra cmake -D options]
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake pkg-config git
  libprotobuf-dev protobuf-compiler libonnx-dev        # ONNX parsing (onnx.proto from libonnx-dev)
  flatbuffers-compiler libflatbuffers-dev              # plan and wire formats
  libmimalloc-dev                                      # host allocation
  libxxhash-dev                                        # plan checksums (XXH3)
  libavformat-dev libavcodec-dev libswscale-dev libavutil-dev   # video decoding / encoding
  libuv1-dev libzstd-dev liblz4-dev libturbojpeg0-dev  # edge <-> cloud transport and block codecs
  catch2                                               # tests
  python3-numpy python3-pytest python3-pip python3-setuptools  # the Python package (python/) and its tests
  clang libclang-rt-14-dev                             # libFuzzer targets
)
# Node.js only serves the ONNX Runtime reference in perf/ and tests/goldens/ (not the build or tests);
# take Debian's when there is none at all.
command -v node >/dev/null 2>&1 || packages+=(nodejs npm)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build build -j "$jobs"
