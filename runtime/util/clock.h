// Wall-clock stage timing for reports (steady clock, milliseconds).
#pragma once

#include <chrono>

namespace fx {

using Clock = std::chrono::steady_clock;

inline double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

}  // namespace fx
