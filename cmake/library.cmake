# libfluxshard: the C API (include/fluxshard/fluxshard.h, runtime/c_api.cpp) over the runtime, as a
# shared and a static library. Included from the top-level CMakeLists.txt after the runtime (and the
# CUDA backend) are defined.
#
#   fluxshard_shared  libfluxshard.so.MAJOR: exports the fx_* functions and nothing else (hidden
#                     visibility, FX_API on the declarations, cmake/fluxshard.map as version script);
#                     runtime, kernels, mimalloc and FFmpeg are linked in privately.
#   fluxshard_static  libfluxshard.a: the C API's object plus every runtime and kernel object (the
#                     objects the runtime's own archives are made of, not recompiled); a program
#                     linking it also links what the runtime uses (threads, mimalloc, FFmpeg).
#   fluxshard_capi    (not installed) the C API over fluxshard_runtime, for the tests.
# In the build tree they are also FluxShard::fluxshard and FluxShard::fluxshard_static, the names the
# installed CMake package gives them (cmake/install.cmake), so add_subdirectory() / FetchContent users
# write the same thing as find_package() users.

set(FX_CAPI_SOURCES ${PROJECT_SOURCE_DIR}/runtime/c_api.cpp)
set(FX_CAPI_MAP ${PROJECT_SOURCE_DIR}/cmake/fluxshard.map)

add_library(fluxshard_shared SHARED ${FX_CAPI_SOURCES})
target_link_libraries(fluxshard_shared PRIVATE fluxshard_runtime)
if(TARGET fluxshard_cuda)
  target_link_libraries(fluxshard_shared PRIVATE fluxshard_cuda)
endif()
target_include_directories(fluxshard_shared INTERFACE
  $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include> $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
# Only the C API leaves the library: -fvisibility=hidden for its own code, and the version script for
# everything linked in (the runtime's objects, and the std:: template instances, which libstdc++'s
# headers mark visible). --no-undefined: a missing dependency fails here, not in a user's program.
set_target_properties(fluxshard_shared PROPERTIES
  OUTPUT_NAME fluxshard VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR}
  C_VISIBILITY_PRESET hidden CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON
  LINK_DEPENDS ${FX_CAPI_MAP} EXPORT_NAME fluxshard)
target_link_options(fluxshard_shared PRIVATE LINKER:--version-script=${FX_CAPI_MAP})
if(NOT FLUXSHARD_SANITIZE AND NOT FLUXSHARD_FUZZ)
  # (Instrumented builds leave the sanitizer runtime's symbols to the executable.)
  target_link_options(fluxshard_shared PRIVATE LINKER:--no-undefined)
endif()

add_library(fluxshard_static STATIC ${FX_CAPI_SOURCES}
            $<TARGET_OBJECTS:fluxshard_runtime> $<TARGET_OBJECTS:fluxshard_ops>)
add_dependencies(fluxshard_static fluxshard_schema)
target_include_directories(fluxshard_static
  PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include> $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>
  PRIVATE $<TARGET_PROPERTY:fluxshard_runtime,INTERFACE_INCLUDE_DIRECTORIES>)
target_compile_definitions(fluxshard_static PRIVATE $<TARGET_PROPERTY:fluxshard_runtime,INTERFACE_COMPILE_DEFINITIONS>)
# What the runtime's objects call: the same libraries fluxshard_runtime links, named so that the
# installed package can find them again (cmake/FluxShardConfig.cmake.in).
target_link_libraries(fluxshard_static PUBLIC Threads::Threads mimalloc)
if(FLUXSHARD_FFMPEG)
  target_link_libraries(fluxshard_static PUBLIC PkgConfig::FxFFmpeg)
endif()
if(TARGET fluxshard_cuda)
  target_sources(fluxshard_static PRIVATE $<TARGET_OBJECTS:fluxshard_cuda>)
  target_link_libraries(fluxshard_static PUBLIC CUDA::cudart_static ${CMAKE_DL_LIBS})
endif()
set_target_properties(fluxshard_static PROPERTIES OUTPUT_NAME fluxshard EXPORT_NAME fluxshard_static)

# The C API over the runtime's own archive, for programs that also call the runtime's C++ directly
# (tests/test_c_api.cpp compares the two): one copy of the runtime in the program.
add_library(fluxshard_capi STATIC ${FX_CAPI_SOURCES})
target_link_libraries(fluxshard_capi PUBLIC fluxshard_runtime)
if(TARGET fluxshard_cuda)
  target_link_libraries(fluxshard_capi PUBLIC fluxshard_cuda)
endif()

add_library(FluxShard::fluxshard ALIAS fluxshard_shared)
add_library(FluxShard::fluxshard_static ALIAS fluxshard_static)
