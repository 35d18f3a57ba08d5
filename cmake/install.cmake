# `cmake --install BUILD [--prefix P]` (FLUXSHARD_INSTALL): libfluxshard (shared and static), the
# headers, a CMake package (find_package(FluxShard) -> FluxShard::fluxshard, FluxShard::fluxshard_static),
# a pkg-config file (fluxshard.pc) and the command-line tools. Every installed path is relative to the
# prefix, so --prefix at install time works (tests/install_test.sh installs into a temporary one).
include(CMakePackageConfigHelpers)

set(FX_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/FluxShard)
install(TARGETS fluxshard_shared fluxshard_static EXPORT FluxShardTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${PROJECT_SOURCE_DIR}/include/fluxshard/fluxshard.h ${PROJECT_SOURCE_DIR}/include/fluxshard/fluxshard.hpp
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/fluxshard)
install(EXPORT FluxShardTargets NAMESPACE FluxShard:: DESTINATION ${FX_CMAKE_DIR})
if(TARGET fluxshard_cuda)
  set(FX_CONFIG_HAS_CUDA ON)
else()
  set(FX_CONFIG_HAS_CUDA OFF)
endif()
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/FluxShardConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/FluxShardConfig.cmake INSTALL_DESTINATION ${FX_CMAKE_DIR})
# The C API only grows (functions and fields are added, never renamed or removed): any later version
# with the same major number serves.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/FluxShardConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/FluxShardConfig.cmake ${PROJECT_BINARY_DIR}/FluxShardConfigVersion.cmake
        DESTINATION ${FX_CMAKE_DIR})

# fluxshard.pc: the prefix is found from the file's own place (${pcfiledir}), so the file stays right
# whatever --prefix the install gets. Static linking (pkg-config --static) adds what the runtime uses.
file(RELATIVE_PATH FX_PC_TO_PREFIX /${CMAKE_INSTALL_LIBDIR}/pkgconfig /)
string(REGEX REPLACE "/$" "" FX_PC_TO_PREFIX "${FX_PC_TO_PREFIX}")
set(FX_PC_REQUIRES_PRIVATE "")
if(FLUXSHARD_FFMPEG)
  set(FX_PC_REQUIRES_PRIVATE "libavformat libavcodec libswscale libavutil")
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/fluxshard.pc.in ${PROJECT_BINARY_DIR}/fluxshard.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/fluxshard.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

foreach(tool fluxshard fluxshard-edge)
  if(TARGET ${tool})
    install(TARGETS ${tool} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  endif()
endforeach()
