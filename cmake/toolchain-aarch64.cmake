# Cross build for 64-bit ARM Linux with Debian's cross compiler (g++-aarch64-linux-gnu) and the arm64
# multiarch library packages (libmimalloc-dev:arm64 ... in /usr/lib/aarch64-linux-gnu); scripts/
# cross_aarch64.sh installs them and builds. Host tools (flatc) come from the build machine.
#   cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64.cmake \
#         -DFLUXSHARD_FFMPEG=OFF -DFLUXSHARD_COMPILER=OFF -DFLUXSHARD_NET=OFF -DFLUXSHARD_CUDA=OFF
# ctest runs the tests under qemu-user (CMAKE_CROSSCOMPILING_EMULATOR); by hand:
#   qemu-aarch64 build-aarch64/bin/test_conv
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
# Debian multiarch, no sysroot: libraries and CMake package files are found under lib/aarch64-linux-gnu
# of /usr (never the host's lib/x86_64-linux-gnu), programs (flatc) on the host, and headers in
# /usr/include, which every architecture shares (the cross compiler searches it last). Header-only
# packages with arch-independent config files (Catch2 2.x in /usr/lib/cmake) are used as they are.
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
# pkg-config reads the arm64 .pc files only.
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig)
set(ENV{PKG_CONFIG_PATH} "")
# No -L /usr/aarch64-linux-gnu: the multiarch packages bring libc6:arm64, and the cross glibc's loader
# there would then load the multiarch libc.so.6 of another build (GLIBC_PRIVATE mismatch: tests hung).
# Without a prefix, qemu runs the multiarch /lib/ld-linux-aarch64.so.1 with its own libraries.
find_program(FLUXSHARD_QEMU_AARCH64 qemu-aarch64)
if(FLUXSHARD_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${FLUXSHARD_QEMU_AARCH64})
endif()
