// How a quantizer stores a group's scale (ScaleType, quant/quantize.h): the rounding into
// each storage type, built on the number formats of common/fp.h.
#pragma once
#include <cstdint>

#include "common/fp.h"
#include "quant/quantize.h"

namespace bitsmith {

// ---- stored scales ---------------------------------------------------------------------
// Rounds a non-negative group scale to its storage type and returns its bytes (little
// endian; 2, 2, 4, 1, 1 bytes for f16, bf16, f32, e8m0, e4m3). Returns the value a decoder
// reads back, which is what reconstruction uses. Conventions:
//   f16, bf16: RNE, saturating at the largest finite value (65504, ~3.39e38).
//   f32: exact.
//   e8m0: the smallest power of two >= s (rounded up, so the grid still spans the group;
//         this is the rounding NVIDIA's MXFP8 recipe uses), exponent clamped to [-127, 127].
//   e4m3: RNE, saturating at 448.
// A stored value below FLT_MIN (2^-126; e.g. 0, or an f32 denormal) is returned as 0: the
// group then reconstructs to 0 whatever its codes.
float storeScaleSlow(float s, ScaleType type, uint32_t* bits);
// `bits` receives the stored bytes, little endian (byte k = bits >> 8k), kept in a register
// rather than written byte by byte (which stalls store forwarding in the hot loops).
inline float storeScale(float s, ScaleType type, uint32_t* bits) {
  if (type == ScaleType::F16) {
    const uint32_t a = f32Bits(s);
    if (a - 0x38800000u < 0x477ff000u - 0x38800000u) {  // positive, normal f16 result
      const uint16_t h = f16FromF32(s);
      *bits = h;
      return f16ToF32(h);
    }
  }
  return storeScaleSlow(s, type, bits);
}
// Writes the n low bytes of `bits`, little endian.
inline void putBytes(uint8_t* out, uint32_t bits, int n) {
  for (int k = 0; k < n; ++k) out[k] = uint8_t(bits >> (8 * k));
}
int scaleBytes(ScaleType type);
const char* scaleName(ScaleType type);

}  // namespace bitsmith
