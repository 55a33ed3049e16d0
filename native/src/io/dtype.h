// Element types of model files, and conversions between the float ones and f32.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

namespace bitsmith {

enum class DType : int {
  F64,
  F32,
  F16,
  BF16,
  F8_E4M3,
  F8_E5M2,
  I64,
  I32,
  I16,
  I8,
  U8,
  BOOL,
  U16,
  U32,
  U64,
  Ggml,  // a ggml block type (GGUF only): see TensorRef::dtypeName
};

/** Bytes per element of a plain dtype (0 for Ggml). */
int dtypeSize(DType t);
/** safetensors dtype name ("F32", "BF16", ...). */
const char* dtypeName(DType t);
/** Parses a safetensors dtype name; false if unknown. */
bool parseDtype(const std::string& name, DType& out);
/** Whether the runner can read this dtype as f32 (and write it back). */
inline bool isReadableFloat(DType t) {
  return t == DType::F32 || t == DType::F16 || t == DType::BF16 || t == DType::F64;
}

namespace conv {

inline float bits2f(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline uint32_t f2bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

inline float bf16ToF32(uint16_t h) {
  return bits2f(uint32_t(h) << 16);
}

/** Round to nearest even; NaN stays NaN (quiet). */
inline uint16_t f32ToBf16(float f) {
  uint32_t u = f2bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}

inline float f16ToF32(uint16_t h) {
  // Exact for normals, subnormals, zeros, infinities and NaNs.
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t em = h & 0x7fffu;
  uint32_t out;
  if (em >= 0x7c00u)
    out = 0x7f800000u | (uint32_t(em & 0x3ffu) << 13);  // inf / nan
  else if (em >= 0x0400u)
    out = (em + ((127u - 15u) << 10)) << 13;       // normal
  else {                                           // subnormal / zero
    float m = float(em) * 5.9604644775390625e-8f;  // 2^-24
    return bits2f(f2bits(m) | sign);
  }
  return bits2f(out | sign);
}

/** Round to nearest even, overflow to infinity, NaN stays NaN. */
inline uint16_t f32ToF16(float f) {
  uint32_t u = f2bits(f);
  const uint32_t sign = (u >> 16) & 0x8000u;
  u &= 0x7fffffffu;
  if (u > 0x7f800000u) return uint16_t(sign | 0x7e00u);
  if (u >= 0x477ff000u) return uint16_t(sign | 0x7c00u);  // >= 65520 rounds to inf
  if (u < 0x38800000u) {                                  // below the smallest normal: subnormal
    // Add 0.5 (as float) so the hardware rounding to nearest even does the work.
    float v = bits2f(u) + 0.5f;
    return uint16_t(sign | (f2bits(v) - 0x3f000000u));
  }
  uint32_t mant_odd = (u >> 13) & 1u;
  u += (uint32_t(15 - 127) << 23) + 0xfffu + mant_odd;
  return uint16_t(sign | (u >> 13));
}

}  // namespace conv

/** Converts n elements of a readable float dtype at `src` (any alignment) to f32.
 *  Returns false if any value is NaN or infinite (the values are converted anyway). */
bool toF32(DType t, const uint8_t* src, int64_t n, float* dst);
/** True when none of the n values is NaN or infinite. */
bool allFinite(const float* v, int64_t n);
/** Converts n f32 values to dtype t (F32, F16, BF16, F64) at `dst` (any alignment). */
void fromF32(DType t, const float* src, int64_t n, uint8_t* dst);

}  // namespace bitsmith
