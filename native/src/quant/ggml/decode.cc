// Reference decoders of the ggml block layouts (blocks.h): the spec every encoder is
// tested against. Blocks are copied out of the byte stream first (rows of 18- or 22-byte
// blocks are not 2-byte aligned in general).
#include <cstring>
#include <stdexcept>

#include "common/fp.h"
#include "quant/ggml/blocks.h"
#include "quant/ggml/ggml.h"
#include "quant/ggml/internal.h"
#include "quant/ggml/iq_grids.h"
#include "threads/pool.h"

namespace bitsmith {
namespace ggml {

namespace {

template <class B>
B load(const uint8_t* p) {
  B b;
  std::memcpy(&b, p, sizeof(B));
  return b;
}

void decQ8_0(const uint8_t* p, float* y) {
  const auto b = load<BlockQ8_0>(p);
  const float d = f16ToF32(b.d);
  for (int i = 0; i < 32; ++i) y[i] = d * float(b.qs[i]);
}
void decQ4_0(const uint8_t* p, float* y) {
  const auto b = load<BlockQ4_0>(p);
  const float d = f16ToF32(b.d);
  for (int i = 0; i < 16; ++i) {
    y[i] = d * float((b.qs[i] & 15) - 8);
    y[i + 16] = d * float((b.qs[i] >> 4) - 8);
  }
}
void decQ4_1(const uint8_t* p, float* y) {
  const auto b = load<BlockQ4_1>(p);
  const float d = f16ToF32(b.d), m = f16ToF32(b.m);
  for (int i = 0; i < 16; ++i) {
    y[i] = d * float(b.qs[i] & 15) + m;
    y[i + 16] = d * float(b.qs[i] >> 4) + m;
  }
}
void decQ5_0(const uint8_t* p, float* y) {
  const auto b = load<BlockQ5_0>(p);
  const float d = f16ToF32(b.d);
  uint32_t qh;
  std::memcpy(&qh, b.qh, 4);
  for (int i = 0; i < 16; ++i) {
    y[i] = d * float(int((b.qs[i] & 15) | (((qh >> i) & 1) << 4)) - 16);
    y[i + 16] = d * float(int((b.qs[i] >> 4) | (((qh >> (i + 16)) & 1) << 4)) - 16);
  }
}
void decQ5_1(const uint8_t* p, float* y) {
  const auto b = load<BlockQ5_1>(p);
  const float d = f16ToF32(b.d), m = f16ToF32(b.m);
  uint32_t qh;
  std::memcpy(&qh, b.qh, 4);
  for (int i = 0; i < 16; ++i) {
    y[i] = d * float(int((b.qs[i] & 15) | (((qh >> i) & 1) << 4))) + m;
    y[i + 16] = d * float(int((b.qs[i] >> 4) | (((qh >> (i + 16)) & 1) << 4))) + m;
  }
}
void decQ2_K(const uint8_t* p, float* y) {
  const auto b = load<BlockQ2_K>(p);
  const float d = f16ToF32(b.d), dmin = f16ToF32(b.dmin);
  for (int e = 0; e < 256; ++e) {
    const int h = e / 128, s = (e % 128) / 32, l = e % 32;
    const int q = (b.qs[32 * h + l] >> (2 * s)) & 3;
    const int sc = b.scales[e / 16];
    y[e] = (d * float(sc & 15)) * float(q) - dmin * float(sc >> 4);
  }
}
void decQ3_K(const uint8_t* p, float* y) {
  const auto b = load<BlockQ3_K>(p);
  const float d = f16ToF32(b.d);
  for (int e = 0; e < 256; ++e) {
    const int h = e / 128, s = (e % 128) / 32, l = e % 32;
    const int lo = (b.qs[32 * h + l] >> (2 * s)) & 3;
    const int hi = (b.hmask[l] >> (4 * h + s)) & 1;
    y[e] = (d * float(q3Scale(b.scales, e / 16) - 32)) * float(lo + 4 * hi - 4);
  }
}
void decQ4_K(const uint8_t* p, float* y) {
  const auto b = load<BlockQ4_K>(p);
  const float d = f16ToF32(b.d), dmin = f16ToF32(b.dmin);
  for (int e = 0; e < 256; ++e) {
    const int c = e / 64, l = e % 32, hiNib = (e % 64) / 32;
    const int q = (b.qs[32 * c + l] >> (4 * hiNib)) & 15;
    int sc, m;
    kScaleMin(b.scales, e / 32, sc, m);
    y[e] = (d * float(sc)) * float(q) - dmin * float(m);
  }
}
void decQ5_K(const uint8_t* p, float* y) {
  const auto b = load<BlockQ5_K>(p);
  const float d = f16ToF32(b.d), dmin = f16ToF32(b.dmin);
  for (int e = 0; e < 256; ++e) {
    const int c = e / 64, l = e % 32, hiNib = (e % 64) / 32;
    const int q =
        ((b.qs[32 * c + l] >> (4 * hiNib)) & 15) | (((b.qh[l] >> (2 * c + hiNib)) & 1) << 4);
    int sc, m;
    kScaleMin(b.scales, e / 32, sc, m);
    y[e] = (d * float(sc)) * float(q) - dmin * float(m);
  }
}
void decQ6_K(const uint8_t* p, float* y) {
  const auto b = load<BlockQ6_K>(p);
  const float d = f16ToF32(b.d);
  for (int e = 0; e < 256; ++e) {
    const int h = e / 128, t = (e % 128) / 32, l = e % 32;
    const int lo = (b.ql[64 * h + 32 * (t & 1) + l] >> (4 * (t >> 1))) & 15;
    const int hi = (b.qh[32 * h + l] >> (2 * t)) & 3;
    y[e] = (d * float(b.scales[e / 16])) * float((lo | (hi << 4)) - 32);
  }
}
void decIQ4_NL(const uint8_t* p, float* y) {
  const auto b = load<BlockIQ4_NL>(p);
  const float d = f16ToF32(b.d);
  for (int i = 0; i < 16; ++i) {
    y[i] = d * float(kIq4nl[b.qs[i] & 15]);
    y[i + 16] = d * float(kIq4nl[b.qs[i] >> 4]);
  }
}
void decIQ4_XS(const uint8_t* p, float* y) {
  const auto b = load<BlockIQ4_XS>(p);
  const float d = f16ToF32(b.d);
  for (int j = 0; j < 8; ++j) {
    const int ls =
        ((b.scales_l[j / 2] >> (4 * (j % 2))) & 15) | (((b.scales_h >> (2 * j)) & 3) << 4);
    const float dl = d * float(ls - 32);
    for (int i = 0; i < 16; ++i) {
      y[32 * j + i] = dl * float(kIq4nl[b.qs[16 * j + i] & 15]);
      y[32 * j + i + 16] = dl * float(kIq4nl[b.qs[16 * j + i] >> 4]);
    }
  }
}

// Byte i of a grid point (the magnitude or value of weight i of its group).
inline int pointByte(uint64_t p, int i) {
  return int((p >> (8 * i)) & 255);
}
inline float signOf(uint8_t signs, int i) {
  return (signs >> i) & 1 ? -1.0f : 1.0f;
}

void decIQ2_XXS(const uint8_t* p, float* y) {
  const auto b = load<BlockIQ2_XXS>(p);
  const float d = f16ToF32(b.d);
  for (int j = 0; j < 8; ++j) {
    uint32_t idx, ss;
    std::memcpy(&idx, b.qs + 4 * j, 4);
    std::memcpy(&ss, b.qs + 4 * j + 2, 4);
    const float db = d * (0.5f + float(ss >> 28)) * 0.25f;
    for (int l = 0; l < 4; ++l) {
      const uint64_t pt = kIq2xxsGrid[(idx >> (8 * l)) & 255];
      const uint8_t sg = signs7((ss >> (7 * l)) & 127);
      for (int i = 0; i < 8; ++i)
        y[32 * j + 8 * l + i] = db * float(pointByte(pt, i)) * signOf(sg, i);
    }
  }
}
void decIQ2_XS(const uint8_t* p, float* y) {
  const auto b = load<BlockIQ2_XS>(p);
  const float d = f16ToF32(b.d);
  for (int g = 0; g < 32; ++g) {
    const int s = (b.scales[g / 4] >> (4 * ((g / 2) % 2))) & 15;
    const float db = d * (0.5f + float(s)) * 0.25f;
    const uint64_t pt = kIq2xsGrid[b.qs[g] & 511];
    const uint8_t sg = signs7(b.qs[g] >> 9);
    for (int i = 0; i < 8; ++i) y[8 * g + i] = db * float(pointByte(pt, i)) * signOf(sg, i);
  }
}
void decIQ2_S(const uint8_t* p, float* y) {
  const auto b = load<BlockIQ2_S>(p);
  const float d = f16ToF32(b.d);
  for (int g = 0; g < 32; ++g) {
    const int s = (b.scales[g / 4] >> (4 * ((g / 2) % 2))) & 15;
    const float db = d * (0.5f + float(s)) * 0.25f;
    const uint64_t pt = kIq2sGrid[b.qs[g] | (((b.qh[g / 4] >> (2 * (g % 4))) & 3) << 8)];
    const uint8_t sg = b.qs[32 + g];
    for (int i = 0; i < 8; ++i) y[8 * g + i] = db * float(pointByte(pt, i)) * signOf(sg, i);
  }
}
void decIQ3_XXS(const uint8_t* p, float* y) {
  const auto b = load<BlockIQ3_XXS>(p);
  const float d = f16ToF32(b.d);
  for (int j = 0; j < 8; ++j) {
    uint32_t ss;
    std::memcpy(&ss, b.qs + 64 + 4 * j, 4);
    const float db = d * (0.5f + float(ss >> 28)) * 0.5f;
    for (int l = 0; l < 4; ++l) {
      const uint8_t sg = signs7((ss >> (7 * l)) & 127);
      for (int h = 0; h < 2; ++h) {
        const uint32_t pt = kIq3xxsGrid[b.qs[8 * j + 2 * l + h]];
        for (int i = 0; i < 4; ++i)
          y[32 * j + 8 * l + 4 * h + i] = db * float(pointByte(pt, i)) * signOf(sg, 4 * h + i);
      }
    }
  }
}
void decIQ3_S(const uint8_t* p, float* y) {
  const auto b = load<BlockIQ3_S>(p);
  const float d = f16ToF32(b.d);
  for (int j = 0; j < 8; ++j) {
    const float db = d * float(1 + 2 * ((b.scales[j / 2] >> (4 * (j % 2))) & 15));
    for (int l = 0; l < 4; ++l) {
      const uint8_t sg = b.signs[4 * j + l];
      for (int h = 0; h < 2; ++h) {
        const int k = 8 * j + 2 * l + h;
        const uint32_t pt = kIq3sGrid[b.qs[k] | (((b.qh[k / 8] >> (k % 8)) & 1) << 8)];
        for (int i = 0; i < 4; ++i)
          y[4 * k + i] = db * float(pointByte(pt, i)) * signOf(sg, 4 * h + i);
      }
    }
  }
}
// iq1 grid bytes are int8 -1, 0, 1.
inline float iq1Value(uint64_t p, int i) {
  return float(int8_t(pointByte(p, i)));
}
void decIQ1_S(const uint8_t* p, float* y) {
  const auto b = load<BlockIQ1_S>(p);
  const float d = f16ToF32(b.d);
  for (int j = 0; j < 8; ++j) {
    const int qh = b.qh[j];
    const float dl = d * float(2 * ((qh >> 12) & 7) + 1);
    const float delta = qh & 0x8000 ? -kIq1Delta : kIq1Delta;
    for (int l = 0; l < 4; ++l) {
      const uint64_t pt = kIq1sGrid[b.qs[4 * j + l] | (((qh >> (3 * l)) & 7) << 8)];
      for (int i = 0; i < 8; ++i) y[32 * j + 8 * l + i] = dl * (iq1Value(pt, i) + delta);
    }
  }
}
void decIQ1_M(const uint8_t* p, float* y) {
  const auto b = load<BlockIQ1_M>(p);
  uint16_t sc[4];
  std::memcpy(sc, b.scales, 8);
  const float d = f16ToF32(iq1mScale(sc));
  for (int g = 0; g < 32; ++g) {
    const int h = g / 2;  // 16-weight half
    const float dl = d * float(2 * ((sc[h / 4] >> (3 * (h % 4))) & 7) + 1);
    const int nib = (b.qh[g / 2] >> (4 * (g % 2))) & 15;
    const float delta = nib & 8 ? -kIq1Delta : kIq1Delta;
    const uint64_t pt = kIq1sGrid[b.qs[g] | ((nib & 7) << 8)];
    for (int i = 0; i < 8; ++i) y[8 * g + i] = dl * (iq1Value(pt, i) + delta);
  }
}
void decTQ1_0(const uint8_t* p, float* y) {
  const auto b = load<BlockTQ1_0>(p);
  const float d = f16ToF32(b.d);
  for (int e = 0; e < 256; ++e) {
    int byte, n;
    tq1Place(e, byte, n);
    y[e] = float(tq1Trit(byte < 48 ? b.qs[byte] : b.qh[byte - 48], n) - 1) * d;
  }
}
void decTQ2_0(const uint8_t* p, float* y) {
  const auto b = load<BlockTQ2_0>(p);
  const float d = f16ToF32(b.d);
  for (int e = 0; e < 256; ++e) {
    const int q = (b.qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
    y[e] = float(q - 1) * d;
  }
}

using DecodeFn = void (*)(const uint8_t*, float*);
DecodeFn decoderFor(GgmlType t) {
  switch (t) {
    case GgmlType::Q4_0:
      return decQ4_0;
    case GgmlType::Q4_1:
      return decQ4_1;
    case GgmlType::Q5_0:
      return decQ5_0;
    case GgmlType::Q5_1:
      return decQ5_1;
    case GgmlType::Q8_0:
      return decQ8_0;
    case GgmlType::Q2_K:
      return decQ2_K;
    case GgmlType::Q3_K:
      return decQ3_K;
    case GgmlType::Q4_K:
      return decQ4_K;
    case GgmlType::Q5_K:
      return decQ5_K;
    case GgmlType::Q6_K:
      return decQ6_K;
    case GgmlType::IQ4_NL:
      return decIQ4_NL;
    case GgmlType::IQ4_XS:
      return decIQ4_XS;
    case GgmlType::IQ2_XXS:
      return decIQ2_XXS;
    case GgmlType::IQ2_XS:
      return decIQ2_XS;
    case GgmlType::IQ2_S:
      return decIQ2_S;
    case GgmlType::IQ3_XXS:
      return decIQ3_XXS;
    case GgmlType::IQ3_S:
      return decIQ3_S;
    case GgmlType::IQ1_S:
      return decIQ1_S;
    case GgmlType::IQ1_M:
      return decIQ1_M;
    case GgmlType::TQ1_0:
      return decTQ1_0;
    case GgmlType::TQ2_0:
      return decTQ2_0;
  }
  throw std::invalid_argument("unknown ggml type");
}

}  // namespace

void decodeBlocks(GgmlType t, const uint8_t* src, int64_t blocks, float* dst) {
  const GgmlTypeInfo& info = ggmlTypeInfo(t);
  const DecodeFn f = decoderFor(t);
  for (int64_t b = 0; b < blocks; ++b) f(src + b * info.blockBytes, dst + b * info.blockWeights);
}

}  // namespace ggml

void ggmlDecodeRows(GgmlType type, const uint8_t* src, int64_t rows, int64_t cols, float* dst) {
  ggmlDecodeRowsParallel(type, src, rows, cols, dst, nullptr);
}

void ggmlDecodeRowsParallel(GgmlType type, const uint8_t* src, int64_t rows, int64_t cols,
                            float* dst, ThreadPool* pool) {
  const size_t rb = ggmlRowBytes(type, cols);
  if (rows < 0) throw std::invalid_argument("rows must be >= 0");
  const int64_t bpr = cols / ggmlTypeInfo(type).blockWeights;
  parallelFor(
      pool, rows,
      [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r)
          ggml::decodeBlocks(type, src + size_t(r) * rb, bpr, dst + r * cols);
      },
      std::max<int64_t>(1, 65536 / cols));
}

}  // namespace bitsmith
