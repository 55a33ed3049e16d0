// The ggml block layouts, byte for byte (little endian; `half` is an IEEE binary16 bit
// pattern). Each block holds QK weights of one row; a row is its blocks back to back.
// These are the public layouts of ggml's block_* types: the GGUF writer copies these
// bytes unchanged, and any ggml build must decode them to the values decode.cc produces.
//
//   q8_0   {d; int8 qs[32]}                      w = d * qs[i]
//   q4_0   {d; qs[16]}                           nibble j of element i: i < 16 low nibble of
//                                                qs[i], else high nibble of qs[i-16]; w = d (q - 8)
//   q4_1   {d; m; qs[16]}                        as q4_0; w = d q + m
//   q5_0   {d; qh[4]; qs[16]}                    low 4 bits as q4_0, bit 4 of element i is bit i
//                                                of the u32 qh; w = d (q - 16)
//   q5_1   {d; m; qh[4]; qs[16]}                 as q5_0; w = d q + m
//   q2_k   {scales[16]; qs[64]; d; dmin}         16 sub-blocks of 16: scales[j] low nibble = scale,
//                                                high nibble = min; element 128h + 32s + l (l < 32)
//                                                is bits 2s..2s+1 of qs[32h + l];
//                                                w = d sc q - dmin m, q in 0..3
//   q3_k   {hmask[32]; qs[64]; scales[12]; d}    16 sub-blocks of 16, 6-bit scales stored +32:
//                                                scale j low 4 bits in scales[j] (j < 8, low
//                                                nibble) or scales[j-8] (high nibble), high 2 bits
//                                                at bits 2(j/4) of scales[8 + j%4]; low 2 code bits
//                                                as q2_k; bit 2 of element 128h + 32s + l is bit
//                                                4h + s of hmask[l]; w = d (sc - 32) (q - 4)
//   q4_k   {d; dmin; scales[12]; qs[128]}        8 sub-blocks of 32, 6-bit scale and min (packing
//                                                below); element 64c + l: low nibble of qs[32c+l],
//                                                64c + 32 + l: high nibble; w = d sc q - dmin m
//   q5_k   {d; dmin; scales[12]; qh[32]; qs[128]} as q4_k plus bit 4 of element 64c + l at bit 2c
//                                                of qh[l], of 64c + 32 + l at bit 2c + 1
//   q6_k   {ql[128]; qh[64]; int8 scales[16]; d} 16 sub-blocks of 16, int8 scales; for half h and
//                                                l < 32, elements e = 128h + l + 32t (t = 0..3):
//                                                low nibbles in ql[64h + l] (t = 0 low, t = 2 high)
//                                                and ql[64h + 32 + l] (t = 1 low, t = 3 high); bits
//                                                4..5 at bits 2t of qh[32h + l]; w = d sc (q - 32)
//   iq4_nl {d; qs[16]}                           as q4_0 with w = d kIq4nl[q]
//   iq4_xs {d; u16 scales_h; scales_l[4]; qs[128]} 8 sub-blocks of 32, 6-bit scale ls stored +32:
//                                                low 4 bits in nibble (j % 2) of scales_l[j / 2],
//                                                high 2 at bits 2j of scales_h; each sub-block's 16
//                                                qs bytes packed like q4_0; w = d (ls - 32)
//                                                kIq4nl[q]
// q4_k / q5_k 6-bit scale and min packing of sub-block j (sc, m in 0..63), in 12 bytes s[]:
//   j < 4:  s[j] bits 0..5 = sc, s[j + 4] bits 0..5 = m
//   j >= 4: s[j + 4] low nibble = sc & 15, high nibble = m & 15;
//           sc >> 4 in bits 6..7 of s[j - 4], m >> 4 in bits 6..7 of s[j]
#pragma once
#include <cstdint>

namespace bitsmith {
namespace ggml {

constexpr int kQK = 32;    // weights per block of the *_0 / *_1 / iq4_nl types
constexpr int kQKK = 256;  // weights per super-block of the k-quants and iq4_xs

struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[32];
};
struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[16];
};
struct BlockQ4_1 {
  uint16_t d, m;
  uint8_t qs[16];
};
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[16];
};
struct BlockQ5_1 {
  uint16_t d, m;
  uint8_t qh[4];
  uint8_t qs[16];
};
struct BlockQ2_K {
  uint8_t scales[16];
  uint8_t qs[64];
  uint16_t d, dmin;
};
struct BlockQ3_K {
  uint8_t hmask[32];
  uint8_t qs[64];
  uint8_t scales[12];
  uint16_t d;
};
struct BlockQ4_K {
  uint16_t d, dmin;
  uint8_t scales[12];
  uint8_t qs[128];
};
struct BlockQ5_K {
  uint16_t d, dmin;
  uint8_t scales[12];
  uint8_t qh[32];
  uint8_t qs[128];
};
struct BlockQ6_K {
  uint8_t ql[128];
  uint8_t qh[64];
  int8_t scales[16];
  uint16_t d;
};
struct BlockIQ4_NL {
  uint16_t d;
  uint8_t qs[16];
};
struct BlockIQ4_XS {
  uint16_t d;
  uint16_t scales_h;
  uint8_t scales_l[4];
  uint8_t qs[128];
};

static_assert(sizeof(BlockQ8_0) == 2 + 32, "q8_0 block is 34 bytes");
static_assert(sizeof(BlockQ4_0) == 2 + 16, "q4_0 block is 18 bytes");
static_assert(sizeof(BlockQ4_1) == 4 + 16, "q4_1 block is 20 bytes");
static_assert(sizeof(BlockQ5_0) == 2 + 4 + 16, "q5_0 block is 22 bytes");
static_assert(sizeof(BlockQ5_1) == 4 + 4 + 16, "q5_1 block is 24 bytes");
static_assert(sizeof(BlockQ2_K) == 16 + 64 + 4, "q2_k block is 84 bytes");
static_assert(sizeof(BlockQ3_K) == 32 + 64 + 12 + 2, "q3_k block is 110 bytes");
static_assert(sizeof(BlockQ4_K) == 4 + 12 + 128, "q4_k block is 144 bytes");
static_assert(sizeof(BlockQ5_K) == 4 + 12 + 32 + 128, "q5_k block is 176 bytes");
static_assert(sizeof(BlockQ6_K) == 128 + 64 + 16 + 2, "q6_k block is 210 bytes");
static_assert(sizeof(BlockIQ4_NL) == 2 + 16, "iq4_nl block is 18 bytes");
static_assert(sizeof(BlockIQ4_XS) == 2 + 2 + 4 + 128, "iq4_xs block is 136 bytes");

// The 16 values of the IQ4_NL / IQ4_XS non-linear grid, ascending.
constexpr int8_t kIq4nl[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                               1,    13,   25,  38,  53,  69,  89,  113};

// q4_k / q5_k scale and min of sub-block j.
inline void kScaleMin(const uint8_t* s, int j, int& sc, int& m) {
  if (j < 4) {
    sc = s[j] & 63;
    m = s[j + 4] & 63;
  } else {
    sc = (s[j + 4] & 15) | ((s[j - 4] >> 6) << 4);
    m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}
// q3_k's stored (6-bit, +32) scale of sub-block j.
inline int q3Scale(const uint8_t* s, int j) {
  const int lo = j < 8 ? s[j] & 15 : s[j - 8] >> 4;
  return lo | (((s[8 + j % 4] >> (2 * (j / 4))) & 3) << 4);
}

}  // namespace ggml
}  // namespace bitsmith
