// Range statistics shared by the grid quantizers: min and max with a finiteness check
// (scalar spec and AVX2), over one group or, in parallel, over a whole tensor.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "common/cpu.h"

#if BITSMITH_X86
#include <immintrin.h>
#endif

#include "threads/pool.h"

namespace bitsmith {
namespace quant {

struct MinMax {
  float mn, mx;  // +inf / -inf for an empty range
  bool finite;   // no NaN or Inf seen
};

MinMax minmaxScalar(const float* x, int64_t n);
// Vectorised when `fast` and AVX2 is available; parallel over `pool` for long ranges.
// min and max are exact (order independent), so every variant returns the same values,
// up to the sign of a zero (callers canonicalise with + 0.0f).
MinMax minmaxRange(const float* x, int64_t n, ThreadPool* pool, bool fast);

// Non-temporal store fence (after streaming stores of a chunk).
void streamFence();

#if BITSMITH_X86
// The AVX2 min/max over a long range.
BITSMITH_AVX2 MinMax minmaxAvx2(const float* x, int64_t n);

// Non-temporal store of 8 floats at a 16-byte aligned address (malloc'd and V8 buffers
// are 16-byte aligned, not always 32).
BITSMITH_AVX2 inline void stream8(float* p, __m256 v) {
  _mm_stream_ps(p, _mm256_castps256_ps128(v));
  _mm_stream_ps(p + 4, _mm256_extractf128_ps(v, 1));
}

// Packs four vectors of 8 int32 codes (each in [0, 255]) into 32 bytes, in order.
BITSMITH_AVX2 inline void storeCodes32(uint8_t* out, __m256i q0, __m256i q1, __m256i q2,
                                       __m256i q3) {
  const __m256i b = _mm256_packus_epi16(_mm256_packs_epi32(q0, q1), _mm256_packs_epi32(q2, q3));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out),
                      _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
}

// Packs 8 int32 codes (each in [0, 255]) into 8 bytes, in order.
BITSMITH_AVX2 inline void storeCodes8(uint8_t* out, __m256i q) {
  const __m256i b = _mm256_packus_epi16(_mm256_packs_epi32(q, q), q);  // bytes 0-3 of each lane
  const uint32_t lo = uint32_t(_mm_cvtsi128_si32(_mm256_castsi256_si128(b)));
  const uint32_t hi = uint32_t(_mm_cvtsi128_si32(_mm256_extracti128_si256(b, 1)));
  std::memcpy(out, &lo, 4);
  std::memcpy(out + 4, &hi, 4);
}

// Horizontal min / max of 8 lanes.
BITSMITH_AVX2 inline float hmin8(__m256 v) {
  __m128 m = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_min_ps(m, _mm_movehl_ps(m, m));
  return _mm_cvtss_f32(_mm_min_ss(m, _mm_shuffle_ps(m, m, 1)));
}
BITSMITH_AVX2 inline float hmax8(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  return _mm_cvtss_f32(_mm_max_ss(m, _mm_shuffle_ps(m, m, 1)));
}

// Min / max of a group of n >= 8 elements. Finiteness is checked cheaply: x * 0 is 0 for
// finite x and NaN for NaN or Inf, and NaN sticks in a sum.
BITSMITH_AVX2 inline MinMax groupMinMax(const float* x, int64_t n) {
  if (n < 16) return minmaxScalar(x, n);
  __m256 mn0 = _mm256_loadu_ps(x), mx0 = mn0, mn1 = _mm256_loadu_ps(x + 8), mx1 = mn1;
  const __m256 zero = _mm256_setzero_ps();
  __m256 chk = _mm256_add_ps(_mm256_mul_ps(mn0, zero), _mm256_mul_ps(mn1, zero));
  int64_t i = 16;
  for (; i + 16 <= n; i += 16) {
    const __m256 a = _mm256_loadu_ps(x + i), b = _mm256_loadu_ps(x + i + 8);
    mn0 = _mm256_min_ps(mn0, a);
    mx0 = _mm256_max_ps(mx0, a);
    mn1 = _mm256_min_ps(mn1, b);
    mx1 = _mm256_max_ps(mx1, b);
    chk = _mm256_add_ps(chk, _mm256_add_ps(_mm256_mul_ps(a, zero), _mm256_mul_ps(b, zero)));
  }
  MinMax r{hmin8(_mm256_min_ps(mn0, mn1)), hmax8(_mm256_max_ps(mx0, mx1)),
           _mm256_movemask_ps(_mm256_cmp_ps(chk, chk, _CMP_UNORD_Q)) == 0};
  if (i < n) {
    const MinMax t = minmaxScalar(x + i, n - i);
    r.mn = std::min(r.mn, t.mn);
    r.mx = std::max(r.mx, t.mx);
    r.finite = r.finite && t.finite;
  }
  return r;
}

#endif

}  // namespace quant
}  // namespace bitsmith
