# cli/: the command-line tools (FLUXSHARD_CLI). Included from the top-level CMakeLists.txt after the
# libraries are defined.
#
# Every command's code is in one static library, fluxshard_cli_commands (cli/cmd_NAME.cpp and the
# helpers they share). Each binary compiles cli/main.cpp and cli/commands.cpp (the command table) with
# FX_CLI_<NAME> defined for each command it carries; the table then references only those commands, so
# the linker takes only their objects (and the libraries they need) from the archive.
#
#   fluxshard       every command this configuration can build
#   fluxshard-edge  inspect, run, edge: runtime + net + video input; no compiler, no protobuf
#                   (needs FLUXSHARD_FFMPEG; carries `edge` with FLUXSHARD_NET)

# The commands this configuration can build (what each needs beyond the runtime).
set(FX_CLI_AVAILABLE inspect dump)
if(FLUXSHARD_COMPILER)
  list(APPEND FX_CLI_AVAILABLE compile synth)
endif()
if(FLUXSHARD_FFMPEG)
  list(APPEND FX_CLI_AVAILABLE run bench letterbox)
  if(FLUXSHARD_COMPILER)
    list(APPEND FX_CLI_AVAILABLE profile)
  endif()
  if(FLUXSHARD_NET)
    list(APPEND FX_CLI_AVAILABLE edge)
  endif()
endif()
if(FLUXSHARD_NET)
  list(APPEND FX_CLI_AVAILABLE serve)
endif()

# The library: the shared helpers (every cli/*.cpp that is not a command, the table or main) and the
# available commands.
file(GLOB _fx_cli_helpers CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/cli/*.cpp)
list(FILTER _fx_cli_helpers EXCLUDE REGEX "/cli/(cmd_[a-z_]*|main|commands)\\.cpp$")
set(_fx_cli_sources ${_fx_cli_helpers})
foreach(c ${FX_CLI_AVAILABLE})
  list(APPEND _fx_cli_sources ${PROJECT_SOURCE_DIR}/cli/cmd_${c}.cpp)
endforeach()
add_library(fluxshard_cli_commands STATIC ${_fx_cli_sources})
target_link_libraries(fluxshard_cli_commands PUBLIC fluxshard_runtime)
if(TARGET fluxshard_cuda)
  target_link_libraries(fluxshard_cli_commands PUBLIC fluxshard_cuda)
endif()
# The compiler's and net's headers only: a binary links those libraries when it carries a command
# that needs them (fluxshard_cli_binary below).
foreach(lib fluxshard_compiler fluxshard_net)
  if(TARGET ${lib})
    target_include_directories(fluxshard_cli_commands PRIVATE $<TARGET_PROPERTY:${lib},INTERFACE_INCLUDE_DIRECTORIES>)
  endif()
endforeach()

# fluxshard_cli_binary(TARGET PROGRAM COMMAND...): an executable named TARGET that calls itself PROGRAM
# in its messages and carries the listed commands (those not available here are left out).
function(fluxshard_cli_binary target program)
  add_executable(${target} ${PROJECT_SOURCE_DIR}/cli/main.cpp ${PROJECT_SOURCE_DIR}/cli/commands.cpp)
  target_compile_definitions(${target} PRIVATE FX_CLI_PROGRAM="${program}")
  target_link_libraries(${target} PRIVATE fluxshard_cli_commands)
  set(carried)
  foreach(c ${ARGN})
    if(c IN_LIST FX_CLI_AVAILABLE)
      list(APPEND carried ${c})
      string(TOUPPER ${c} upper)
      target_compile_definitions(${target} PRIVATE FX_CLI_${upper}=1)
    endif()
  endforeach()
  if(carried MATCHES "(^|;)(compile|synth|profile)(;|$)")
    target_link_libraries(${target} PRIVATE fluxshard_compiler)
  endif()
  if(carried MATCHES "(^|;)(serve|edge)(;|$)")
    target_link_libraries(${target} PRIVATE fluxshard_net)
  endif()
  set_property(TARGET ${target} PROPERTY FLUXSHARD_COMMANDS "${carried}")
endfunction()

fluxshard_cli_binary(fluxshard fluxshard ${FX_CLI_AVAILABLE})
if(FLUXSHARD_FFMPEG)
  fluxshard_cli_binary(fluxshard-edge fluxshard-edge inspect run edge)
endif()
