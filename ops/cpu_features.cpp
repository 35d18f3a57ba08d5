#include "ops/cpu_features.h"

#include <cstdlib>
#include <cstring>

#if defined(__aarch64__) && defined(__linux__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

namespace fx {

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = [] {
    CpuFeatures r;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    r.avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    r.avx512 = r.avx2_fma && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
#elif defined(__aarch64__) && defined(__linux__)
    // ASIMD is part of the aarch64 base architecture, but the kernel says so: ask it like x86 asks CPUID.
    r.neon = (getauxval(AT_HWCAP) & HWCAP_ASIMD) != 0;
#elif defined(__aarch64__)
    r.neon = true;
#endif
    return r;
  }();
  return f;
}

CpuIsa best_isa() {
  const CpuFeatures& f = cpu_features();
  CpuIsa isa = f.avx512 ? CpuIsa::Avx512 : f.avx2_fma ? CpuIsa::Avx2 : f.neon ? CpuIsa::Neon : CpuIsa::Generic;
  if (const char* want = std::getenv("FLUXSHARD_ISA")) {
    if (std::strcmp(want, "generic") == 0) isa = CpuIsa::Generic;
    if (std::strcmp(want, "avx2") == 0 && isa == CpuIsa::Avx512) isa = CpuIsa::Avx2;
  }
  return isa;
}

const char* isa_name(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::Avx512: return "avx512";
    case CpuIsa::Avx2: return "avx2";
    case CpuIsa::Neon: return "neon";
    case CpuIsa::Generic: return "generic";
  }
  return "?";
}

std::vector<CpuIsa> supported_isas() {
  const CpuFeatures& f = cpu_features();
  std::vector<CpuIsa> v{CpuIsa::Generic};
  if (f.avx2_fma) v.push_back(CpuIsa::Avx2);
  if (f.avx512) v.push_back(CpuIsa::Avx512);
  if (f.neon) v.push_back(CpuIsa::Neon);
  return v;
}

}  // namespace fx
