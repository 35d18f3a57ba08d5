# The CUDA backend (docs/cuda.md): the library fluxshard_cuda. Included from the top-level
# CMakeLists.txt after the runtime and the compiler are defined; the CLI, the net library and the tests
# link it where they are defined. Everything here is guarded by FLUXSHARD_CUDA: a CPU-only configuration
# is exactly what it was without this file.
#
#   FLUXSHARD_CUDA              ON when a CUDA compiler is found (check_language), else OFF
#   CMAKE_CUDA_ARCHITECTURES    default "86;87;89;90" (RTX 30, Jetson Orin, Ada, H100); CI uses 90
#   FLUXSHARD_CUDA_LINK_CUBLAS  OFF (default): cuBLAS is loaded at run time when present (dlopen), the
#                               built-in GEMM kernel is used otherwise; ON: link CUDA::cublas
include(CheckLanguage)
if(NOT DEFINED FLUXSHARD_CUDA)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    set(_fx_cuda_default ON)
  else()
    set(_fx_cuda_default OFF)
  endif()
  option(FLUXSHARD_CUDA "Build the CUDA backend" ${_fx_cuda_default})
endif()
option(FLUXSHARD_CUDA_LINK_CUBLAS "Link cuBLAS instead of loading it at run time" OFF)

if(FLUXSHARD_CUDA)
  if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES OR CMAKE_CUDA_ARCHITECTURES STREQUAL "")
    # sm_89 and sm_90 need nvcc 11.8 or newer; older toolkits (JetPack 5: 11.4) get 86;87, whose
    # compute_87 PTX still runs on newer GPUs through the driver's JIT.
    if(NOT CMAKE_CUDA_COMPILER)
      check_language(CUDA)
    endif()
    set(_fx_archs "86;87;89;90")
    if(CMAKE_CUDA_COMPILER)
      execute_process(COMMAND ${CMAKE_CUDA_COMPILER} --version OUTPUT_VARIABLE _fx_nvcc_out ERROR_QUIET)
      if(_fx_nvcc_out MATCHES "release ([0-9]+\\.[0-9]+)")
        if(CMAKE_MATCH_1 VERSION_LESS 11.8)
          set(_fx_archs "86;87")
        endif()
      endif()
    endif()
    set(CMAKE_CUDA_ARCHITECTURES "${_fx_archs}" CACHE STRING "CUDA architectures" FORCE)
  endif()
  enable_language(CUDA)
  find_package(CUDAToolkit REQUIRED)
  set(CMAKE_CUDA_STANDARD 17)
  set(CMAKE_CUDA_STANDARD_REQUIRED ON)
  set(CMAKE_CUDA_EXTENSIONS OFF)
  message(STATUS "fluxshard: CUDA backend ON (nvcc ${CMAKE_CUDA_COMPILER_VERSION}, architectures ${CMAKE_CUDA_ARCHITECTURES})")

  file(GLOB_RECURSE FLUXSHARD_CUDA_SOURCES CONFIGURE_DEPENDS
       ${PROJECT_SOURCE_DIR}/ops/*_cuda.cu ${PROJECT_SOURCE_DIR}/ops/cuda/*.cpp ${PROJECT_SOURCE_DIR}/ops/cuda/*.cu
       ${PROJECT_SOURCE_DIR}/runtime/cuda/*.cpp ${PROJECT_SOURCE_DIR}/runtime/cuda/*.cu)
  add_library(fluxshard_cuda STATIC ${FLUXSHARD_CUDA_SOURCES})
  add_dependencies(fluxshard_cuda fluxshard_schema)
  # The directory's options (add_compile_options) are for the C++ compiler only: nvcc rejects -Wall,
  # -ffp-contract=off, -fsanitize=...; re-add them for the C++ sources alone.
  get_property(_fx_dir_options DIRECTORY ${PROJECT_SOURCE_DIR} PROPERTY COMPILE_OPTIONS)
  set_property(TARGET fluxshard_cuda PROPERTY COMPILE_OPTIONS "")
  foreach(_fx_opt IN LISTS _fx_dir_options)
    target_compile_options(fluxshard_cuda PRIVATE "$<$<COMPILE_LANGUAGE:CXX>:${_fx_opt}>")
  endforeach()
  target_compile_options(fluxshard_cuda PRIVATE
    # Exactness (ops/cuda/common.h): no contraction into FMAs, IEEE division and square root, and
    # denormals flushed to zero like the x86 CPU kernels (ThreadPool runs them with FTZ / DAZ); host
    # code as strict as the C++ side.
    "$<$<COMPILE_LANGUAGE:CUDA>:--fmad=false;-ftz=true;-prec-div=true;-prec-sqrt=true;-lineinfo;-Wno-deprecated-gpu-targets>"
    "$<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra,-Wno-unused-parameter,-ffp-contract=off>")
  set_target_properties(fluxshard_cuda PROPERTIES CUDA_SEPARABLE_COMPILATION OFF CUDA_RUNTIME_LIBRARY Static)
  target_include_directories(fluxshard_cuda PUBLIC ${PROJECT_SOURCE_DIR} ${GEN_DIR})
  target_compile_definitions(fluxshard_cuda PUBLIC FLUXSHARD_HAVE_CUDA=1)
  # Static CUDA runtime: the binaries need only the driver (libcuda.so) on the GPU machine.
  target_link_libraries(fluxshard_cuda PUBLIC fluxshard_runtime CUDA::cudart_static ${CMAKE_DL_LIBS})
  if(FLUXSHARD_CUDA_LINK_CUBLAS)
    target_link_libraries(fluxshard_cuda PUBLIC CUDA::cublas)
    target_compile_definitions(fluxshard_cuda PRIVATE FLUXSHARD_CUBLAS_LINKED=1)
  endif()

  # The runtime's make_device (runtime/backend.cpp) creates CUDA devices: every user of the runtime links
  # the CUDA backend (a cycle of static libraries, which CMake resolves by repeating them).
  target_link_libraries(fluxshard_runtime PUBLIC fluxshard_cuda)

  # GPU benchmark (perf/gpu_check.sh runs it).
  if(FLUXSHARD_COMPILER AND FLUXSHARD_TOP_LEVEL)
    add_executable(bench_gpu ${PROJECT_SOURCE_DIR}/perf/bench_gpu.cpp)
    target_compile_options(bench_gpu PRIVATE -O2)
    target_link_libraries(bench_gpu PRIVATE fluxshard_cuda fluxshard_compiler)
    # --sessions reads the goldens' frames (tests/real_sequence.h: zstd, test_util.h's source paths).
    pkg_check_modules(FxZstdBench REQUIRED IMPORTED_TARGET libzstd)
    target_include_directories(bench_gpu PRIVATE ${PROJECT_SOURCE_DIR}/tests)
    target_compile_definitions(bench_gpu PRIVATE FLUXSHARD_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
                                                 FLUXSHARD_BINARY_DIR="${PROJECT_BINARY_DIR}")
    target_link_libraries(bench_gpu PRIVATE PkgConfig::FxZstdBench)
  endif()
endif()
