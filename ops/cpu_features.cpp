#include "ops/cpu_features.h"

#include <cstdlib>
#include <cstring>

namespace fx {

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = [] {
    CpuFeatures r;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    r.avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    r.avx512 = r.avx2_fma && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
#endif
    return r;
  }();
  return f;
}

CpuIsa best_isa() {
  const CpuFeatures& f = cpu_features();
  CpuIsa isa = f.avx512 ? CpuIsa::Avx512 : f.avx2_fma ? CpuIsa::Avx2 : CpuIsa::Generic;
  if (const char* want = std::getenv("FLUXSHARD_ISA")) {
    CpuIsa cap = isa;
    if (std::strcmp(want, "generic") == 0) cap = CpuIsa::Generic;
    if (std::strcmp(want, "avx2") == 0) cap = CpuIsa::Avx2;
    if (static_cast<int>(cap) < static_cast<int>(isa)) isa = cap;
  }
  return isa;
}

const char* isa_name(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::Avx512: return "avx512";
    case CpuIsa::Avx2: return "avx2";
    case CpuIsa::Generic: return "generic";
  }
  return "?";
}

}  // namespace fx
