// Runtime CPU feature checks. The build baseline is x86-64-v2; AVX2 kernels are compiled
// with __attribute__((target("avx2"))) and chosen at run time. They deliberately do not
// enable FMA: g++ contracts a*b+c into fused multiply-adds whenever FMA is available (even
// with -std=c++17), which would make the fast paths round differently from the scalar
// reference paths.
#pragma once

// x86 is detected for GCC / Clang (__x86_64__, __i386__) and MSVC (_M_X64, _M_IX86); elsewhere
// (linux-arm64) BITSMITH_X86 is 0, every x86 kernel compiles out and the portable paths run.
#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64) || defined(_M_IX86)
#define BITSMITH_X86 1
#else
#define BITSMITH_X86 0
#endif

#if BITSMITH_X86 && (defined(__GNUC__) || defined(__clang__))
#define BITSMITH_AVX2 __attribute__((target("avx2")))
// Kernels that want fused multiply-adds (linalg's GEMM, whose results are compared with
// the reference within a tolerance, never bit for bit): AVX2 + FMA, chosen at run time.
#define BITSMITH_AVX2_FMA __attribute__((target("avx2,fma")))
#define BITSMITH_BMI2 __attribute__((target("bmi2")))
#else
// MSVC compiles any intrinsic in any function (no per-function targets) and, without
// /arch:AVX2, never contracts a*b+c into an FMA; other architectures have no x86 kernels.
#define BITSMITH_AVX2
#define BITSMITH_AVX2_FMA
#define BITSMITH_BMI2
#endif

namespace bitsmith {
// True when AVX2 kernels may run (overridable with BITSMITH_NO_AVX2=1 for testing the
// portable fast paths).
bool cpuHasAvx2();
// BMI2 (PEXT) for the generic bit packer (BITSMITH_NO_AVX2=1 turns it off too).
bool cpuHasBmi2();
// AVX2 and FMA together (linalg's GEMM; BITSMITH_NO_AVX2=1 turns it off too).
bool cpuHasAvx2Fma();
}  // namespace bitsmith
