// Scalar number formats: IEEE f16 and bf16, OCP FP8 (e4m3 "FN" and e5m2), OCP MX e8m0
// scales, the FP4 e2m1 grid and the NF4 (QLoRA) table. Every encoder rounds to nearest,
// ties to even (RNE); the FP8 encoders saturate finite overflow to the largest finite
// value. These functions are the spec the quantizers and tests are written against.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

namespace bitsmith {

inline uint32_t f32Bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float f32FromBits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// ---- IEEE binary16 -------------------------------------------------------------------
// RNE, subnormals exact, overflow to +-inf (as IEEE), NaN stays NaN (quiet, sign kept).
uint16_t f16FromF32Slow(float f);
float f16ToF32Slow(uint16_t h);
// Inline fast paths for normal numbers (the common case for scales), exact same results.
inline uint16_t f16FromF32(float f) {
  uint32_t x = f32Bits(f);
  const uint32_t a = x & 0x7fffffffu;
  if (a - 0x38800000u < 0x477ff000u - 0x38800000u) {  // 2^-14 <= |f| < 65520: normal result
    x += 0x0fffu + ((x >> 13) & 1u);
    return uint16_t(((x >> 16) & 0x8000u) | (((x & 0x7fffffffu) - 0x38000000u) >> 13));
  }
  return f16FromF32Slow(f);
}
inline float f16ToF32(uint16_t h) {
  const uint32_t exp = (h >> 10) & 0x1fu;
  if (exp - 1u < 30u)  // normal
    return f32FromBits((uint32_t(h & 0x8000u) << 16) |
                       ((uint32_t(h & 0x7fffu) << 13) + 0x38000000u));
  return f16ToF32Slow(h);
}
// f16 rounding that saturates finite overflow to +-65504 (stored scales, outlier values).
uint16_t f16FromF32Sat(float f);
inline float f16Round(float f) {
  return f16ToF32(f16FromF32(f));
}

// ---- bfloat16 ------------------------------------------------------------------------
uint16_t bf16FromF32(float f);  // RNE, overflow to inf, NaN stays NaN
inline float bf16ToF32(uint16_t h) {
  return f32FromBits(uint32_t(h) << 16);
}

// ---- FP8 (OCP 8-bit floating point, v1.0) -----------------------------------------------
// e4m3 (the "FN" variant): bias 7, no infinities, max 448, NaN = S.1111.111 (0x7f/0xff).
// e5m2: bias 15, IEEE-like: max 57344, +-inf = 0x7c/0xfc, NaN = exponent 31, mantissa != 0.
enum class Fp8Kind { E4M3, E5M2 };
constexpr float kE4M3Max = 448.0f;
constexpr float kE5M2Max = 57344.0f;
// RNE; finite values beyond the largest finite saturate to it; NaN -> NaN code (sign kept).
// Infinity: e4m3 has none, so +-inf saturates to +-448; e5m2 keeps +-inf unless
// `saturateInf` (the quantizers' "satfinite" mode) maps it to +-57344.
inline uint8_t fp8Encode(Fp8Kind kind, float x, bool saturateInf = false);
float fp8Decode(Fp8Kind kind, uint8_t code);
// 256-entry decode tables (built once).
const float* fp8Table(Fp8Kind kind);

inline uint8_t fp8Encode(Fp8Kind kind, float x, bool saturateInf) {
  const bool e4 = kind == Fp8Kind::E4M3;
  const int mbits = e4 ? 3 : 2;
  const uint32_t maxCode = e4 ? 0x7eu : 0x7bu;
  uint32_t u = f32Bits(x);
  const uint8_t sign = uint8_t((u >> 24) & 0x80u);
  u &= 0x7fffffffu;
  if (u > 0x7f800000u) return uint8_t(sign | (e4 ? 0x7fu : 0x7eu));  // NaN
  if (u == 0x7f800000u) return uint8_t(sign | (!e4 && !saturateInf ? 0x7cu : maxCode));
  const float a = f32FromBits(u);
  if (a < (e4 ? 0.015625f : 6.103515625e-05f)) {
    // Subnormal range: the RNE multiple of the subnormal quantum (an exact power-of-two
    // scaling); reaching 2^mbits lands exactly on the smallest normal code.
    return uint8_t(sign | uint8_t(std::nearbyint(a * (e4 ? 512.0f : 65536.0f))));
  }
  // Normal: RNE of the f32 mantissa to mbits, then rebias; values that round past the
  // largest finite saturate (OCP "satfinite").
  const int shift = 23 - mbits;
  uint32_t r = (u + ((1u << (shift - 1)) - 1u) + ((u >> shift) & 1u)) >> shift;
  r -= uint32_t(127 - (e4 ? 7 : 15)) << mbits;
  return uint8_t(sign | (r > maxCode ? maxCode : r));
}

// ---- e8m0 (OCP MX shared scale) -------------------------------------------------------
// value = 2^(code - 127); code 255 is NaN. No zero, no sign.
float e8m0ToF32(uint8_t code);

// ---- FP4 e2m1 and NF4 ------------------------------------------------------------------
// Codes are 4 bits. e2m1: bit 3 = sign, bits 0..2 = magnitude index into
// {0, 0.5, 1, 1.5, 2, 3, 4, 6} (exponent bias 1, one mantissa bit). NF4: code k is the k-th
// of the 16 QLoRA NormalFloat values, ascending (code 7 is 0).
extern const float kFp4Grid[16];
extern const float kNf4Grid[16];
constexpr float kFp4Max = 6.0f;
// Nearest e2m1 value to x (RNE: a tie goes to the even magnitude code, as IEEE), saturating
// at +-6; the sign of x is kept (so -0.1 -> code 8, -0).
inline uint8_t fp4Encode(float x) {
  const uint8_t sign = (f32Bits(x) >> 31) ? 8 : 0;
  const float a = x < 0 ? -x : x;
  // Midpoints between consecutive magnitudes; a tie picks the even code (k even).
  uint8_t k = uint8_t((a > 0.25f) + (a >= 0.75f) + (a > 1.25f) + (a >= 1.75f) + (a > 2.5f) +
                      (a >= 3.5f) + (a > 5.0f));
  return uint8_t(sign | k);
}
// Nearest NF4 value to x in [-1, 1] (x is clamped implicitly: beyond +-1 gives +-1). A tie
// (x exactly on a midpoint) goes to the lower code.
extern const float kNf4Mid[15];  // midpoints between consecutive NF4 values (float)
inline uint8_t nf4Encode(float x) {
  int k = 0;
  for (int i = 0; i < 15; ++i) k += x > kNf4Mid[i];
  return uint8_t(k);
}

}  // namespace bitsmith
