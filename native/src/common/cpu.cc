#include "common/cpu.h"

#include <cstdlib>
#include <cstring>

#if BITSMITH_X86 && defined(_MSC_VER) && !defined(__clang__)
#include <immintrin.h>
#include <intrin.h>
#endif

namespace bitsmith {
namespace {
bool disabledByEnv() {
  const char* off = std::getenv("BITSMITH_NO_AVX2");
  return off && *off && std::strcmp(off, "0") != 0;
}

#if BITSMITH_X86 && (defined(__GNUC__) || defined(__clang__))
bool supports(const char* feature) {
  __builtin_cpu_init();
  // __builtin_cpu_supports wants a literal: the three features this file asks about.
  if (std::strcmp(feature, "avx2") == 0) return __builtin_cpu_supports("avx2") != 0;
  if (std::strcmp(feature, "bmi2") == 0) return __builtin_cpu_supports("bmi2") != 0;
  if (std::strcmp(feature, "fma") == 0) return __builtin_cpu_supports("fma") != 0;
  return false;
}
#elif BITSMITH_X86 && defined(_MSC_VER)
// CPUID bits, with the OS saving the YMM registers (OSXSAVE and XCR0 bits 1-2) for AVX.
bool supports(const char* feature) {
  int r1[4], r7[4];
  __cpuid(r1, 0);
  const int maxLeaf = r1[0];
  __cpuid(r1, 1);
  if (maxLeaf >= 7) {
    __cpuidex(r7, 7, 0);
  } else {
    r7[0] = r7[1] = r7[2] = r7[3] = 0;
  }
  const bool osYmm = (r1[2] & (1 << 27)) && (_xgetbv(0) & 6) == 6;
  if (std::strcmp(feature, "avx2") == 0) return osYmm && (r7[1] & (1 << 5));
  if (std::strcmp(feature, "bmi2") == 0) return (r7[1] & (1 << 8)) != 0;
  if (std::strcmp(feature, "fma") == 0) return osYmm && (r1[2] & (1 << 12));
  return false;
}
#else
bool supports(const char*) {
  return false;
}
#endif
}  // namespace

bool cpuHasAvx2() {
  static const bool has = !disabledByEnv() && supports("avx2");
  return has;
}
bool cpuHasBmi2() {
  static const bool has = !disabledByEnv() && supports("bmi2");
  return has;
}
bool cpuHasAvx2Fma() {
  static const bool has = cpuHasAvx2() && supports("fma");
  return has;
}
}  // namespace bitsmith
