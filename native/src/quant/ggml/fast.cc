// AVX2 versions of the searches' candidate evaluations (search.h). They follow the scalar
// spec operation for operation: the same products in the same order (no FMA: see
// common/cpu.h), lane i % 8 accumulating element i, and the spec's horizontal-sum order,
// so they return the same floats and the fast path writes the reference path's bytes.
#include "common/cpu.h"
#include "quant/ggml/blocks.h"
#include "quant/ggml/search.h"

#if BITSMITH_X86
#include <immintrin.h>
#endif

namespace bitsmith {
namespace ggml {

#if BITSMITH_X86
namespace {
// ((a0 + a4) + (a2 + a6)) + ((a1 + a5) + (a3 + a7)), as hsum8 in search.h.
BITSMITH_AVX2 inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps(s, s, 1)));
}
BITSMITH_AVX2 inline __m256 rne(__m256 v) {
  return _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
}  // namespace

BITSMITH_AVX2 void symCandAvx2(const float* x, const float* w, int n, float iscale, float lo,
                               float hi, float& lx, float& ll) {
  const __m256 s = _mm256_set1_ps(iscale), vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
  __m256 slx = _mm256_setzero_ps(), sl2 = _mm256_setzero_ps();
  for (int i = 0; i < n; i += 8) {
    const __m256 xv = _mm256_loadu_ps(x + i), wv = _mm256_loadu_ps(w + i);
    const __m256 l = _mm256_min_ps(_mm256_max_ps(rne(_mm256_mul_ps(s, xv)), vlo), vhi);
    const __m256 wl = _mm256_mul_ps(wv, l);
    slx = _mm256_add_ps(slx, _mm256_mul_ps(wl, xv));
    sl2 = _mm256_add_ps(sl2, _mm256_mul_ps(wl, l));
  }
  lx = hsum(slx);
  ll = hsum(sl2);
}

BITSMITH_AVX2 void asymCandAvx2(const float* x, const float* w, int n, float iscale, float mn,
                                float fmax, float& fl, float& fl2, float& fxl) {
  const __m256 s = _mm256_set1_ps(iscale), vmn = _mm256_set1_ps(mn), vhi = _mm256_set1_ps(fmax);
  const __m256 zero = _mm256_setzero_ps();
  __m256 sl = zero, sl2 = zero, sxl = zero;
  for (int i = 0; i < n; i += 8) {
    const __m256 xv = _mm256_loadu_ps(x + i), wv = _mm256_loadu_ps(w + i);
    const __m256 l =
        _mm256_min_ps(_mm256_max_ps(rne(_mm256_mul_ps(s, _mm256_sub_ps(xv, vmn))), zero), vhi);
    const __m256 wl = _mm256_mul_ps(wv, l);
    sl = _mm256_add_ps(sl, wl);
    sl2 = _mm256_add_ps(sl2, _mm256_mul_ps(wl, l));
    sxl = _mm256_add_ps(sxl, _mm256_mul_ps(wl, xv));
  }
  fl = hsum(sl);
  fl2 = hsum(sl2);
  fxl = hsum(sxl);
}

BITSMITH_AVX2 void iq4CandAvx2(const float* x, const float* w, int n, float iscale, float& lx,
                               float& ll) {
  const __m256 s = _mm256_set1_ps(iscale);
  const __m256 tlo = _mm256_setr_ps(-127, -104, -83, -65, -49, -35, -22, -10);
  const __m256 thi = _mm256_setr_ps(1, 13, 25, 38, 53, 69, 89, 113);
  __m256 mids[15];
  for (int k = 0; k < 15; ++k) mids[k] = _mm256_set1_ps(0.5f * float(kIq4nl[k] + kIq4nl[k + 1]));
  __m256 slx = _mm256_setzero_ps(), sl2 = _mm256_setzero_ps();
  for (int i = 0; i < n; i += 8) {
    const __m256 xv = _mm256_loadu_ps(x + i), wv = _mm256_loadu_ps(w + i);
    const __m256 t = _mm256_mul_ps(s, xv);
    __m256i idx = _mm256_setzero_si256();
    for (int k = 0; k < 15; ++k)
      idx = _mm256_sub_epi32(idx, _mm256_castps_si256(_mm256_cmp_ps(t, mids[k], _CMP_GT_OQ)));
    const __m256 lo = _mm256_permutevar8x32_ps(tlo, idx), hi = _mm256_permutevar8x32_ps(thi, idx);
    const __m256 upper = _mm256_castsi256_ps(_mm256_cmpgt_epi32(idx, _mm256_set1_epi32(7)));
    const __m256 l = _mm256_blendv_ps(lo, hi, upper);
    const __m256 wl = _mm256_mul_ps(wv, l);
    slx = _mm256_add_ps(slx, _mm256_mul_ps(wl, xv));
    sl2 = _mm256_add_ps(sl2, _mm256_mul_ps(wl, l));
  }
  lx = hsum(slx);
  ll = hsum(sl2);
}
#else
void symCandAvx2(const float*, const float*, int, float, float, float, float&, float&) {}
void asymCandAvx2(const float*, const float*, int, float, float, float, float&, float&, float&) {}
void iq4CandAvx2(const float*, const float*, int, float, float&, float&) {}
#endif

}  // namespace ggml
}  // namespace bitsmith
