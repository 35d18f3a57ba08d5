// Which x86 vector extensions the running CPU has; kernels pick their micro-kernels from this at run
// time so one binary serves every x86-64 machine.
#pragma once

namespace fx {

enum class CpuIsa { Generic = 0, Avx2 = 1, Avx512 = 2 };

struct CpuFeatures {
  bool avx2_fma = false;  // AVX2 + FMA3
  bool avx512 = false;    // AVX-512 F, BW, DQ, VL
};

const CpuFeatures& cpu_features();

// The best ISA this CPU supports, lowered by the FLUXSHARD_ISA environment variable
// ("generic", "avx2", "avx512") so tests can exercise every path on one machine.
CpuIsa best_isa();
const char* isa_name(CpuIsa isa);

}  // namespace fx
