#include "quant/scale.h"

#include <cfloat>
#include <cmath>

namespace bitsmith {

int scaleBytes(ScaleType t) {
  switch (t) {
    case ScaleType::F16:
    case ScaleType::BF16:
      return 2;
    case ScaleType::F32:
      return 4;
    case ScaleType::E8M0:
    case ScaleType::E4M3:
      return 1;
  }
  return 0;
}

const char* scaleName(ScaleType t) {
  switch (t) {
    case ScaleType::F16:
      return "f16";
    case ScaleType::BF16:
      return "bf16";
    case ScaleType::F32:
      return "f32";
    case ScaleType::E8M0:
      return "e8m0";
    case ScaleType::E4M3:
      return "e4m3";
  }
  return "?";
}

float storeScaleSlow(float s, ScaleType t, uint32_t* bits) {
  float v = 0.0f;
  switch (t) {
    case ScaleType::F16: {
      const uint16_t h = f16FromF32Sat(s);
      *bits = h;
      v = f16ToF32(h);
      break;
    }
    case ScaleType::BF16: {
      uint16_t h = bf16FromF32(s);
      if ((h & 0x7fffu) == 0x7f80u) h = uint16_t((h & 0x8000u) | 0x7f7fu);  // saturate
      *bits = h;
      v = bf16ToF32(h);
      break;
    }
    case ScaleType::F32: {
      *bits = f32Bits(s);
      v = s;
      break;
    }
    case ScaleType::E8M0: {
      int e = -127;
      if (s > 0) {
        int ex;
        const float m = std::frexp(s, &ex);  // s = m * 2^ex, m in [0.5, 1)
        e = m == 0.5f ? ex - 1 : ex;         // ceil(log2 s)
        if (e < -127) e = -127;
        if (e > 127) e = 127;
      }
      *bits = uint32_t(e + 127);
      v = std::ldexp(1.0f, e);
      break;
    }
    case ScaleType::E4M3: {
      const uint8_t c = fp8Encode(Fp8Kind::E4M3, s, true);
      *bits = c;
      v = fp8Decode(Fp8Kind::E4M3, c);
      break;
    }
  }
  return v < FLT_MIN ? 0.0f : v;
}

}  // namespace bitsmith
