// Which vector extensions the running CPU has; kernels pick their micro-kernels from this at run time
// so one binary serves every x86-64 machine (AVX2, AVX-512) and every aarch64 one (NEON).
#pragma once

#include <vector>

namespace fx {

enum class CpuIsa { Generic = 0, Avx2 = 1, Avx512 = 2, Neon = 3 };

struct CpuFeatures {
  bool avx2_fma = false;  // AVX2 + FMA3
  bool avx512 = false;    // AVX-512 F, BW, DQ, VL
  bool neon = false;      // aarch64 Advanced SIMD (ASIMD in the kernel's hardware capabilities)
};

const CpuFeatures& cpu_features();

// The best ISA this CPU supports, lowered by the FLUXSHARD_ISA environment variable ("generic",
// "avx2"; other names leave it as it is) so tests can exercise every path on one machine.
CpuIsa best_isa();
const char* isa_name(CpuIsa isa);

// Every ISA this CPU runs, Generic first: what the kernel tests iterate over.
std::vector<CpuIsa> supported_isas();

}  // namespace fx
