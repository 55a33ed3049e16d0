#include "quant/kernels.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "common/cpu.h"

#if BITSMITH_X86
#include <immintrin.h>
#endif

namespace bitsmith {
namespace quant {

MinMax minmaxScalar(const float* x, int64_t n) {
  MinMax r{std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(), true};
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    if (!(std::fabs(v) < std::numeric_limits<float>::infinity())) r.finite = false;
    r.mn = std::min(r.mn, v);
    r.mx = std::max(r.mx, v);
  }
  return r;
}

#if BITSMITH_X86
namespace {
BITSMITH_AVX2 inline __m256 notFinite(__m256 v) {
  const __m256 absMask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  return _mm256_cmp_ps(_mm256_and_ps(v, absMask),
                       _mm256_set1_ps(std::numeric_limits<float>::infinity()), _CMP_NLT_UQ);
}

}  // namespace

BITSMITH_AVX2 MinMax minmaxAvx2(const float* x, int64_t n) {
  if (n < 16) return minmaxScalar(x, n);
  __m256 mn0 = _mm256_loadu_ps(x), mx0 = mn0;
  __m256 mn1 = _mm256_loadu_ps(x + 8), mx1 = mn1;
  __m256 bad = _mm256_or_ps(notFinite(mn0), notFinite(mn1));
  int64_t i = 16;
  for (; i + 16 <= n; i += 16) {
    const __m256 a = _mm256_loadu_ps(x + i), b = _mm256_loadu_ps(x + i + 8);
    mn0 = _mm256_min_ps(mn0, a);
    mx0 = _mm256_max_ps(mx0, a);
    mn1 = _mm256_min_ps(mn1, b);
    mx1 = _mm256_max_ps(mx1, b);
    bad = _mm256_or_ps(bad, _mm256_or_ps(notFinite(a), notFinite(b)));
  }
  for (; i + 8 <= n; i += 8) {
    const __m256 a = _mm256_loadu_ps(x + i);
    mn0 = _mm256_min_ps(mn0, a);
    mx0 = _mm256_max_ps(mx0, a);
    bad = _mm256_or_ps(bad, notFinite(a));
  }
  mn0 = _mm256_min_ps(mn0, mn1);
  mx0 = _mm256_max_ps(mx0, mx1);
  alignas(32) float lo[8], hi[8];
  _mm256_store_ps(lo, mn0);
  _mm256_store_ps(hi, mx0);
  MinMax r{lo[0], hi[0], _mm256_movemask_ps(bad) == 0};
  for (int k = 1; k < 8; ++k) {
    r.mn = std::min(r.mn, lo[k]);
    r.mx = std::max(r.mx, hi[k]);
  }
  if (i < n) {
    const MinMax t = minmaxScalar(x + i, n - i);
    r.mn = std::min(r.mn, t.mn);
    r.mx = std::max(r.mx, t.mx);
    r.finite = r.finite && t.finite;
  }
  return r;
}
#endif

static MinMax minmaxOne(const float* x, int64_t n, bool fast) {
#if BITSMITH_X86
  if (fast && cpuHasAvx2()) return minmaxAvx2(x, n);
#endif
  (void)fast;
  return minmaxScalar(x, n);
}

MinMax minmaxRange(const float* x, int64_t n, ThreadPool* pool, bool fast) {
  constexpr int64_t kChunk = 1 << 16;
  if (pool == nullptr || n <= kChunk) return minmaxOne(x, n, fast);
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<MinMax> part(static_cast<size_t>(chunks));
  parallelFor(pool, chunks, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t b = c * kChunk, e = std::min(n, b + kChunk);
      part[size_t(c)] = minmaxOne(x + b, e - b, fast);
    }
  });
  MinMax r = part[0];
  for (size_t c = 1; c < part.size(); ++c) {
    r.mn = std::min(r.mn, part[c].mn);
    r.mx = std::max(r.mx, part[c].mx);
    r.finite = r.finite && part[c].finite;
  }
  return r;
}

void streamFence() {
#if BITSMITH_X86
  _mm_sfence();
#endif
}

}  // namespace quant
}  // namespace bitsmith
