# net/: the edge <-> cloud transport (libuv), wire codec (schema/wire.fbs), block payload codecs (zstd,
# LZ4, libjpeg-turbo), shaping, estimation, scheduling, the server and the edge client: the library
# fluxshard_net. Included from the top-level CMakeLists.txt (FLUXSHARD_NET) after cmake/cuda.cmake; the
# CLI and the tests link it where they are defined. It needs no FFmpeg and no protobuf.
pkg_check_modules(FXNET_UV REQUIRED IMPORTED_TARGET libuv)
pkg_check_modules(FXNET_ZSTD REQUIRED IMPORTED_TARGET libzstd)
pkg_check_modules(FXNET_LZ4 REQUIRED IMPORTED_TARGET liblz4)
pkg_check_modules(FXNET_JPEG REQUIRED IMPORTED_TARGET libturbojpeg)

file(GLOB NET_SOURCES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/net/*.cpp)
add_library(fluxshard_net STATIC ${NET_SOURCES} ${FBS_HEADERS})
add_dependencies(fluxshard_net fluxshard_schema)
target_include_directories(fluxshard_net PUBLIC ${PROJECT_SOURCE_DIR} ${GEN_DIR})
target_link_libraries(fluxshard_net PUBLIC fluxshard_runtime PkgConfig::FXNET_UV PkgConfig::FXNET_ZSTD
                      PkgConfig::FXNET_LZ4 PkgConfig::FXNET_JPEG Threads::Threads)
# `serve --backend cuda` (cmake/cuda.cmake defines fluxshard_cuda with FLUXSHARD_HAVE_CUDA when CUDA is on).
if(TARGET fluxshard_cuda)
  target_link_libraries(fluxshard_net PUBLIC fluxshard_cuda)
endif()
