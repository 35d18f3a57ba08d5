// Device checks shared by the CUDA executor, the tests and the benchmarks.
#pragma once

#include <string>

namespace fx::cuda {

// Empty when `device` exists and runs this build's kernels (a trivial kernel is launched and awaited);
// otherwise one line saying why (no driver / insufficient driver, no device, no kernel image for the
// device's architecture, ...). Clears the error state it caused.
std::string probe_device(int device = 0);

// "NVIDIA H100 80GB HBM3 (sm_90, 132 SMs, 79.1 GiB)".
std::string describe_device(int device = 0);

// Measured ceilings of `device` (benchmarks): fp32 FMA throughput in TFLOP/s (8 independent fma
// chains per thread, 8 blocks of 256 threads per SM) and device-to-device copy bandwidth in GB/s
// (read + write bytes of a 512 MiB float4 copy). Medians of 5 runs after a warm-up.
double measure_fma_tflops(int device = 0);
double measure_copy_gbps(int device = 0);

}  // namespace fx::cuda
