#!/usr/bin/env bash
# Installs the build into a temporary prefix, builds examples/ against the installed package (CMake with
# the shared library, CMake with the static one, and pkg-config), and checks that the C example's
# detections equal `fluxshard run`'s on the same frames (dense and fluxshard mode), and that the C++
# example sees as many detections. Registered in CTest as install_examples.
#
# usage: install_test.sh SOURCE_DIR BUILD_DIR PYTHON
set -euo pipefail
src=$1 build=$2 python=$3
frames=6
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

cmake --install "$build" --prefix "$prefix" >/dev/null
pc=$(find "$prefix" -name fluxshard.pc)
[ -n "$pc" ] || { echo "no fluxshard.pc installed"; exit 1; }
# The shared library exports the C API and nothing else.
so=$(find "$prefix" -name 'libfluxshard.so.*.*.*')
exported=$(nm -D --defined-only "$so" | awk '{print $3}')
others=$(echo "$exported" | grep -v '^fx_' || true)
[ -z "$others" ] || { echo "libfluxshard.so exports more than the C API:"; echo "$others" | head; exit 1; }
echo "$exported" | grep -qx fx_video_open || { echo "libfluxshard.so lacks fx_video_open"; exit 1; }

# CMake: find_package(FluxShard), shared then static.
for kind in shared static; do
  static=OFF
  [ $kind = static ] && static=ON
  cmake -S "$src/examples" -B "$tmp/cmake-$kind" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" \
        -DFLUXSHARD_EXAMPLES_STATIC=$static >"$tmp/cmake-$kind.log" 2>&1 || { cat "$tmp/cmake-$kind.log"; exit 1; }
  cmake --build "$tmp/cmake-$kind" >>"$tmp/cmake-$kind.log" 2>&1 || { cat "$tmp/cmake-$kind.log"; exit 1; }
done
# The static build carries no libfluxshard.so dependency.
if readelf -d "$tmp/cmake-static/detect_video" | grep -q 'libfluxshard'; then
  echo "the static example links libfluxshard.so"; exit 1
fi

# pkg-config.
export PKG_CONFIG_PATH=$(dirname "$pc")
mkdir -p "$tmp/pc"
libdir=$(pkg-config --variable=libdir fluxshard)
cc -O2 -o "$tmp/pc/detect_video" "$src/examples/detect_video.c" $(pkg-config --cflags --libs fluxshard) -Wl,-rpath,"$libdir"
c++ -std=c++17 -O2 -o "$tmp/pc/detect_video_cpp" "$src/examples/detect_video.cpp" \
    $(pkg-config --cflags --libs fluxshard) -Wl,-rpath,"$libdir"

# The same frames through the installed CLI and through each example.
clip=$src/assets/bedroom.mp4
"$prefix/bin/fluxshard" compile "$src/assets/yolo11n-320.onnx" -o "$tmp/m.fsp" --quiet
for mode in dense fluxshard; do
  "$prefix/bin/fluxshard" run "$tmp/m.fsp" --input "$clip" --mode $mode --max-frames $frames --threads 2 \
      --quiet --json "$tmp/cli-$mode.jsonl" >/dev/null
  for exe in cmake-shared/detect_video cmake-static/detect_video pc/detect_video; do
    "$tmp/$exe" "$tmp/m.fsp" "$clip" --mode $mode --max-frames $frames --threads 2 >"$tmp/out.jsonl"
    echo -n "$exe --mode $mode: "
    "$python" "$src/tests/compare_detections.py" "$tmp/cli-$mode.jsonl" "$tmp/out.jsonl" $frames
  done
  # The C++ example's total equals the CLI's.
  want=$(grep -o '"cls":' "$tmp/cli-$mode.jsonl" | wc -l)
  for exe in cmake-shared/detect_video_cpp pc/detect_video_cpp; do
    got=$("$tmp/$exe" "$tmp/m.fsp" "$clip" $mode $frames | sed -n 's/^frames [0-9]* detections \([0-9]*\) .*/\1/p')
    [ "$got" = "$want" ] || { echo "$exe $mode: $got detections, the CLI $want"; exit 1; }
  done
done
echo "install_examples: ok"
