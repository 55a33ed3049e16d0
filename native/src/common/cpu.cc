#include "common/cpu.h"

#include <cstdlib>
#include <cstring>

namespace bitsmith {
bool cpuHasAvx2() {
  static const bool has = [] {
    const char* off = std::getenv("BITSMITH_NO_AVX2");
    if (off && *off && std::strcmp(off, "0") != 0) return false;
#if BITSMITH_X86 && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0;
#else
    return false;
#endif
  }();
  return has;
}
bool cpuHasBmi2() {
  static const bool has = [] {
    const char* off = std::getenv("BITSMITH_NO_AVX2");
    if (off && *off && std::strcmp(off, "0") != 0) return false;
#if BITSMITH_X86 && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    return __builtin_cpu_supports("bmi2") != 0;
#else
    return false;
#endif
  }();
  return has;
}
bool cpuHasAvx2Fma() {
  static const bool has = [] {
    if (!cpuHasAvx2()) return false;
#if BITSMITH_X86 && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    return __builtin_cpu_supports("fma") != 0;
#else
    return false;
#endif
  }();
  return has;
}
}  // namespace bitsmith
