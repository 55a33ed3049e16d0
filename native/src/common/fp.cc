#include "common/fp.h"

#include <cfloat>
#include <cmath>
#include <mutex>

namespace bitsmith {

// ---- f16 ---------------------------------------------------------------------------
uint16_t f16FromF32Slow(float f) {
  uint32_t x = f32Bits(f);
  const uint16_t sign = uint16_t((x >> 16) & 0x8000u);
  x &= 0x7fffffffu;
  if (x >= 0x7f800000u) {  // inf or NaN
    if (x == 0x7f800000u) return uint16_t(sign | 0x7c00u);
    return uint16_t(sign | 0x7e00u | ((x >> 13) & 0x3ffu));  // quiet NaN, top payload bits
  }
  if (x >= 0x477ff000u) return uint16_t(sign | 0x7c00u);  // >= 65520 rounds to inf (RNE)
  if (x < 0x38800000u) {
    // |f| < 2^-14: f16 subnormal (or zero). |f| * 2^24 is exact (a power-of-two scaling
    // into the normal range) and < 1024; RNE to an integer gives the subnormal mantissa,
    // and 1024 is correctly the smallest normal (exponent 1, mantissa 0).
    const float scaled = f32FromBits(x) * 16777216.0f;
    return uint16_t(sign | uint16_t(std::nearbyint(scaled)));
  }
  // Normal: round the 23-bit mantissa to 10 bits, ties to even, then rebias 127 -> 15.
  // A carry out of the mantissa correctly increments the exponent.
  x += 0x0fffu + ((x >> 13) & 1u);
  return uint16_t(sign | ((x - 0x38000000u) >> 13));
}

uint16_t f16FromF32Sat(float f) {
  const uint16_t h = f16FromF32(f);
  if ((h & 0x7fffu) == 0x7c00u) return uint16_t((h & 0x8000u) | 0x7bffu);
  return h;
}

float f16ToF32Slow(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t man = h & 0x3ffu;
  if (exp == 0) {
    // zero or subnormal: man * 2^-24, exact in f32
    const float v = float(man) * (1.0f / 16777216.0f);
    return f32FromBits(f32Bits(v) | sign);
  }
  if (exp == 31) return f32FromBits(sign | 0x7f800000u | (man << 13));  // inf / NaN (payload kept)
  return f32FromBits(sign | ((exp + 112u) << 23) | (man << 13));
}

// ---- bf16 ----------------------------------------------------------------------------
uint16_t bf16FromF32(float f) {
  uint32_t x = f32Bits(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return uint16_t((x >> 16) | 0x40u);  // quiet NaN
  x += 0x7fffu + ((x >> 16) & 1u);  // RNE; overflow carries into inf as IEEE
  return uint16_t(x >> 16);
}

// ---- FP8 -----------------------------------------------------------------------------
namespace {
struct Fp8Spec {
  int mbits;        // mantissa bits
  int bias;         // exponent bias
  uint8_t maxCode;  // largest finite magnitude code
  uint8_t nanCode;  // canonical NaN magnitude code
  bool hasInf;      // e5m2
  float maxValue;
  float minNormal;     // 2^(1 - bias)
  float subnormScale;  // 2^(bias - 1 + mbits): |x| * this is the subnormal mantissa count
};
const Fp8Spec kE4M3{3, 7, 0x7e, 0x7f, false, 448.0f, 0.015625f, 512.0f};
const Fp8Spec kE5M2{2, 15, 0x7b, 0x7e, true, 57344.0f, 6.103515625e-05f, 65536.0f};
inline const Fp8Spec& spec(Fp8Kind k) {
  return k == Fp8Kind::E4M3 ? kE4M3 : kE5M2;
}
}  // namespace

float fp8Decode(Fp8Kind kind, uint8_t code) {
  const Fp8Spec& s = spec(kind);
  const bool neg = code & 0x80u;
  const uint32_t mag = code & 0x7fu;
  const uint32_t exp = mag >> s.mbits;
  const uint32_t man = mag & ((1u << s.mbits) - 1u);
  float v;
  if (kind == Fp8Kind::E4M3 && mag == 0x7fu) {
    v = std::nanf("");
  } else if (kind == Fp8Kind::E5M2 && exp == 31u) {
    v = man == 0 ? INFINITY : std::nanf("");
  } else if (exp == 0) {
    v = float(man) / s.subnormScale;
  } else {
    v = std::ldexp(1.0f + float(man) / float(1u << s.mbits), int(exp) - s.bias);
  }
  return neg ? -v : v;
}

const float* fp8Table(Fp8Kind kind) {
  static float tables[2][256];
  static std::once_flag once;
  std::call_once(once, [] {
    for (int c = 0; c < 256; ++c) {
      tables[0][c] = fp8Decode(Fp8Kind::E4M3, uint8_t(c));
      tables[1][c] = fp8Decode(Fp8Kind::E5M2, uint8_t(c));
    }
  });
  return tables[kind == Fp8Kind::E4M3 ? 0 : 1];
}

// ---- e8m0 ----------------------------------------------------------------------------
float e8m0ToF32(uint8_t code) {
  if (code == 0xff) return std::nanf("");
  return std::ldexp(1.0f, int(code) - 127);
}

// ---- grids ---------------------------------------------------------------------------
const float kFp4Grid[16] = {0.0f,  0.5f,  1.0f,  1.5f,  2.0f,  3.0f,  4.0f,  6.0f,
                            -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f};

// The 16 NormalFloat4 values of QLoRA (Dettmers et al. 2023), as bitsandbytes ships them.
const float kNf4Grid[16] = {-1.0f,
                            -0.6961928009986877f,
                            -0.5250730514526367f,
                            -0.39491748809814453f,
                            -0.28444138169288635f,
                            -0.18477343022823334f,
                            -0.09105003625154495f,
                            0.0f,
                            0.07958029955625534f,
                            0.16093020141124725f,
                            0.24611230194568634f,
                            0.33791524171829224f,
                            0.44070982933044434f,
                            0.5626170039176941f,
                            0.7229568362236023f,
                            1.0f};

#define BITSMITH_MID(i) (0.5f * (kNf4Grid[i] + kNf4Grid[i + 1]))
const float kNf4Mid[15] = {BITSMITH_MID(0),  BITSMITH_MID(1),  BITSMITH_MID(2),  BITSMITH_MID(3),
                           BITSMITH_MID(4),  BITSMITH_MID(5),  BITSMITH_MID(6),  BITSMITH_MID(7),
                           BITSMITH_MID(8),  BITSMITH_MID(9),  BITSMITH_MID(10), BITSMITH_MID(11),
                           BITSMITH_MID(12), BITSMITH_MID(13), BITSMITH_MID(14)};
#undef BITSMITH_MID

// ---- scales --------------------------------------------------------------------------
}  // namespace bitsmith
