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
//
// The i-quants of 2 and 3 bits and the 1-bit ones (super-blocks of 256; iq_grids.h holds the
// grids). A group of 8 weights (iq2, iq1) or 4 (iq3) is one point of a grid, named by its
// index; iq2 / iq3 points are magnitudes and the signs are stored apart, 8 per group of 8:
// "7-bit signs" store 7 and the 8th makes the count of negatives even (sign index s, byte
// s | parity(s) << 7, bit i = weight i negative). Scale s (4 bits) of a sub-block: db =
// d (0.5 + s) / 4 for iq2, d (0.5 + s) / 2 for iq3_xxs, d (1 + 2 s) for iq3_s and iq1;
// w = db * point[i] * sign (iq2, iq3), w = db (point[i] + delta) (iq1, delta = +-1/8).
//   iq2_xxs {d; u16 qs[32]}                 sub-block j of 32 = 8 bytes at 8j: bytes 0..3
//                                           grid indices of its 4 groups (kIq2xxsGrid), then
//                                           a u32: bits 7l.. 7-bit signs of group l, bits 28..31 s
//   iq2_xs  {d; u16 qs[32]; scales[8]}      group g: qs[g] bits 0..8 index (kIq2xsGrid), 9..15
//                                           7-bit signs; 16-weight half h: s = nibble h % 2 of
//                                           scales[h / 2]
//   iq2_s   {d; qs[64]; qh[8]; scales[8]}   group g: index qs[g] | bits 2(g%4)..+1 of qh[g/4] << 8
//                                           (kIq2sGrid), signs byte qs[32 + g]; scales as iq2_xs
//   iq3_xxs {d; qs[96]}                     quad k: index qs[k] (kIq3xxsGrid); sub-block j: u32
//                                           at 64 + 4j as iq2_xxs's (signs per group of 8, s)
//   iq3_s   {d; qs[64]; qh[8]; signs[32]; scales[4]}  quad k: index qs[k] | bit k%8 of qh[k/8]
//                                           << 8 (kIq3sGrid); signs[g] of group g; sub-block j:
//                                           s = nibble j % 2 of scales[j / 2]
//   iq1_s   {d; qs[32]; u16 qh[8]}          group g of sub-block j = g / 4: index qs[g] | bits
//                                           3(g%4)..+2 of qh[j] << 8 (kIq1sGrid); qh[j] bits
//                                           12..14 s, bit 15: delta = -1/8 (else +1/8)
//   iq1_m   {qs[32]; qh[16]; scales[8]}     group g: index qs[g] | bits 0..2 of nibble g % 2 of
//                                           qh[g / 2] << 8, bit 3 of that nibble: delta -1/8;
//                                           16-weight half h: s = bits 3(h%4)..+2 of the u16
//                                           scales[h/4]; the f16 d is the top nibbles of the
//                                           four u16s, scales[0]'s lowest
//   tq1_0   {qs[48]; qh[4]; d}              ternary t in {-1, 0, 1}, w = d t; 5 trits a byte: the
//                                           byte ceil(256 v / 243) for v = sum t'_n 3^(4-n),
//                                           t' = t + 1, trit n read back as ((byte 3^n) mod 256 *
//                                           3) >> 8; qs[m] (m < 32): elements m + 32n, qs[32 + m]
//                                           (m < 16): 160 + m + 16n, qh[m]: 240 + m + 4n (4
//                                           trits, then one 0 trit)
//   tq2_0   {qs[64]; d}                     element 128c + 32l + m: bits 2l of qs[32c + m] = t + 1
//                                           (3 reads as 2); w = d (q - 1)
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

struct BlockIQ2_XXS {
  uint16_t d;
  uint16_t qs[32];
};
struct BlockIQ2_XS {
  uint16_t d;
  uint16_t qs[32];
  uint8_t scales[8];
};
struct BlockIQ2_S {
  uint16_t d;
  uint8_t qs[64];
  uint8_t qh[8];
  uint8_t scales[8];
};
struct BlockIQ3_XXS {
  uint16_t d;
  uint8_t qs[96];
};
struct BlockIQ3_S {
  uint16_t d;
  uint8_t qs[64];
  uint8_t qh[8];
  uint8_t signs[32];
  uint8_t scales[4];
};
struct BlockIQ1_S {
  uint16_t d;
  uint8_t qs[32];
  uint16_t qh[8];
};
struct BlockIQ1_M {
  uint8_t qs[32];
  uint8_t qh[16];
  uint8_t scales[8];
};
struct BlockTQ1_0 {
  uint8_t qs[48];
  uint8_t qh[4];
  uint16_t d;
};
struct BlockTQ2_0 {
  uint8_t qs[64];
  uint16_t d;
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
static_assert(sizeof(BlockIQ2_XXS) == 2 + 64, "iq2_xxs block is 66 bytes");
static_assert(sizeof(BlockIQ2_XS) == 2 + 64 + 8, "iq2_xs block is 74 bytes");
static_assert(sizeof(BlockIQ2_S) == 2 + 64 + 8 + 8, "iq2_s block is 82 bytes");
static_assert(sizeof(BlockIQ3_XXS) == 2 + 96, "iq3_xxs block is 98 bytes");
static_assert(sizeof(BlockIQ3_S) == 2 + 64 + 8 + 32 + 4, "iq3_s block is 110 bytes");
static_assert(sizeof(BlockIQ1_S) == 2 + 32 + 16, "iq1_s block is 50 bytes");
static_assert(sizeof(BlockIQ1_M) == 32 + 16 + 8, "iq1_m block is 56 bytes");
static_assert(sizeof(BlockTQ1_0) == 48 + 4 + 2, "tq1_0 block is 54 bytes");
static_assert(sizeof(BlockTQ2_0) == 64 + 2, "tq2_0 block is 66 bytes");

// The 16 values of the IQ4_NL / IQ4_XS non-linear grid, ascending.
constexpr int8_t kIq4nl[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                               1,    13,   25,  38,  53,  69,  89,  113};

// iq1_s / iq1_m: the shift of a group's values (w = db (point[i] +- delta)).
constexpr float kIq1Delta = 0.125f;
// iq1_m's f16 super-block scale, from the top nibbles of its four u16 scale words.
inline uint16_t iq1mScale(const uint16_t* sc) {
  return uint16_t((sc[0] >> 12) | ((sc[1] >> 8) & 0x00f0) | ((sc[2] >> 4) & 0x0f00) |
                  (sc[3] & 0xf000));
}
// tq1_0: the byte (0..47 in qs, 48..51 in qh) and trit position n of element e.
inline void tq1Place(int e, int& byte, int& n) {
  if (e < 160) {
    byte = e % 32;
    n = e / 32;
  } else if (e < 240) {
    byte = 32 + (e - 160) % 16;
    n = (e - 160) / 16;
  } else {
    byte = 48 + (e - 240) % 4;
    n = (e - 240) / 4;
  }
}
// Trit n (0 = most significant) of a tq1_0 byte, 0..2 (ggml's fixed-point read).
inline int tq1Trit(uint8_t byte, int n) {
  static constexpr uint8_t pow3[5] = {1, 3, 9, 27, 81};
  const uint8_t q = uint8_t(byte * pow3[n]);
  return (int(q) * 3) >> 8;
}

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
