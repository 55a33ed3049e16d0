// Whole-block AVX2 (+ F16C) encoders of the 32-weight types (q8_0, q4_0, q5_0, q4_1, q5_1,
// iq4_nl): the fast path of ggmlEncodeRows for them. A row is encoded in chunks of blocks,
// phase by phase (see kChunk); a block's candidate evaluations run on its 4 vectors in
// registers, the choices and f16 scales of 8 blocks at once, codes are packed in registers.
// They compute exactly what the scalar spec computes (search.cc sym32Search /
// asym32Search / iq4x32Search, encode.cc): the same products in the same order (no FMA),
// lane i % 8 accumulating element i, the spec's horizontal-sum order, the same double-
// precision candidate algebra (4 candidates per __m256d, IEEE like the scalar code), the
// same first-best choice of a candidate, f16 rounding as f16FromF32Sat; so they write the
// reference path's bytes (the tests check it). With unit search weights (no importance)
// the products w * l are skipped: 1 * l == l.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "common/cpu.h"
#include "common/fp.h"
#include "quant/ggml/blocks.h"
#include "quant/ggml/internal.h"
#include "quant/ggml/search.h"

#if BITSMITH_X86 && (defined(__GNUC__) || defined(__clang__))
#define BITSMITH_FAST32 1
#include <cpuid.h>
#include <immintrin.h>
#else
#define BITSMITH_FAST32 0
#endif

namespace bitsmith {
namespace ggml {

#if BITSMITH_FAST32
namespace {

#define BITSMITH_F16C __attribute__((target("avx2,f16c")))
BITSMITH_AVX2 inline __m256 rne(__m256 v) {
  return _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

// Eight horizontal sums at once, each in hsum8's order ((a0 + a4) + (a2 + a6)) +
// ((a1 + a5) + (a3 + a7)); returns [s(v0), s(v2), s(v4), s(v6), s(v1), s(v3), s(v5), s(v7)].
BITSMITH_AVX2 inline __m256 hsum8x(__m256 v0, __m256 v1, __m256 v2, __m256 v3, __m256 v4, __m256 v5,
                                   __m256 v6, __m256 v7) {
  // a_j + a_{j+4}: v_even in the low 128 bits, v_odd in the high.
  const __m256 p01 =
      _mm256_add_ps(_mm256_permute2f128_ps(v0, v1, 0x20), _mm256_permute2f128_ps(v0, v1, 0x31));
  const __m256 p23 =
      _mm256_add_ps(_mm256_permute2f128_ps(v2, v3, 0x20), _mm256_permute2f128_ps(v2, v3, 0x31));
  const __m256 p45 =
      _mm256_add_ps(_mm256_permute2f128_ps(v4, v5, 0x20), _mm256_permute2f128_ps(v4, v5, 0x31));
  const __m256 p67 =
      _mm256_add_ps(_mm256_permute2f128_ps(v6, v7, 0x20), _mm256_permute2f128_ps(v6, v7, 0x31));
  // (a0 + a4) + (a2 + a6) and (a1 + a5) + (a3 + a7): [q02(A), q02(C), q13(A), q13(C)] per half.
  const __m256 m0 = _mm256_add_ps(_mm256_unpacklo_ps(p01, p23), _mm256_unpackhi_ps(p01, p23));
  const __m256 m1 = _mm256_add_ps(_mm256_unpacklo_ps(p45, p67), _mm256_unpackhi_ps(p45, p67));
  return _mm256_add_ps(_mm256_shuffle_ps(m0, m1, _MM_SHUFFLE(1, 0, 1, 0)),
                       _mm256_shuffle_ps(m0, m1, _MM_SHUFFLE(3, 2, 3, 2)));
}
BITSMITH_AVX2 inline float hsum1(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps(s, s, 1)));
}

// hmax / hmin of 8 lanes (exact: order does not matter).
BITSMITH_AVX2 inline float hmax8(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  return _mm_cvtss_f32(_mm_max_ss(m, _mm_shuffle_ps(m, m, 1)));
}
BITSMITH_AVX2 inline float hmin8(__m256 v) {
  __m128 m = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_min_ps(m, _mm_movehl_ps(m, m));
  return _mm_cvtss_f32(_mm_min_ss(m, _mm_shuffle_ps(m, m, 1)));
}

// The rows are encoded in chunks of kChunk blocks, phase by phase (search set-up, candidate
// sums, choice and stored scales, codes): each phase's blocks are independent, so the
// out-of-order core overlaps them instead of waiting on one block's long dependency chain.
constexpr int kChunk = 32;

// Codes of a block: round((x - off) * inv) clamped to lo..hi, as int32 lanes.
BITSMITH_AVX2 inline void codes(const float* x, __m256 inv, __m256 off, __m256 vlo, __m256 vhi,
                                __m256i* q) {
  for (int v = 0; v < 4; ++v) {
    const __m256 t = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + 8 * v), off), inv);
    q[v] = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(rne(t), vlo), vhi));
  }
}
// q4_0 nibble order: byte i = code i | code (i + 16) << 4 (codes 0..15).
BITSMITH_AVX2 inline void pack4(const __m256i* q, uint8_t* qs) {
  const __m256i c0 = _mm256_or_si256(q[0], _mm256_slli_epi32(q[2], 4));
  const __m256i c1 = _mm256_or_si256(q[1], _mm256_slli_epi32(q[3], 4));
  const __m256i p = _mm256_permute4x64_epi64(_mm256_packus_epi32(c0, c1), _MM_SHUFFLE(3, 1, 2, 0));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(qs),
                   _mm_packus_epi16(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1)));
}
// Bit 4 of code i at bit i; codes reduced to their low 4 bits.
BITSMITH_AVX2 inline uint32_t high5(__m256i* q) {
  uint32_t qh = 0;
  const __m256i low = _mm256_set1_epi32(15);
  for (int v = 0; v < 4; ++v) {
    qh |= uint32_t(_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_slli_epi32(q[v], 27)))) << (8 * v);
    q[v] = _mm256_and_si256(q[v], low);
  }
  return qh;
}

enum class Sym { Q8_0, Q4_0, Q5_0, IQ4_NL };

// iq4Index of 8 values t, given t2 = 2 t (exact). The midpoints between grid values are
// half-integers m_k / 2, and t > m_k / 2 <=> ceil(2 t) > m_k; with v = ceil(2 t) + 256
// clamped to 0..511 (every m_k + 256 lies inside), the index is the number of m_k + 256
// below v: the count of whole 32-wide bins below v's bin (v >> 5) plus the at most two
// midpoints inside it (thresholds on v & 31; 31 = none), three 16-entry byte lookups.
struct Iq4Tables {
  alignas(16) uint8_t base[16], r1[16], r2[16];
  Iq4Tables() {
    for (int b = 0; b < 16; ++b) {
      base[b] = 0;
      r1[b] = r2[b] = 31;
    }
    for (int k = 0; k < 15; ++k) {
      const int m = kIq4nl[k] + kIq4nl[k + 1] + 256, b = m >> 5;
      for (int c = b + 1; c < 16; ++c) ++base[c];
      if (r1[b] == 31)
        r1[b] = uint8_t(m & 31);
      else
        r2[b] = uint8_t(m & 31);
    }
  }
};
const Iq4Tables kIq4Tables;

BITSMITH_AVX2 inline __m256i iq4IndexV(__m256 t2) {
  const __m256 c = _mm256_min_ps(_mm256_max_ps(_mm256_ceil_ps(t2), _mm256_set1_ps(-256.0f)),
                                 _mm256_set1_ps(255.0f));
  const __m256i v = _mm256_add_epi32(_mm256_cvtps_epi32(c), _mm256_set1_epi32(256));
  const __m256i bin = _mm256_or_si256(_mm256_srli_epi32(v, 5), _mm256_set1_epi32(int(0x80808000u)));
  const __m256i r = _mm256_and_si256(v, _mm256_set1_epi32(31));
  const __m256i tb = _mm256_broadcastsi128_si256(
      _mm_load_si128(reinterpret_cast<const __m128i*>(kIq4Tables.base)));
  const __m256i t1 =
      _mm256_broadcastsi128_si256(_mm_load_si128(reinterpret_cast<const __m128i*>(kIq4Tables.r1)));
  const __m256i t2b =
      _mm256_broadcastsi128_si256(_mm_load_si128(reinterpret_cast<const __m128i*>(kIq4Tables.r2)));
  __m256i idx = _mm256_shuffle_epi8(tb, bin);
  idx = _mm256_sub_epi32(idx, _mm256_cmpgt_epi32(r, _mm256_shuffle_epi8(t1, bin)));
  return _mm256_sub_epi32(idx, _mm256_cmpgt_epi32(r, _mm256_shuffle_epi8(t2b, bin)));
}
// kIq4nl[idx] as floats.
BITSMITH_AVX2 inline __m256 iq4Level(__m256i idx) {
  const __m256 tlo = _mm256_setr_ps(-127, -104, -83, -65, -49, -35, -22, -10);
  const __m256 thi = _mm256_setr_ps(1, 13, 25, 38, 53, 69, 89, 113);
  const __m256 upper = _mm256_castsi256_ps(_mm256_cmpgt_epi32(idx, _mm256_set1_epi32(7)));
  return _mm256_blendv_ps(_mm256_permutevar8x32_ps(tlo, idx), _mm256_permutevar8x32_ps(thi, idx),
                          upper);
}

// 8 x 8 transpose: r[i] lane k -> r[k] lane i.
BITSMITH_AVX2 inline void transpose8(__m256* r) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 u0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0)),
               u1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 u2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0)),
               u3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 u4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0)),
               u5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 u6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0)),
               u7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
  r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
  r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
  r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
  r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
  r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
  r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
  r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
  r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

// f16FromF32Sat of 8 values (never NaN here) with F16C, and the values a decoder reads.
BITSMITH_F16C inline __m128i f16Sat8(__m256 v, __m256& back) {
  const __m256 lim = _mm256_set1_ps(65504.0f);
  const __m128i h =
      _mm256_cvtps_ph(_mm256_min_ps(_mm256_max_ps(v, _mm256_sub_ps(_mm256_setzero_ps(), lim)), lim),
                      _MM_FROUND_TO_NEAREST_INT);
  back = _mm256_cvtph_ps(h);
  return h;
}
// 1 / d of 8 values, 0 where d is 0.
BITSMITH_AVX2 inline __m256 inverse8(__m256 d) {
  const __m256 z = _mm256_setzero_ps();
  return _mm256_blendv_ps(z, _mm256_div_ps(_mm256_set1_ps(1.0f), d),
                          _mm256_cmp_ps(d, z, _CMP_NEQ_OQ));
}

// sym32Search + the codes of q8_0 / q4_0 / q5_0; K = 1, 2 or 4 candidates.
template <bool UNIT, Sym T, int K>
BITSMITH_F16C bool rowSym(const float* x, const float* w, int64_t nb, uint8_t* out) {
  constexpr bool IQ4 = T == Sym::IQ4_NL;
  constexpr int lo = T == Sym::Q8_0 ? -128 : T == Sym::Q5_0 ? -16 : -8, hi = -lo - 1;
  constexpr size_t bytes = T == Sym::Q8_0   ? sizeof(BlockQ8_0)
                           : T == Sym::Q5_0 ? sizeof(BlockQ5_0)
                                            : sizeof(BlockQ4_0);
  const float* delta = (T == Sym::Q8_0   ? kGridQ8
                        : T == Sym::Q5_0 ? kGrid32Q5
                        : IQ4            ? kGrid32Iq4
                                         : kGrid32Q4)
                           .delta;
  // The numerators of the candidate inverse scales: anchor = lo (-lo >= hi), sgn = -1; for
  // iq4_nl kIq4nl[0] - delta (iq4x32Search).
  float num[K];
  for (int k = 0; k < K; ++k)
    num[k] = IQ4 ? float(kIq4nl[0]) - delta[k] : float(lo) + -1.0f * delta[k];
  const __m256 vlo = _mm256_set1_ps(float(lo)), vhi = _mm256_set1_ps(float(hi));
  const __m256 absMask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  const __m256i maxFinite = _mm256_set1_epi32(0x7f7fffff);
  __m256i bad = _mm256_setzero_si256();  // lanes that saw a NaN or infinity
  alignas(32) float mxs[kChunk], live[kChunk], isc[K][kChunk], sums[kChunk][8], inv[kChunk],
      lanes[kChunk][2 * K][8];
  alignas(32) uint16_t dh[kChunk];
  for (int64_t c0 = 0; c0 < nb; c0 += kChunk) {
    const int n = int(std::min<int64_t>(kChunk, nb - c0)), n8 = (n + 7) & ~7;
    const float* xc = x + 32 * c0;
    const float* wc = w + 32 * c0;
    // A: the element of the largest magnitude (the first of them: the scalar loop's strict >).
    for (int j = 0; j < n; ++j) {
      const float* xb = xc + 32 * j;
      __m256 a[4];
      for (int v = 0; v < 4; ++v) {
        a[v] = _mm256_and_ps(_mm256_loadu_ps(xb + 8 * v), absMask);
        bad = _mm256_or_si256(bad, _mm256_cmpgt_epi32(_mm256_castps_si256(a[v]), maxFinite));
      }
      const float amax = hmax8(_mm256_max_ps(_mm256_max_ps(a[0], a[1]), _mm256_max_ps(a[2], a[3])));
      const __m256 av = _mm256_set1_ps(amax);
      uint32_t hit = 0;
      for (int v = 0; v < 4; ++v)
        hit |= uint32_t(_mm256_movemask_ps(_mm256_cmp_ps(a[v], av, _CMP_EQ_OQ))) << (8 * v);
      const bool ok = amax >= kTiny;
      mxs[j] = ok ? xb[__builtin_ctz(hit | 0x80000000u)] : 1.0f;
      live[j] = ok ? 1.0f : 0.0f;
    }
    for (int j = n; j < n8; ++j) {
      mxs[j] = 1.0f;
      live[j] = 0.0f;
    }
    // The candidate inverse scales, 8 blocks at a time.
    for (int j = 0; j < n8; j += 8) {
      const __m256 mx = _mm256_load_ps(mxs + j);
      for (int k = 0; k < K; ++k) {
        const __m256 is = _mm256_div_ps(_mm256_set1_ps(num[k]), mx);
        // iq4_nl: twice the inverse scale (exact), see iq4IndexV: (2 s) x rounds to 2 (s x)
        // except in the subnormal range, where iq4Index is the same (no midpoint in (-4.5, 7)).
        _mm256_store_ps(isc[k] + j, IQ4 ? _mm256_add_ps(is, is) : is);
      }
    }
    // B: per candidate, lane sums of w l x and w l^2 (candidate by candidate over the
    // chunk: short independent chains), then their horizontal sums (sums[j] = lx0..3, ll0..3).
    for (int c = 0; c < K; ++c)
      for (int j = 0; j < n8; ++j) {
        if (live[j] == 0.0f) continue;
        const float* xb = xc + 32 * j;
        const float* wb = wc + 32 * j;
        const __m256 s = _mm256_broadcast_ss(&isc[c][j]);
        __m256 slx = _mm256_setzero_ps(), sl2 = slx;
        for (int v = 0; v < 4; ++v) {
          const __m256 xv = _mm256_loadu_ps(xb + 8 * v);
          const __m256 l = IQ4 ? iq4Level(iq4IndexV(_mm256_mul_ps(s, xv)))
                               : _mm256_min_ps(_mm256_max_ps(rne(_mm256_mul_ps(s, xv)), vlo), vhi);
          const __m256 wl = UNIT ? l : _mm256_mul_ps(_mm256_loadu_ps(wb + 8 * v), l);
          const __m256 px = _mm256_mul_ps(wl, xv), pl = _mm256_mul_ps(wl, l);
          slx = v ? _mm256_add_ps(slx, px) : px;
          sl2 = v ? _mm256_add_ps(sl2, pl) : pl;
        }
        _mm256_store_ps(lanes[j][2 * c], slx);
        _mm256_store_ps(lanes[j][2 * c + 1], sl2);
      }
    for (int j = 0; j < n8; ++j) {
      if (live[j] == 0.0f) {
        _mm256_store_ps(sums[j], _mm256_setzero_ps());
      } else if (K == 1) {
        _mm256_store_ps(sums[j], _mm256_setzero_ps());
        sums[j][0] = hsum1(_mm256_load_ps(lanes[j][0]));
        sums[j][4] = hsum1(_mm256_load_ps(lanes[j][1]));
      } else {
        // K = 2: the missing candidates' lanes are zeros (their sums, unused, are 0).
        __m256 a[8];
        for (int i = 0; i < 8; ++i)
          a[i] = i < 2 * K ? _mm256_load_ps(lanes[j][i]) : _mm256_setzero_ps();
        _mm256_store_ps(sums[j], hsum8x(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]));
      }
    }
    // C, 8 blocks at a time: the first candidate of the highest score lx^2 / ll (ll > 0),
    // d = lx / ll (0 without one), its f16 and the inverse of that.
    for (int j = 0; j < n8; j += 8) {
      __m256 r[8];
      for (int i = 0; i < 8; ++i) r[i] = _mm256_load_ps(sums[j + i]);
      transpose8(r);  // r[k] = lx_k, r[4 + k] = ll_k of the 8 blocks
      const __m256 z = _mm256_setzero_ps();
      __m256 best = _mm256_set1_ps(-1.0f), bx = z, bl = z;
      for (int k = 0; k < K; ++k) {
        const __m256 lx = r[k], ll = r[4 + k];
        const __m256 score = _mm256_div_ps(_mm256_mul_ps(lx, lx), ll);
        const __m256 take =
            _mm256_and_ps(_mm256_cmp_ps(ll, z, _CMP_GT_OQ), _mm256_cmp_ps(score, best, _CMP_GT_OQ));
        best = _mm256_blendv_ps(best, score, take);
        bx = _mm256_blendv_ps(bx, lx, take);
        bl = _mm256_blendv_ps(bl, ll, take);
      }
      const __m256 use = _mm256_and_ps(_mm256_cmp_ps(bl, z, _CMP_GT_OQ),
                                       _mm256_cmp_ps(_mm256_load_ps(live + j), z, _CMP_NEQ_OQ));
      const __m256 d = _mm256_blendv_ps(z, _mm256_div_ps(bx, bl), use);
      __m256 back;
      _mm_store_si128(reinterpret_cast<__m128i*>(dh + j), f16Sat8(d, back));
      _mm256_store_ps(inv + j, inverse8(back));
    }
    // D: codes and packing.
    uint8_t* o = out + bytes * size_t(c0);
    // The next chunk into the cache; past the row's end that is the next row's start (rows
    // are contiguous; a prefetch past the matrix is harmless), so each row but the first
    // arrives prefetched.
    const char* next = reinterpret_cast<const char*>(xc + 32 * kChunk);
    for (int j = 0; j < n; ++j, o += bytes) {
      _mm_prefetch(next + 128 * j, _MM_HINT_T0);
      _mm_prefetch(next + 128 * j + 64, _MM_HINT_T0);
      __m256i q[4];
      if (IQ4) {
        const __m256 i2 = _mm256_set1_ps(2.0f * inv[j]);
        for (int v = 0; v < 4; ++v)
          q[v] = iq4IndexV(_mm256_mul_ps(_mm256_loadu_ps(xc + 32 * j + 8 * v), i2));
      } else {
        codes(xc + 32 * j, _mm256_broadcast_ss(&inv[j]), _mm256_setzero_ps(), vlo, vhi, q);
      }
      std::memcpy(o, &dh[j], 2);
      if (IQ4) {
        pack4(q, o + 2);
      } else if (T == Sym::Q8_0) {
        const __m256i a = _mm256_packs_epi32(q[0], q[1]), c = _mm256_packs_epi32(q[2], q[3]);
        const __m256i by = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(a, c),
                                                       _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + 2), by);
      } else {
        const __m256i off = _mm256_set1_epi32(-lo);
        for (int v = 0; v < 4; ++v) q[v] = _mm256_add_epi32(q[v], off);
        if (T == Sym::Q5_0) {
          const uint32_t qh = high5(q);
          std::memcpy(o + 2, &qh, 4);
          pack4(q, o + 6);
        } else {
          pack4(q, o + 2);
        }
      }
    }
  }
  return _mm256_testz_si256(bad, bad);
}

// asym32Search + the codes of q4_1 / q5_1 (8 candidates).
template <bool UNIT, bool FIVE>
BITSMITH_F16C bool rowAsym(const float* x, const float* w, int64_t nb, uint8_t* out) {
  constexpr int nmax = FIVE ? 31 : 15;
  constexpr size_t bytes = FIVE ? sizeof(BlockQ5_1) : sizeof(BlockQ4_1);
  const float* delta = (FIVE ? kGrid32A5 : kGrid32A4).delta;
  const float fmax = float(nmax);
  const __m256 vfmax = _mm256_set1_ps(fmax), dl = _mm256_loadu_ps(delta);
  const __m256 absMask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  const __m256i maxFinite = _mm256_set1_epi32(0x7f7fffff);
  __m256i bad = _mm256_setzero_si256();  // lanes that saw a NaN or infinity
  alignas(32) float isc[kChunk][8], sums[kChunk][24], mns[kChunk], mxs[kChunk], inv[kChunk],
      mq[kChunk], sv[kChunk], mv[kChunk];
  alignas(32) double mom[kChunk][4];  // Sw, Sx, Sxx
  bool live[kChunk];
  alignas(32) uint16_t dh[kChunk], mh[kChunk];
  for (int64_t c0 = 0; c0 < nb; c0 += kChunk) {
    const int n = int(std::min<int64_t>(kChunk, nb - c0));
    const float* xc = x + 32 * c0;
    const float* wc = w + 32 * c0;
    // A: min, max, the weighted moments, the candidate inverse scales.
    for (int j = 0; j < n; ++j) {
      const float* xb = xc + 32 * j;
      const float* wb = wc + 32 * j;
      __m256 xv[4];
      for (int v = 0; v < 4; ++v) {
        xv[v] = _mm256_loadu_ps(xb + 8 * v);
        bad = _mm256_or_si256(
            bad, _mm256_cmpgt_epi32(_mm256_castps_si256(_mm256_and_ps(xv[v], absMask)), maxFinite));
      }
      const float mn =
          hmin8(_mm256_min_ps(_mm256_min_ps(xv[0], xv[1]), _mm256_min_ps(xv[2], xv[3]))) + 0.0f;
      const float mx =
          hmax8(_mm256_max_ps(_mm256_max_ps(xv[0], xv[1]), _mm256_max_ps(xv[2], xv[3])));
      mns[j] = mn;
      mxs[j] = mx;
      live[j] = mx - mn >= kTiny;
      if (!live[j]) continue;
      __m256 sw = _mm256_setzero_ps(), sx = sw, sxx = sw;
      for (int v = 0; v < 4; ++v) {
        const __m256 wv = UNIT ? _mm256_set1_ps(1.0f) : _mm256_loadu_ps(wb + 8 * v);
        const __m256 wx = _mm256_mul_ps(wv, xv[v]), wxx = _mm256_mul_ps(wx, xv[v]);
        sw = v ? _mm256_add_ps(sw, wv) : wv;
        sx = v ? _mm256_add_ps(sx, wx) : wx;
        sxx = v ? _mm256_add_ps(sxx, wxx) : wxx;
      }
      mom[j][0] = hsum1(sw);
      mom[j][1] = hsum1(sx);
      mom[j][2] = hsum1(sxx);
      _mm256_store_ps(isc[j], _mm256_div_ps(_mm256_add_ps(vfmax, dl), _mm256_set1_ps(mx - mn)));
    }
    // B: per candidate, lane sums of w l, w l^2 and w l x, then their horizontal sums.
    for (int j = 0; j < n; ++j) {
      if (!live[j]) continue;
      const float* xb = xc + 32 * j;
      const float* wb = wc + 32 * j;
      const __m256 bmn = _mm256_broadcast_ss(&mns[j]);
      __m256 xv[4], xm[4], wv[4];
      for (int v = 0; v < 4; ++v) {
        xv[v] = _mm256_loadu_ps(xb + 8 * v);
        xm[v] = _mm256_sub_ps(xv[v], bmn);
        if (!UNIT) wv[v] = _mm256_loadu_ps(wb + 8 * v);
      }
      __m256 al[8], al2[8], axl[8];
      for (int c = 0; c < 8; ++c) {
        const __m256 sc = _mm256_broadcast_ss(&isc[j][c]);
        __m256 sl = _mm256_setzero_ps(), sl2 = sl, sxl = sl;
        for (int v = 0; v < 4; ++v) {
          // x - mn >= 0, so the spec's clamp at 0 never acts.
          const __m256 l = _mm256_min_ps(rne(_mm256_mul_ps(sc, xm[v])), vfmax);
          const __m256 wl = UNIT ? l : _mm256_mul_ps(wv[v], l);
          const __m256 pl2 = _mm256_mul_ps(wl, l), pxl = _mm256_mul_ps(wl, xv[v]);
          sl = v ? _mm256_add_ps(sl, wl) : wl;
          sl2 = v ? _mm256_add_ps(sl2, pl2) : pl2;
          sxl = v ? _mm256_add_ps(sxl, pxl) : pxl;
        }
        al[c] = sl;
        al2[c] = sl2;
        axl[c] = sxl;
      }
      // Natural candidate order: inputs (0, 4, 1, 5, 2, 6, 3, 7).
      _mm256_store_ps(sums[j], hsum8x(al[0], al[4], al[1], al[5], al[2], al[6], al[3], al[7]));
      _mm256_store_ps(sums[j] + 8,
                      hsum8x(al2[0], al2[4], al2[1], al2[5], al2[2], al2[6], al2[3], al2[7]));
      _mm256_store_ps(sums[j] + 16,
                      hsum8x(axl[0], axl[4], axl[1], axl[5], axl[2], axl[6], axl[3], axl[7]));
    }
    // C: the candidates' least-squares (s, m) and errors in double; the first of the
    // smallest error; the stored f16 scale and min.
    const __m256d two = _mm256_set1_pd(2.0), inf = _mm256_set1_pd(INFINITY);
    for (int j = 0; j < n; ++j) {
      float s = 0, m = mns[j];
      if (live[j]) {
        s = (mxs[j] - mns[j]) / fmax;
        const __m256d Sw = _mm256_set1_pd(mom[j][0]), Sx = _mm256_set1_pd(mom[j][1]),
                      Sxx = _mm256_set1_pd(mom[j][2]);
        __m256d err[2], tsv[2], tmv[2];
        for (int h = 0; h < 2; ++h) {
          const __m256d Sl = _mm256_cvtps_pd(_mm_load_ps(sums[j] + 4 * h));
          const __m256d Sl2 = _mm256_cvtps_pd(_mm_load_ps(sums[j] + 8 + 4 * h));
          const __m256d Sxl = _mm256_cvtps_pd(_mm_load_ps(sums[j] + 16 + 4 * h));
          const __m256d D = _mm256_sub_pd(_mm256_mul_pd(Sw, Sl2), _mm256_mul_pd(Sl, Sl));
          const __m256d ts =
              _mm256_div_pd(_mm256_sub_pd(_mm256_mul_pd(Sw, Sxl), _mm256_mul_pd(Sx, Sl)), D);
          const __m256d tm =
              _mm256_div_pd(_mm256_sub_pd(_mm256_mul_pd(Sl2, Sx), _mm256_mul_pd(Sl, Sxl)), D);
          const __m256d ts2 = _mm256_mul_pd(two, ts);
          // Sxx - 2 ts Sxl - 2 tm Sx + ts ts Sl2 + 2 ts tm Sl + tm tm Sw, left to right.
          __m256d e = _mm256_sub_pd(Sxx, _mm256_mul_pd(ts2, Sxl));
          e = _mm256_sub_pd(e, _mm256_mul_pd(_mm256_mul_pd(two, tm), Sx));
          e = _mm256_add_pd(e, _mm256_mul_pd(_mm256_mul_pd(ts, ts), Sl2));
          e = _mm256_add_pd(e, _mm256_mul_pd(_mm256_mul_pd(ts2, tm), Sl));
          e = _mm256_add_pd(e, _mm256_mul_pd(_mm256_mul_pd(tm, tm), Sw));
          const __m256d zero = _mm256_setzero_pd();
          const __m256d ok = _mm256_and_pd(_mm256_cmp_pd(D, zero, _CMP_GT_OQ),
                                           _mm256_cmp_pd(ts, zero, _CMP_GT_OQ));
          // err < +inf (NaN and +inf never win, as in the spec's err < best).
          err[h] = _mm256_blendv_pd(inf, e, _mm256_and_pd(ok, _mm256_cmp_pd(e, inf, _CMP_LT_OQ)));
          tsv[h] = ts;
          tmv[h] = tm;
        }
        __m256d mn2 = _mm256_min_pd(err[0], err[1]);
        mn2 = _mm256_min_pd(mn2, _mm256_permute2f128_pd(mn2, mn2, 1));
        mn2 = _mm256_min_pd(mn2, _mm256_shuffle_pd(mn2, mn2, 5));
        if (_mm256_cvtsd_f64(mn2) < INFINITY) {
          const unsigned hit =
              unsigned(_mm256_movemask_pd(_mm256_cmp_pd(err[0], mn2, _CMP_EQ_OQ))) |
              (unsigned(_mm256_movemask_pd(_mm256_cmp_pd(err[1], mn2, _CMP_EQ_OQ))) << 4);
          const int k = __builtin_ctz(hit);
          alignas(32) double t[8];
          _mm256_store_pd(t, tsv[0]);
          _mm256_store_pd(t + 4, tsv[1]);
          s = float(t[k]);
          _mm256_store_pd(t, tmv[0]);
          _mm256_store_pd(t + 4, tmv[1]);
          m = float(t[k]);
        }
      }
      sv[j] = s;
      mv[j] = m;
    }
    for (int j = n; j < ((n + 7) & ~7); ++j) sv[j] = mv[j] = 0.0f;
    for (int j = 0; j < n; j += 8) {
      __m256 ds, dm;
      _mm_store_si128(reinterpret_cast<__m128i*>(dh + j), f16Sat8(_mm256_load_ps(sv + j), ds));
      _mm_store_si128(reinterpret_cast<__m128i*>(mh + j), f16Sat8(_mm256_load_ps(mv + j), dm));
      _mm256_store_ps(inv + j, inverse8(ds));
      _mm256_store_ps(mq + j, dm);
    }
    // D: codes and packing.
    const __m256 vzero = _mm256_setzero_ps();
    uint8_t* o = out + bytes * size_t(c0);
    // The next chunk into the cache; past the row's end that is the next row's start (rows
    // are contiguous; a prefetch past the matrix is harmless), so each row but the first
    // arrives prefetched.
    const char* next = reinterpret_cast<const char*>(xc + 32 * kChunk);
    for (int j = 0; j < n; ++j, o += bytes) {
      _mm_prefetch(next + 128 * j, _MM_HINT_T0);
      _mm_prefetch(next + 128 * j + 64, _MM_HINT_T0);
      __m256i q[4];
      codes(xc + 32 * j, _mm256_broadcast_ss(&inv[j]), _mm256_broadcast_ss(&mq[j]), vzero, vfmax,
            q);
      std::memcpy(o, &dh[j], 2);
      std::memcpy(o + 2, &mh[j], 2);
      if (FIVE) {
        const uint32_t qh = high5(q);
        std::memcpy(o + 4, &qh, 4);
        pack4(q, o + 8);
      } else {
        pack4(q, o + 4);
      }
    }
  }
  return _mm256_testz_si256(bad, bad);
}

template <bool UNIT>
bool row(GgmlType t, const float* x, const float* w, int64_t nb, uint8_t* out) {
  switch (t) {
    case GgmlType::Q8_0:
      return rowSym<UNIT, Sym::Q8_0, 1>(x, w, nb, out);
    case GgmlType::Q4_0:
      return rowSym<UNIT, Sym::Q4_0, 2>(x, w, nb, out);
    case GgmlType::Q5_0:
      return rowSym<UNIT, Sym::Q5_0, 4>(x, w, nb, out);
    case GgmlType::IQ4_NL:
      return rowSym<UNIT, Sym::IQ4_NL, 4>(x, w, nb, out);
    case GgmlType::Q4_1:
      return rowAsym<UNIT, false>(x, w, nb, out);
    case GgmlType::Q5_1:
      return rowAsym<UNIT, true>(x, w, nb, out);
    default:
      return true;
  }
}

}  // namespace

bool encodeRowFast32(GgmlType t, const float* x, const float* w, bool unit, int64_t blocks,
                     uint8_t* out, bool& finite) {
  static const bool f16c = [] {
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C);
  }();
  if (!cpuHasAvx2() || !f16c) return false;
  if (t != GgmlType::Q8_0 && t != GgmlType::Q4_0 && t != GgmlType::Q5_0 && t != GgmlType::Q4_1 &&
      t != GgmlType::Q5_1 && t != GgmlType::IQ4_NL)
    return false;
  static_assert(sizeof(BlockQ4_0) == 18 && sizeof(BlockQ5_1) == 24, "block sizes");
  if (kGrid32Q4.n != 2 || kGrid32Q5.n != 4 || kGrid32A4.n != 8 || kGrid32A5.n != 8 ||
      kGrid32Iq4.n != 4 || kGridQ8.n != 1)
    return false;
  finite = unit ? row<true>(t, x, w, blocks, out) : row<false>(t, x, w, blocks, out);
  return true;
}
#else
bool encodeRowFast32(GgmlType, const float*, const float*, bool, int64_t, uint8_t*, bool&) {
  return false;
}
#endif

}  // namespace ggml
}  // namespace bitsmith
