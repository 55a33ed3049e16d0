// Runtime CPU feature checks. The build baseline is x86-64-v2; AVX2 kernels are compiled
// with __attribute__((target("avx2"))) and chosen at run time. They deliberately do not
// enable FMA: g++ contracts a*b+c into fused multiply-adds whenever FMA is available (even
// with -std=c++17), which would make the fast paths round differently from the scalar
// reference paths.
#pragma once

#if defined(__x86_64__) || defined(__i386__)
#define BITSMITH_X86 1
#define BITSMITH_AVX2 __attribute__((target("avx2")))
// Kernels that want fused multiply-adds (linalg's GEMM, whose results are compared with
// the reference within a tolerance, never bit for bit): AVX2 + FMA, chosen at run time.
#define BITSMITH_AVX2_FMA __attribute__((target("avx2,fma")))
#else
#define BITSMITH_X86 0
#define BITSMITH_AVX2
#define BITSMITH_AVX2_FMA
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
