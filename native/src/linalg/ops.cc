#include "linalg/ops.h"

#include <cmath>

#include "common/cpu.h"

#if BITSMITH_X86
#include <immintrin.h>
#endif

namespace bitsmith {
namespace linalg {

void rmsNorm(const float* x, const float* w, float* out, int64_t n, float eps) {
  double ss = 0;
  for (int64_t i = 0; i < n; i++) ss += double(x[i]) * double(x[i]);
  const float r = float(1.0 / std::sqrt(ss / double(n > 0 ? n : 1) + double(eps)));
  if (w)
    for (int64_t i = 0; i < n; i++) out[i] = (x[i] * r) * w[i];
  else
    for (int64_t i = 0; i < n; i++) out[i] = x[i] * r;
}

#if BITSMITH_X86
namespace {
// e^x for 8 floats: x = n ln2 + r with |r| <= ln2/2 (ln2 split in two for an exact
// product), e^r by its degree-6 Taylor polynomial (relative error < 3e-7 on that range),
// times 2^n built in the exponent field. Inputs below -87.3 give 0 (softmax's
// max-subtracted arguments are <= 0).
BITSMITH_AVX2_FMA inline __m256 exp8(__m256 x) {
  const __m256 lo = _mm256_set1_ps(-87.3f);
  const __m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
  x = _mm256_max_ps(x, lo);
  x = _mm256_min_ps(x, _mm256_set1_ps(88.0f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.0f / 720.0f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  const __m256i e =
      _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_andnot_ps(under, _mm256_mul_ps(p, _mm256_castsi256_ps(e)));
}

BITSMITH_AVX2_FMA void softmaxAvx2(float* x, int64_t n) {
  int64_t i = 0;
  __m256 vm = _mm256_set1_ps(-INFINITY);
  for (; i + 8 <= n; i += 8) vm = _mm256_max_ps(vm, _mm256_loadu_ps(x + i));
  alignas(32) float t[8];
  _mm256_store_ps(t, vm);
  float mx = t[0];
  for (int k = 1; k < 8; k++) mx = t[k] > mx ? t[k] : mx;
  for (; i < n; i++) mx = x[i] > mx ? x[i] : mx;
  const __m256 m = _mm256_set1_ps(mx);
  __m256 acc = _mm256_setzero_ps();
  i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), m));
    _mm256_storeu_ps(x + i, e);
    acc = _mm256_add_ps(acc, e);
  }
  if (i < n) {
    alignas(32) float tail[8];
    for (int k = 0; k < 8; k++) tail[k] = i + k < n ? x[i + k] - mx : -INFINITY;
    const __m256 e = exp8(_mm256_load_ps(tail));
    _mm256_store_ps(tail, e);
    for (int k = 0; i + k < n; k++) x[i + k] = tail[k];
    acc = _mm256_add_ps(acc, e);
  }
  _mm256_store_ps(t, acc);
  double s = 0;
  for (int k = 0; k < 8; k++) s += t[k];
  const __m256 inv = _mm256_set1_ps(float(1.0 / s));
  i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), inv));
  for (; i < n; i++) x[i] *= float(1.0 / s);
}
}  // namespace
#endif

void softmax(float* x, int64_t n) {
  if (n <= 0) return;
#if BITSMITH_X86
  if (cpuHasAvx2Fma()) {
    softmaxAvx2(x, n);
    return;
  }
#endif
  float mx = x[0];
  for (int64_t i = 1; i < n; i++) mx = x[i] > mx ? x[i] : mx;
  double s = 0;
  for (int64_t i = 0; i < n; i++) {
    x[i] = std::exp(x[i] - mx);
    s += x[i];
  }
  const float inv = float(1.0 / s);
  for (int64_t i = 0; i < n; i++) x[i] *= inv;
}

double logSoftmax(const float* x, float* out, int64_t n) {
  if (n <= 0) return 0;
  float mx = x[0];
  for (int64_t i = 1; i < n; i++) mx = x[i] > mx ? x[i] : mx;
  double s = 0;
  for (int64_t i = 0; i < n; i++) s += std::exp(double(x[i]) - double(mx));
  const double lz = std::log(s);
  for (int64_t i = 0; i < n; i++) out[i] = float(double(x[i]) - double(mx) - lz);
  return lz + double(mx);
}

void swiglu(const float* gate, const float* up, float* out, int64_t n) {
  for (int64_t i = 0; i < n; i++) out[i] = silu(gate[i]) * up[i];
}

}  // namespace linalg
}  // namespace bitsmith
