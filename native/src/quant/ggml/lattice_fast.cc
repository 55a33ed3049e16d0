// The AVX2 twin of nearestPoint (lattice.h): the same levels and lattice code, then the
// neighbour list scored 8 points at a time (one point per lane, each coordinate's term
// looked up by its level with a lane permute), each error summed in pointError's order, the
// first of the smallest kept: the same point and the same error, bit for bit (no FMA: see
// common/cpu.h).
#include <algorithm>
#include <cmath>

#include "common/cpu.h"
#include "quant/ggml/lattice.h"

#if BITSMITH_LATTICE_AVX2
#include <immintrin.h>
#endif
#include <stdexcept>

namespace bitsmith {
namespace ggml {

#if BITSMITH_LATTICE_AVX2
namespace {

// ((a0 + a4) + (a2 + a6)) + ((a1 + a5) + (a3 + a7)).
BITSMITH_AVX2 inline float hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps(s, s, 1)));
}
// (a0 + a2) + (a1 + a3).
BITSMITH_AVX2 inline float hsum4(__m128 a) {
  const __m128 s = _mm_add_ps(a, _mm_movehl_ps(a, a));
  return _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps(s, s, 1)));
}
BITSMITH_AVX2 inline int hor(__m128i s) {
  s = _mm_or_si128(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
  s = _mm_or_si128(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm_cvtsi128_si32(s);
}

}  // namespace

BITSMITH_AVX2 int nearestPointAvx2(const Lattice& L, const float* t, const float* w, float D,
                                   float id, float off, float* err) {
  const int b = L.bits;
  const __m256 vD = _mm256_set1_ps(D), vOff = _mm256_set1_ps(off);
  int code, hit;
  if (L.dim == 8) {
    const __m256 u = _mm256_sub_ps(_mm256_mul_ps(_mm256_loadu_ps(t), _mm256_set1_ps(id)), vOff);
    __m256i lev = _mm256_setzero_si256();
    for (int m = 0; m + 1 < L.levels; ++m)
      lev = _mm256_sub_epi32(
          lev, _mm256_castps_si256(_mm256_cmp_ps(u, _mm256_set1_ps(L.mid[m]), _CMP_GT_OQ)));
    const __m256i sh =
        _mm256_sllv_epi32(lev, _mm256_setr_epi32(0, b, 2 * b, 3 * b, 4 * b, 5 * b, 6 * b, 7 * b));
    code = hor(_mm_or_si128(_mm256_castsi256_si128(sh), _mm256_extracti128_si256(sh, 1)));
    hit = L.map[size_t(code)];
    if (hit >= 0) {
      if (err) {
        const __m256 r = _mm256_sub_ps(
            _mm256_mul_ps(vD, _mm256_add_ps(_mm256_loadu_ps(L.val.data() + 8 * size_t(hit)), vOff)),
            _mm256_loadu_ps(t));
        *err = hsum8(_mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(w), r), r));
      }
      return hit;
    }
  } else {
    const __m128 u = _mm_sub_ps(_mm_mul_ps(_mm_loadu_ps(t), _mm_set1_ps(id)), _mm_set1_ps(off));
    __m128i lev = _mm_setzero_si128();
    for (int m = 0; m + 1 < L.levels; ++m)
      lev = _mm_sub_epi32(lev, _mm_castps_si128(_mm_cmpgt_ps(u, _mm_set1_ps(L.mid[m]))));
    code = hor(_mm_sllv_epi32(lev, _mm_setr_epi32(0, b, 2 * b, 3 * b)));
    hit = L.map[size_t(code)];
    if (hit >= 0) {
      if (err) {
        const __m128 r = _mm_sub_ps(
            _mm_mul_ps(_mm_set1_ps(D),
                       _mm_add_ps(_mm_loadu_ps(L.val.data() + 4 * size_t(hit)), _mm_set1_ps(off))),
            _mm_loadu_ps(t));
        *err = hsum4(_mm_mul_ps(_mm_mul_ps(_mm_loadu_ps(w), r), r));
      }
      return hit;
    }
  }
  // The neighbour list, 8 points per step: each lane's terms looked up by its level
  // (spare lanes of the last step score +inf).
  __m256 term[8];
  const __m256 vals = _mm256_loadu_ps(L.value);
  for (int i = 0; i < L.dim; ++i) {
    const __m256 r =
        _mm256_sub_ps(_mm256_mul_ps(vD, _mm256_add_ps(vals, vOff)), _mm256_set1_ps(t[i]));
    term[i] = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(w[i]), r), r);
  }
  const int at = -1 - hit;
  const uint16_t* list = L.nbr.data() + at;
  const uint16_t* codes = L.nbrCode.data() + at + 1;
  const int n = list[0];
  const __m256i mask = _mm256_set1_epi32((1 << b) - 1);
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256 inf = _mm256_set1_ps(INFINITY);
  int best = -1;
  float bestErr = 0;
  for (int j0 = 0; j0 < n; j0 += 8) {
    const __m256i c =
        _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(codes + j0)));
    __m256 p[8];
    for (int i = 0; i < L.dim; ++i)
      p[i] = _mm256_permutevar8x32_ps(
          term[i], _mm256_and_si256(_mm256_srl_epi32(c, _mm_cvtsi32_si128(b * i)), mask));
    __m256 e = L.dim == 8 ? _mm256_add_ps(
                                _mm256_add_ps(_mm256_add_ps(p[0], p[4]), _mm256_add_ps(p[2], p[6])),
                                _mm256_add_ps(_mm256_add_ps(p[1], p[5]), _mm256_add_ps(p[3], p[7])))
                          : _mm256_add_ps(_mm256_add_ps(p[0], p[2]), _mm256_add_ps(p[1], p[3]));
    e = _mm256_blendv_ps(inf, e,
                         _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(n - j0), lane)));
    __m128 m = _mm_min_ps(_mm256_castps256_ps128(e), _mm256_extractf128_ps(e, 1));
    m = _mm_min_ps(m, _mm_movehl_ps(m, m));
    const float mn = _mm_cvtss_f32(_mm_min_ss(m, _mm_shuffle_ps(m, m, 1)));
    if (best < 0 || mn < bestErr) {
      const int k = __builtin_ctz(
          unsigned(_mm256_movemask_ps(_mm256_cmp_ps(e, _mm256_set1_ps(mn), _CMP_EQ_OQ))));
      bestErr = mn;
      best = list[1 + j0 + k];
    }
  }
  if (err) *err = bestErr;
  return best;
}
#else
int nearestPointAvx2(const Lattice&, const float*, const float*, float, float, float, float*) {
  throw std::logic_error("nearestPointAvx2 is not built here");  // nearestPoint never calls it
}
#endif

}  // namespace ggml
}  // namespace bitsmith
