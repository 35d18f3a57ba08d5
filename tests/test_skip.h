// Test cases that cannot run on this machine (no CUDA device, the shared clips absent) skip with
// FX_SKIP(why): a warning, and the case returns. The binary then exits with kSkipExitCode when nothing
// failed (catch_main.cpp), which CTest reports as "Skipped" (SKIP_RETURN_CODE, tests/CMakeLists.txt), so
// a green run without a GPU never reads as "GPU verified". Catch2 2.x has no SKIP() of its own.
#pragma once

#include <atomic>

namespace fx::test {

constexpr int kSkipExitCode = 77;
std::atomic<int>& skipped_cases();  // catch_main.cpp

}  // namespace fx::test

#define FX_SKIP(why)                          \
  do {                                        \
    ::fx::test::skipped_cases().fetch_add(1); \
    WARN("skipped: " << why);                 \
    return;                                   \
  } while (0)
