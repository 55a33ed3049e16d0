#include "quant/hqq.h"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "common/cpu.h"
#include "common/fp.h"

#if BITSMITH_X86
#include <immintrin.h>
#endif

namespace bitsmith {
namespace quant {

namespace {

constexpr float kTiny = 1.17549435e-38f;  // 2^-126, the smallest normal float
constexpr float kSqrt2 = 1.41421356f;
// ln(1 + f) on [sqrt(1/2) - 1, sqrt(2) - 1] and e^r on [-ln2/2, ln2/2]: the minimax
// polynomials of the Cephes single-precision logf / expf (ln2 split in two for exactness).
constexpr float kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f, kLog2e = 1.44269504088896341f;
constexpr float kL[9] = {7.0376836292e-2f,  -1.1514610310e-1f, 1.1676998740e-1f,
                         -1.2420140846e-1f, 1.4249322787e-1f,  -1.6668057665e-1f,
                         2.0000714765e-1f,  -2.4999993993e-1f, 3.3333331174e-1f};
constexpr float kE[6] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f,
                         4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f};

// a^e = exp(e ln a), every step a separate f32 multiply or add (no FMA: see common/cpu.h),
// in the order the AVX2 version does them.
inline float powSpec(float a, float e) {
  const uint32_t bits = f32Bits(a);
  float fe = float(int32_t(bits >> 23) - 127);
  float m = f32FromBits((bits & 0x007fffffu) | 0x3f800000u);
  if (m > kSqrt2) {
    m = m * 0.5f;
    fe = fe + 1.0f;
  }
  const float f = m - 1.0f;
  const float z = f * f;
  float y = kL[0];
  for (int k = 1; k < 9; ++k) y = y * f + kL[k];
  y = y * f;
  y = y * z;
  y = y + fe * kLn2Lo;
  y = y + -0.5f * z;
  float ln = f + y;
  ln = ln + fe * kLn2Hi;
  const float t = e * ln;
  const float n = std::nearbyint(t * kLog2e);
  float r = t - n * kLn2Hi;
  r = r - n * kLn2Lo;
  const float r2 = r * r;
  float p = kE[0];
  for (int k = 1; k < 6; ++k) p = p * r + kE[k];
  p = p * r2;
  p = p + r;
  p = p + 1.0f;
  return p * f32FromBits(uint32_t(int32_t(n) + 127) << 23);
}

struct Sums {
  double obj = 0;  // sum |e|^p
  float z = 0;     // sum of q - (w - W_e) / s
};

inline double tree(const double* l) {
  return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
}
inline float tree(const float* l) {
  return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
}

// One weight of a pass: the spec. Adds to lane sums.
template <bool ZInt>
inline void passOne(float w, const HqqGrid& g, float z, float pm1, float ib, double& obj,
                    float& zs) {
  const float t = w * g.inv;
  float r = ZInt ? std::nearbyint(t) + z : std::nearbyint(t + z);
  r = std::min(std::max(r, 0.0f), g.qmax);
  const float e = w - (r - z) * g.s;
  const float a = std::fabs(e);
  float we = 0.0f;
  if (a >= kTiny) {
    const float pw = powSpec(a, pm1);
    obj += double(a * pw);
    float m = a - pw * ib;
    m = m > 0.0f ? m : 0.0f;
    we = std::copysign(m, e);
  }
  zs += r - (w - we) * g.inv;
}

template <bool ZInt>
Sums passScalar(const float* x, int64_t n, const HqqGrid& g, float z, float pm1, float ib) {
  double ol[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  float zl[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int64_t i = 0; i < n; ++i) passOne<ZInt>(x[i], g, z, pm1, ib, ol[i & 7], zl[i & 7]);
  return Sums{tree(ol), tree(zl)};
}

#if BITSMITH_X86
BITSMITH_AVX2 inline __m256 powAvx2(__m256 a, __m256 e) {
  const __m256i bits = _mm256_castps_si256(a);
  __m256 fe =
      _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(bits, 23), _mm256_set1_epi32(127)));
  __m256 m = _mm256_castsi256_ps(_mm256_or_si256(
      _mm256_and_si256(bits, _mm256_set1_epi32(0x007fffff)), _mm256_set1_epi32(0x3f800000)));
  const __m256 big = _mm256_cmp_ps(m, _mm256_set1_ps(kSqrt2), _CMP_GT_OQ);
  m = _mm256_blendv_ps(m, _mm256_mul_ps(m, _mm256_set1_ps(0.5f)), big);
  fe = _mm256_add_ps(fe, _mm256_and_ps(big, _mm256_set1_ps(1.0f)));
  const __m256 f = _mm256_sub_ps(m, _mm256_set1_ps(1.0f));
  const __m256 z = _mm256_mul_ps(f, f);
  __m256 y = _mm256_set1_ps(kL[0]);
  for (int k = 1; k < 9; ++k) y = _mm256_add_ps(_mm256_mul_ps(y, f), _mm256_set1_ps(kL[k]));
  y = _mm256_mul_ps(y, f);
  y = _mm256_mul_ps(y, z);
  y = _mm256_add_ps(y, _mm256_mul_ps(fe, _mm256_set1_ps(kLn2Lo)));
  y = _mm256_add_ps(y, _mm256_mul_ps(_mm256_set1_ps(-0.5f), z));
  __m256 ln = _mm256_add_ps(f, y);
  ln = _mm256_add_ps(ln, _mm256_mul_ps(fe, _mm256_set1_ps(kLn2Hi)));
  const __m256 t = _mm256_mul_ps(e, ln);
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(t, _mm256_set1_ps(kLog2e)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_sub_ps(t, _mm256_mul_ps(n, _mm256_set1_ps(kLn2Hi)));
  r = _mm256_sub_ps(r, _mm256_mul_ps(n, _mm256_set1_ps(kLn2Lo)));
  const __m256 r2 = _mm256_mul_ps(r, r);
  __m256 p = _mm256_set1_ps(kE[0]);
  for (int k = 1; k < 6; ++k) p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(kE[k]));
  p = _mm256_mul_ps(p, r2);
  p = _mm256_add_ps(p, r);
  p = _mm256_add_ps(p, _mm256_set1_ps(1.0f));
  const __m256i pow2 =
      _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(pow2));
}

template <bool ZInt>
BITSMITH_AVX2 Sums passAvx2(const float* x, int64_t n, const HqqGrid& g, float z, float pm1,
                            float ib) {
  const __m256 vinv = _mm256_set1_ps(g.inv), vs = _mm256_set1_ps(g.s), vz = _mm256_set1_ps(z);
  const __m256 vq = _mm256_set1_ps(g.qmax), v0 = _mm256_setzero_ps(), vtiny = _mm256_set1_ps(kTiny);
  const __m256 vpm1 = _mm256_set1_ps(pm1), vib = _mm256_set1_ps(ib);
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256d o0 = _mm256_setzero_pd(), o1 = _mm256_setzero_pd();
  __m256 zl = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 w = _mm256_loadu_ps(x + i);
    const __m256 t = _mm256_mul_ps(w, vinv);
    __m256 r =
        ZInt ? _mm256_add_ps(_mm256_round_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), vz)
             : _mm256_round_ps(_mm256_add_ps(t, vz), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    r = _mm256_min_ps(vq, _mm256_max_ps(v0, r));  // == std::min(std::max(r, 0), qmax)
    const __m256 e = _mm256_sub_ps(w, _mm256_mul_ps(_mm256_sub_ps(r, vz), vs));
    const __m256 a = _mm256_andnot_ps(sign, e);
    const __m256 live = _mm256_cmp_ps(a, vtiny, _CMP_GE_OQ);
    const __m256 pw = powAvx2(_mm256_max_ps(a, vtiny), vpm1);
    const __m256 term = _mm256_and_ps(live, _mm256_mul_ps(a, pw));
    const __m256 m =
        _mm256_max_ps(_mm256_sub_ps(a, _mm256_mul_ps(pw, vib)), v0);  // (m > 0) ? m : 0
    const __m256 we = _mm256_and_ps(live, _mm256_or_ps(m, _mm256_and_ps(e, sign)));
    zl = _mm256_add_ps(zl, _mm256_sub_ps(r, _mm256_mul_ps(_mm256_sub_ps(w, we), vinv)));
    o0 = _mm256_add_pd(o0, _mm256_cvtps_pd(_mm256_castps256_ps128(term)));
    o1 = _mm256_add_pd(o1, _mm256_cvtps_pd(_mm256_extractf128_ps(term, 1)));
  }
  alignas(32) double ol[8];
  alignas(32) float zls[8];
  _mm256_store_pd(ol, o0);
  _mm256_store_pd(ol + 4, o1);
  _mm256_store_ps(zls, zl);
  for (; i < n; ++i) passOne<ZInt>(x[i], g, z, pm1, ib, ol[i & 7], zls[i & 7]);
  return Sums{tree(ol), tree(zls)};
}
#endif

Sums pass(const float* x, int64_t n, const HqqGrid& g, float z, float pm1, float ib, bool avx2) {
#if BITSMITH_X86
  if (avx2)
    return g.zeroInt ? passAvx2<true>(x, n, g, z, pm1, ib) : passAvx2<false>(x, n, g, z, pm1, ib);
#endif
  (void)avx2;
  return g.zeroInt ? passScalar<true>(x, n, g, z, pm1, ib) : passScalar<false>(x, n, g, z, pm1, ib);
}

}  // namespace

float hqqPow(float a, float e) {
  return powSpec(a, e);
}

float hqqStoreZero(float z, const HqqGrid& g) {
  if (g.zeroInt) return std::min(std::max(std::nearbyint(z), 0.0f), g.qmax);
  return f16ToF32(f16FromF32Sat(z)) + 0.0f;
}

void checkHqqOptions(const HqqOptions& o) {
  if (o.iters < 0 || o.iters > 1000)
    throw std::invalid_argument("hqq iters must be from 0 to 1000, got " + std::to_string(o.iters));
  if (!(o.lpNorm >= 0.05f && o.lpNorm <= 1.0f))
    throw std::invalid_argument("hqq lp_norm must be from 0.05 to 1, got " +
                                std::to_string(o.lpNorm));
  if (!(o.beta > 0 && std::isfinite(o.beta)))
    throw std::invalid_argument("hqq beta must be a positive number");
  if (!(o.kappa >= 1 && o.kappa <= 2))
    throw std::invalid_argument("hqq kappa must be from 1 to 2, got " + std::to_string(o.kappa));
}

namespace {
// The iteration from z0 on grid g; `store` false: the zero stays an f32 (the relaxation
// zero int uses). Returns the zero with the smallest objective seen.
HqqResult iterate(const float* x, int64_t n, const HqqGrid& g, float z0, const HqqOptions& o,
                  bool fast, bool store) {
  HqqResult res;
  res.z = z0;
  const float pm1 = o.lpNorm - 1.0f;
  float beta = o.beta, z = z0;
  double best = std::numeric_limits<double>::infinity();
  for (int k = 0;; ++k) {
    const Sums s = pass(x, n, g, z, pm1, 1.0f / beta, fast);
    if (!(s.obj < best)) break;  // the objective stopped decreasing: keep the best zero
    best = s.obj;
    res.z = z;
    if (k == o.iters) break;
    const float next = store ? hqqStoreZero(s.z / float(n), g) : s.z / float(n);
    res.updates++;
    if (next == z) break;  // a fixed point: the next pass would score the same zero
    z = next;
    beta = beta * o.kappa;
  }
  res.objective = best;
  return res;
}
}  // namespace

HqqResult hqqZero(const float* x, int64_t n, const HqqGrid& g, float z0, const HqqOptions& o,
                  bool scalar) {
  if (n <= 0 || !(g.s > 0) || o.iters <= 0) return HqqResult{z0, 0, 0};
  static const bool avx2 = cpuHasAvx2();
  const bool fast = !scalar && avx2;
  if (!g.zeroInt) return iterate(x, n, g, z0, o, fast, true);
  // zero int: the mean update moves the zero by less than one step, so rounding every
  // iterate would stay at RTN's zero. The iteration runs on the relaxation (a real zero,
  // the zero f16 rule q = round(w/s + z)); then the integers either side of its best zero
  // and RTN's are scored on the stored grid, and the best is kept (RTN's on ties).
  HqqGrid relaxed = g;
  relaxed.zeroInt = false;
  const HqqResult r = iterate(x, n, relaxed, z0, o, fast, false);
  HqqResult res{z0, r.updates, pass(x, n, g, z0, o.lpNorm - 1.0f, 1.0f, fast).obj};
  for (const float c : {std::floor(r.z), std::ceil(r.z)}) {
    const float zc = hqqStoreZero(c, g);
    if (zc == res.z) continue;
    const double obj = pass(x, n, g, zc, o.lpNorm - 1.0f, 1.0f, fast).obj;
    if (obj < res.objective) {
      res.objective = obj;
      res.z = zc;
    }
  }
  return res;
}

}  // namespace quant
}  // namespace bitsmith
