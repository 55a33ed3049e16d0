// Reference encoders of the ggml block formats (the spec of the fast paths).
//
// Every encoder works in two steps:
//   1. search: the scale (and min) of each block or sub-block by weighted least squares
//      over a grid of candidate scales: each candidate rounds the block onto its levels,
//      the best scale for those levels is solved in closed form, and the candidate with
//      the smallest weighted squared error wins (ggml's make_qx_quants / make_qkx2_quants
//      idea). Super-blocks then quantize their sub-block scales with the same search,
//      each sub-block scale weighted by how much its error costs (sum of w L^2 for a
//      scale, sum of w for a min).
//   2. codes: every weight takes the level nearest to it under the scales as stored (f16,
//      and the quantized sub-block scales), which is the best choice for those scales.
// The search weights w are 1 (plain squared error) or, given an importance vector, the
// column's importance (plus 1e-3 of the mean importance so no block is ignored entirely).
// Sums in the 16- and 32-weight searches are accumulated in 8 lanes (lane = index % 8)
// combined as ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)): the order of an AVX2
// horizontal sum, so the vectorised kernels reproduce them bit for bit (fast.cc: the
// candidate evaluations of the searches; fast32.cc: whole rows of the 32-weight types,
// whose searches are search.cc's sym32Search / asym32Search / iq4x32Search).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "common/fp.h"
#include "quant/ggml/blocks.h"
#include "quant/ggml/internal.h"
#include "quant/ggml/iq_codec.h"
#include "quant/ggml/search.h"

namespace bitsmith {
namespace ggml {

namespace {

template <class B>
void store(uint8_t* out, const B& b) {
  std::memcpy(out, &b, sizeof(B));
}

// f16 of a scale, and the value a decoder reads back.
inline float half(float v, uint16_t& h) {
  h = f16FromF32Sat(v);
  return f16ToF32(h);
}
inline float inverse(float d) {
  return d != 0.0f ? 1.0f / d : 0.0f;
}

void encQ8_0(const float* x, const float* w, uint8_t* out) {
  BlockQ8_0 b;
  // The whole int8 range: the largest magnitude anchors at -128 (ggml decodes any int8).
  const float d = half(sym32Search(x, w, -128, 127, kGridQ8), b.d);
  const float inv = inverse(d);
  for (int i = 0; i < 32; ++i) b.qs[i] = int8_t(roundClamp(x[i] * inv, -128.0f, 127.0f));
  store(out, b);
}

// 4-bit codes of a 32-block, q4_0 order (low nibble i, high nibble i + 16).
inline void pack4(const int* L, uint8_t* qs) {
  for (int i = 0; i < 16; ++i) qs[i] = uint8_t(L[i] | (L[i + 16] << 4));
}

void encQ4_0(const float* x, const float* w, uint8_t* out) {
  BlockQ4_0 b;
  const float d = half(sym32Search(x, w, -8, 7, kGrid32Q4), b.d);
  const float inv = inverse(d);
  int L[32];
  for (int i = 0; i < 32; ++i) L[i] = int(roundClamp(x[i] * inv, -8.0f, 7.0f)) + 8;
  pack4(L, b.qs);
  store(out, b);
}

void encQ5_0(const float* x, const float* w, uint8_t* out) {
  BlockQ5_0 b;
  const float d = half(sym32Search(x, w, -16, 15, kGrid32Q5), b.d);
  const float inv = inverse(d);
  int L[32];
  uint32_t qh = 0;
  for (int i = 0; i < 32; ++i) {
    L[i] = int(roundClamp(x[i] * inv, -16.0f, 15.0f)) + 16;
    qh |= uint32_t(L[i] >> 4) << i;
    L[i] &= 15;
  }
  pack4(L, b.qs);
  std::memcpy(b.qh, &qh, 4);
  store(out, b);
}

template <int NMAX>
void asym32(const float* x, const float* w, uint16_t& dh, uint16_t& mh, int* L, const Grid& grid) {
  float s, m;
  asym32Search(x, w, NMAX, grid, s, m);
  const float d = half(s, dh), mn = half(m, mh);
  const float inv = inverse(d);
  for (int i = 0; i < 32; ++i) L[i] = int(roundClamp((x[i] - mn) * inv, 0.0f, float(NMAX)));
}

void encQ4_1(const float* x, const float* w, uint8_t* out) {
  BlockQ4_1 b;
  int L[32];
  asym32<15>(x, w, b.d, b.m, L, kGrid32A4);
  pack4(L, b.qs);
  store(out, b);
}

void encQ5_1(const float* x, const float* w, uint8_t* out) {
  BlockQ5_1 b;
  int L[32];
  asym32<31>(x, w, b.d, b.m, L, kGrid32A5);
  uint32_t qh = 0;
  for (int i = 0; i < 32; ++i) {
    qh |= uint32_t(L[i] >> 4) << i;
    L[i] &= 15;
  }
  pack4(L, b.qs);
  std::memcpy(b.qh, &qh, 4);
  store(out, b);
}

void encIQ4_NL(const float* x, const float* w, uint8_t* out) {
  BlockIQ4_NL b;
  const float d = half(iq4x32Search(x, w, kGrid32Iq4), b.d);
  const float inv = inverse(d);
  int L[32];
  for (int i = 0; i < 32; ++i) L[i] = iq4Index(x[i] * inv);
  pack4(L, b.qs);
  store(out, b);
}

// Sub-block scales and mins of the k-quants with mins (q2_k: 16 x 16, 4-bit; q4_k / q5_k:
// 8 x 32, 6-bit): searched per sub-block, then quantized against the super-block's d, dmin.
template <int SUB, int NMAX, int SMAX>
void kMinScales(const float* x, const float* w, const Grid& grid, uint16_t& dh, uint16_t& dminh,
                int* sc, int* mq, float* dl, float* dm) {
  constexpr int NS = 256 / SUB;
  float s[NS], mn[NS], sensS[NS], sensM[NS];
  for (int j = 0; j < NS; ++j) {
    float m, l2;
    asymSearch(x + SUB * j, w + SUB * j, SUB, NMAX, true, grid, s[j], m, &l2);
    mn[j] = -m;  // m <= 0: stored as a positive min subtracted
    sensS[j] = l2;
    float sw = 0;
    for (int i = 0; i < SUB; ++i) sw += w[SUB * j + i];
    sensM[j] = sw;
  }
  const float d = half(symSearch(s, sensS, NS, 0, SMAX, kGridScale, nullptr), dh);
  const float dmin = half(symSearch(mn, sensM, NS, 0, SMAX, kGridScale, nullptr), dminh);
  const float id = inverse(d), idm = inverse(dmin);
  for (int j = 0; j < NS; ++j) {
    // The rounded integer scale and min, and their neighbours: the pair whose block,
    // re-rounded, has the smallest weighted error.
    const int sc0 = int(roundClamp(s[j] * id, 0.0f, float(SMAX)));
    const int mq0 = int(roundClamp(mn[j] * idm, 0.0f, float(SMAX)));
    const float* xs = x + SUB * j;
    const float* ws = w + SUB * j;
    float best = -1;
    for (int a = std::max(0, sc0 - 1); a <= std::min(SMAX, sc0 + 1); ++a)
      for (int c = std::max(0, mq0 - 1); c <= std::min(SMAX, mq0 + 1); ++c) {
        const float l = d * float(a), m = dmin * float(c), inv = inverse(l);
        float e = 0;
        for (int i = 0; i < SUB; ++i) {
          const float r = l * roundClamp((xs[i] + m) * inv, 0.0f, float(NMAX)) - m - xs[i];
          e += ws[i] * r * r;
        }
        if (best < 0 || e < best) {
          best = e;
          sc[j] = a;
          mq[j] = c;
        }
      }
    dl[j] = d * float(sc[j]);
    dm[j] = dmin * float(mq[j]);
  }
}

template <int SUB, int NMAX, int NS>
void kMinCodes(const float* x, const float* dl, const float* dm, int* L) {
  for (int j = 0; j < NS; ++j) {
    const float inv = inverse(dl[j]);
    for (int i = 0; i < SUB; ++i)
      L[SUB * j + i] = int(roundClamp((x[SUB * j + i] + dm[j]) * inv, 0.0f, float(NMAX)));
  }
}

// Super-block refit: with the integer sub-block scales and codes fixed, the block is linear
// in (d, dmin): w' = d (sc L) - dmin m. Solve that 2x2 weighted least squares, store it,
// re-round the codes, and keep whichever of the two encodings has the smaller weighted
// error (as decoded).
template <int SUB, int NMAX, int NS>
void kMinRefit(const float* x, const float* w, const int* sc, const int* mq, uint16_t& dh,
               uint16_t& dminh, int* L) {
  double saa = 0, sab = 0, sbb = 0, sax = 0, sbx = 0;
  for (int j = 0; j < NS; ++j)
    for (int i = 0; i < SUB; ++i) {
      const int e = SUB * j + i;
      const double a = double(sc[j]) * L[e], bb = double(mq[j]), we = w[e];
      saa += we * a * a;
      sab += we * a * bb;
      sbb += we * bb * bb;
      sax += we * a * x[e];
      sbx += we * bb * x[e];
    }
  // Minimise sum w (d a - n b - x)^2 over d and n = dmin.
  const double det = saa * sbb - sab * sab;
  double d, n;
  if (det > 0) {
    d = (sax * sbb - sbx * sab) / det;
    n = (sax * sab - sbx * saa) / det;
  } else if (saa > 0) {
    d = sax / saa;
    n = 0;
  } else {
    return;
  }
  if (!(d > 0) || n < 0) return;
  uint16_t dh2, dminh2;
  const float d2 = half(float(d), dh2), dmin2 = half(float(n), dminh2);
  const float d1 = f16ToF32(dh), dmin1 = f16ToF32(dminh);
  float dl[NS], dm[NS], dl2[NS], dm2[NS];
  for (int j = 0; j < NS; ++j) {
    dl[j] = d1 * float(sc[j]);
    dm[j] = dmin1 * float(mq[j]);
    dl2[j] = d2 * float(sc[j]);
    dm2[j] = dmin2 * float(mq[j]);
  }
  int L2[NS * SUB];
  kMinCodes<SUB, NMAX, NS>(x, dl2, dm2, L2);
  double e1 = 0, e2 = 0;
  for (int j = 0; j < NS; ++j)
    for (int i = 0; i < SUB; ++i) {
      const int e = SUB * j + i;
      const double r1 = double(dl[j] * float(L[e]) - dm[j]) - x[e],
                   r2 = double(dl2[j] * float(L2[e]) - dm2[j]) - x[e];
      e1 += w[e] * r1 * r1;
      e2 += w[e] * r2 * r2;
    }
  if (e2 < e1) {
    dh = dh2;
    dminh = dminh2;
    std::memcpy(L, L2, sizeof(L2));
  }
}

void encQ2_K(const float* x, const float* w, uint8_t* out) {
  BlockQ2_K b;
  int sc[16], mq[16], L[256];
  float dl[16], dm[16];
  kMinScales<16, 3, 15>(x, w, kGridA2, b.d, b.dmin, sc, mq, dl, dm);
  kMinCodes<16, 3, 16>(x, dl, dm, L);
  kMinRefit<16, 3, 16>(x, w, sc, mq, b.d, b.dmin, L);
  for (int j = 0; j < 16; ++j) b.scales[j] = uint8_t(sc[j] | (mq[j] << 4));
  for (int h = 0; h < 2; ++h)
    for (int l = 0; l < 32; ++l) {
      const int* q = L + 128 * h + l;
      b.qs[32 * h + l] = uint8_t(q[0] | (q[32] << 2) | (q[64] << 4) | (q[96] << 6));
    }
  store(out, b);
}

inline void packK4Scales(const int* sc, const int* mq, uint8_t* s) {
  for (int j = 0; j < 4; ++j) {
    s[j] = uint8_t(sc[j] | ((sc[j + 4] >> 4) << 6));
    s[j + 4] = uint8_t(mq[j] | ((mq[j + 4] >> 4) << 6));
    s[j + 8] = uint8_t((sc[j + 4] & 15) | ((mq[j + 4] & 15) << 4));
  }
}

void encQ4_K(const float* x, const float* w, uint8_t* out) {
  BlockQ4_K b;
  int sc[8], mq[8], L[256];
  float dl[8], dm[8];
  kMinScales<32, 15, 63>(x, w, kGridA4K, b.d, b.dmin, sc, mq, dl, dm);
  kMinCodes<32, 15, 8>(x, dl, dm, L);
  kMinRefit<32, 15, 8>(x, w, sc, mq, b.d, b.dmin, L);
  packK4Scales(sc, mq, b.scales);
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l)
      b.qs[32 * c + l] = uint8_t(L[64 * c + l] | (L[64 * c + 32 + l] << 4));
  store(out, b);
}

void encQ5_K(const float* x, const float* w, uint8_t* out) {
  BlockQ5_K b;
  int sc[8], mq[8], L[256];
  float dl[8], dm[8];
  kMinScales<32, 31, 63>(x, w, kGridA5K, b.d, b.dmin, sc, mq, dl, dm);
  kMinCodes<32, 31, 8>(x, dl, dm, L);
  kMinRefit<32, 31, 8>(x, w, sc, mq, b.d, b.dmin, L);
  packK4Scales(sc, mq, b.scales);
  std::memset(b.qh, 0, 32);
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l) {
      const int a = L[64 * c + l], e = L[64 * c + 32 + l];
      b.qs[32 * c + l] = uint8_t((a & 15) | ((e & 15) << 4));
      b.qh[l] = uint8_t(b.qh[l] | ((a >> 4) << (2 * c)) | ((e >> 4) << (2 * c + 1)));
    }
  store(out, b);
}

// Signed sub-block scales quantized against one super-block d (q3_k: 6-bit, q6_k: int8,
// iq4_xs: 6-bit): returns the effective scales d * sc in dl.
template <int NS>
void signedScales(const float* s, const float* sens, int lo, int hi, uint16_t& dh, int* sc,
                  float* dl) {
  const float d = half(symSearch(s, sens, NS, lo, hi, kGridScale, nullptr), dh);
  const float id = inverse(d);
  for (int j = 0; j < NS; ++j) {
    sc[j] = int(roundClamp(s[j] * id, float(lo), float(hi)));
    dl[j] = d * float(sc[j]);
  }
}

// The rounded signed sub-block scale and its neighbours: the one whose sub-block,
// re-rounded by `code` (level value of x * inverse scale), has the smallest weighted error.
template <class Level>
void refineSigned(const float* x, const float* w, int n, float d, int lo, int hi, int& sc,
                  float& dl, Level level) {
  const int s0 = sc;
  float best = -1;
  for (int a = std::max(lo, s0 - 1); a <= std::min(hi, s0 + 1); ++a) {
    const float l = d * float(a), inv = inverse(l);
    float e = 0;
    for (int i = 0; i < n; ++i) {
      const float r = l * level(x[i] * inv) - x[i];
      e += w[i] * r * r;
    }
    if (best < 0 || e < best) {
      best = e;
      sc = a;
    }
  }
  dl = d * float(sc);
}

void encQ3_K(const float* x, const float* w, uint8_t* out) {
  BlockQ3_K b;
  float s[16], sens[16], dl[16];
  int sc[16], L[256];
  for (int j = 0; j < 16; ++j)
    s[j] = symSearch(x + 16 * j, w + 16 * j, 16, -4, 3, kGridQ3, &sens[j]);
  signedScales<16>(s, sens, -32, 31, b.d, sc, dl);
  for (int j = 0; j < 16; ++j)
    refineSigned(x + 16 * j, w + 16 * j, 16, f16ToF32(b.d), -32, 31, sc[j], dl[j],
                 [](float t) { return roundClamp(t, -4.0f, 3.0f); });
  std::memset(b.scales, 0, 12);
  for (int j = 0; j < 16; ++j) {
    const int v = sc[j] + 32;
    if (j < 8)
      b.scales[j] = uint8_t(b.scales[j] | (v & 15));
    else
      b.scales[j - 8] = uint8_t(b.scales[j - 8] | ((v & 15) << 4));
    b.scales[8 + j % 4] = uint8_t(b.scales[8 + j % 4] | ((v >> 4) << (2 * (j / 4))));
  }
  for (int j = 0; j < 16; ++j) {
    const float inv = inverse(dl[j]);
    for (int i = 0; i < 16; ++i)
      L[16 * j + i] = int(roundClamp(x[16 * j + i] * inv, -4.0f, 3.0f)) + 4;
  }
  std::memset(b.hmask, 0, 32);
  for (int h = 0; h < 2; ++h)
    for (int l = 0; l < 32; ++l) {
      const int* q = L + 128 * h + l;
      b.qs[32 * h + l] =
          uint8_t((q[0] & 3) | ((q[32] & 3) << 2) | ((q[64] & 3) << 4) | ((q[96] & 3) << 6));
      for (int s2 = 0; s2 < 4; ++s2)
        b.hmask[l] = uint8_t(b.hmask[l] | ((q[32 * s2] >> 2) << (4 * h + s2)));
    }
  store(out, b);
}

void encQ6_K(const float* x, const float* w, uint8_t* out) {
  BlockQ6_K b;
  float s[16], sens[16], dl[16];
  int sc[16], L[256];
  for (int j = 0; j < 16; ++j)
    s[j] = symSearch(x + 16 * j, w + 16 * j, 16, -32, 31, kGridQ6, &sens[j]);
  signedScales<16>(s, sens, -128, 127, b.d, sc, dl);
  for (int j = 0; j < 16; ++j)
    refineSigned(x + 16 * j, w + 16 * j, 16, f16ToF32(b.d), -128, 127, sc[j], dl[j],
                 [](float t) { return roundClamp(t, -32.0f, 31.0f); });
  for (int j = 0; j < 16; ++j) {
    b.scales[j] = int8_t(sc[j]);
    const float inv = inverse(dl[j]);
    for (int i = 0; i < 16; ++i)
      L[16 * j + i] = int(roundClamp(x[16 * j + i] * inv, -32.0f, 31.0f)) + 32;
  }
  for (int h = 0; h < 2; ++h)
    for (int l = 0; l < 32; ++l) {
      const int* q = L + 128 * h + l;
      b.ql[64 * h + l] = uint8_t((q[0] & 15) | ((q[64] & 15) << 4));
      b.ql[64 * h + 32 + l] = uint8_t((q[32] & 15) | ((q[96] & 15) << 4));
      b.qh[32 * h + l] =
          uint8_t((q[0] >> 4) | ((q[32] >> 4) << 2) | ((q[64] >> 4) << 4) | ((q[96] >> 4) << 6));
    }
  store(out, b);
}

void encIQ4_XS(const float* x, const float* w, uint8_t* out) {
  BlockIQ4_XS b;
  float s[8], sens[8], dl[8];
  int sc[8];
  for (int j = 0; j < 8; ++j) s[j] = iq4Search(x + 32 * j, w + 32 * j, 32, kGridIq4, &sens[j]);
  signedScales<8>(s, sens, -32, 31, b.d, sc, dl);
  for (int j = 0; j < 8; ++j)
    refineSigned(x + 32 * j, w + 32 * j, 32, f16ToF32(b.d), -32, 31, sc[j], dl[j],
                 [](float t) { return float(kIq4nl[iq4Index(t)]); });
  b.scales_h = 0;
  std::memset(b.scales_l, 0, 4);
  for (int j = 0; j < 8; ++j) {
    const int v = sc[j] + 32;
    b.scales_l[j / 2] = uint8_t(b.scales_l[j / 2] | ((v & 15) << (4 * (j % 2))));
    b.scales_h = uint16_t(b.scales_h | ((v >> 4) << (2 * j)));
    const float inv = inverse(dl[j]);
    int L[32];
    for (int i = 0; i < 32; ++i) L[i] = iq4Index(x[32 * j + i] * inv);
    pack4(L, b.qs + 16 * j);
  }
  store(out, b);
}

}  // namespace

void encodeBlock(GgmlType t, const float* x, const float* w, uint8_t* out, bool fast,
                 bool calibrated) {
  setFastKernels(fast);
  if (isLatticeType(t)) {
    LatticeCodes c;
    encodeLattice(t, x, w, calibrated, c);
    packLattice(t, c, out);
    return;
  }
  switch (t) {
    case GgmlType::Q8_0:
      encQ8_0(x, w, out);
      return;
    case GgmlType::Q4_0:
      encQ4_0(x, w, out);
      return;
    case GgmlType::Q4_1:
      encQ4_1(x, w, out);
      return;
    case GgmlType::Q5_0:
      encQ5_0(x, w, out);
      return;
    case GgmlType::Q5_1:
      encQ5_1(x, w, out);
      return;
    case GgmlType::Q2_K:
      encQ2_K(x, w, out);
      return;
    case GgmlType::Q3_K:
      encQ3_K(x, w, out);
      return;
    case GgmlType::Q4_K:
      encQ4_K(x, w, out);
      return;
    case GgmlType::Q5_K:
      encQ5_K(x, w, out);
      return;
    case GgmlType::Q6_K:
      encQ6_K(x, w, out);
      return;
    case GgmlType::IQ4_NL:
      encIQ4_NL(x, w, out);
      return;
    case GgmlType::IQ4_XS:
      encIQ4_XS(x, w, out);
      return;
    case GgmlType::TQ1_0:
    case GgmlType::TQ2_0:
      encodeTernaryBlock(t, x, w, out);
      return;
    default:
      break;
  }
  throw std::invalid_argument("unknown ggml type");
}

}  // namespace ggml
}  // namespace bitsmith
