#include "run/stream_metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/cpu.h"
#include "io/dtype.h"

#if BITSMITH_X86
#include <immintrin.h>
#endif

namespace bitsmith {

namespace {
constexpr int64_t kBlock = 256;  // elements per float partial sum and per key batch
constexpr size_t kKeys = 65536;

using Partial = StreamMetrics::Partial;

// bf16 key of a finite float, rounded to nearest even (as conv::f32ToBf16).
inline uint32_t key(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
}

struct KeyTables {
  uint32_t* w;
  uint32_t* e;
  uint32_t* q;
};

void countKeys(const uint32_t* kw, const uint32_t* ke, const uint32_t* kq, int64_t n,
               const KeyTables& t) {
  uint32_t* wk1 = t.w + kKeys;
  uint32_t* ek1 = t.e + kKeys;
  uint32_t* qk1 = t.q + kKeys;
  int64_t i = 0;
  for (; i + 2 <= n; i += 2) {
    ++t.w[kw[i]];
    ++t.e[ke[i]];
    ++t.q[kq[i]];
    ++wk1[kw[i + 1]];
    ++ek1[ke[i + 1]];
    ++qk1[kq[i + 1]];
  }
  if (i < n) {
    ++t.w[kw[i]];
    ++t.e[ke[i]];
    ++t.q[kq[i]];
  }
}

void addScalar(const float* w, const float* q, int64_t n, Partial& p, const KeyTables& t) {
  uint32_t kw[kBlock], ke[kBlock], kq[kBlock];
  for (int64_t b = 0; b < n; b += kBlock) {
    const int64_t m = std::min(kBlock, n - b);
    float ww[4] = {0, 0, 0, 0}, ee[4] = {0, 0, 0, 0}, wq[4] = {0, 0, 0, 0}, qq[4] = {0, 0, 0, 0};
    for (int64_t i = 0; i < m; i++) {
      const float x = w[b + i], y = q[b + i], d = y - x;
      const int l = int(i & 3);
      ww[l] += x * x;
      ee[l] += d * d;
      wq[l] += x * y;
      qq[l] += y * y;
      p.wMin = x < p.wMin ? x : p.wMin;
      p.wMax = x > p.wMax ? x : p.wMax;
      p.eMin = d < p.eMin ? d : p.eMin;
      p.eMax = d > p.eMax ? d : p.eMax;
      kw[i] = key(x);
      ke[i] = key(d);
      kq[i] = key(y);
    }
    p.ww += double(ww[0] + ww[1]) + double(ww[2] + ww[3]);
    p.ee += double(ee[0] + ee[1]) + double(ee[2] + ee[3]);
    p.wq += double(wq[0] + wq[1]) + double(wq[2] + wq[3]);
    p.qq += double(qq[0] + qq[1]) + double(qq[2] + qq[3]);
    countKeys(kw, ke, kq, m, t);
  }
}

#if BITSMITH_X86
BITSMITH_AVX2 inline double hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return double(_mm_cvtss_f32(s));
}
BITSMITH_AVX2 inline float hmin(__m256 v) {
  __m128 s = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_min_ps(s, _mm_movehl_ps(s, s));
  s = _mm_min_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
BITSMITH_AVX2 inline float hmax(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
BITSMITH_AVX2 inline __m256i keys8(__m256 v) {
  const __m256i u = _mm256_castps_si256(v);
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
  return _mm256_srli_epi32(_mm256_add_epi32(u, _mm256_add_epi32(_mm256_set1_epi32(0x7fff), lsb)),
                           16);
}

BITSMITH_AVX2 void addAvx2(const float* w, const float* q, int64_t n, Partial& p,
                           const KeyTables& t) {
  alignas(32) uint32_t kw[kBlock], ke[kBlock], kq[kBlock];
  __m256 wMin = _mm256_set1_ps(p.wMin), wMax = _mm256_set1_ps(p.wMax);
  __m256 eMin = _mm256_set1_ps(p.eMin), eMax = _mm256_set1_ps(p.eMax);
  int64_t b = 0;
  for (; b + kBlock <= n; b += kBlock) {
    __m256 ww = _mm256_setzero_ps(), ee = ww, wq = ww, qq = ww;
    for (int64_t i = 0; i < kBlock; i += 8) {
      const __m256 x = _mm256_loadu_ps(w + b + i), y = _mm256_loadu_ps(q + b + i);
      const __m256 d = _mm256_sub_ps(y, x);
      ww = _mm256_add_ps(ww, _mm256_mul_ps(x, x));
      ee = _mm256_add_ps(ee, _mm256_mul_ps(d, d));
      wq = _mm256_add_ps(wq, _mm256_mul_ps(x, y));
      qq = _mm256_add_ps(qq, _mm256_mul_ps(y, y));
      wMin = _mm256_min_ps(wMin, x);
      wMax = _mm256_max_ps(wMax, x);
      eMin = _mm256_min_ps(eMin, d);
      eMax = _mm256_max_ps(eMax, d);
      _mm256_store_si256(reinterpret_cast<__m256i*>(kw + i), keys8(x));
      _mm256_store_si256(reinterpret_cast<__m256i*>(ke + i), keys8(d));
      _mm256_store_si256(reinterpret_cast<__m256i*>(kq + i), keys8(y));
    }
    p.ww += hsum(ww);
    p.ee += hsum(ee);
    p.wq += hsum(wq);
    p.qq += hsum(qq);
    countKeys(kw, ke, kq, kBlock, t);
  }
  p.wMin = hmin(wMin);
  p.wMax = hmax(wMax);
  p.eMin = hmin(eMin);
  p.eMax = hmax(eMax);
  if (b < n) addScalar(w + b, q + b, n - b, p, t);
}
#endif

}  // namespace

StreamMetrics::StreamMetrics(int slots) : slots_(size_t(std::max(1, slots))) {
  for (auto& s : slots_) {
    s.wKeys.assign(2 * kKeys, 0);
    s.eKeys.assign(2 * kKeys, 0);
    s.qKeys.assign(2 * kKeys, 0);
  }
}

void StreamMetrics::reset(int64_t chunks) {
  for (auto& s : slots_) {
    if (s.used) {
      std::fill(s.wKeys.begin(), s.wKeys.end(), 0u);
      std::fill(s.eKeys.begin(), s.eKeys.end(), 0u);
      std::fill(s.qKeys.begin(), s.qKeys.end(), 0u);
    }
    s.used = false;
  }
  chunks_.assign(size_t(std::max<int64_t>(0, chunks)), Partial());
}

void StreamMetrics::add(int slot, int64_t chunk, const float* w, const float* q, int64_t n) {
  Slot& s = slots_[size_t(slot)];
  Partial& p = chunks_[size_t(chunk)];
  const float inf = std::numeric_limits<float>::infinity();
  p = Partial();
  p.wMin = p.eMin = inf;
  p.wMax = p.eMax = -inf;
  p.count = n;
  if (n <= 0) return;
  s.used = true;
  const KeyTables t{s.wKeys.data(), s.eKeys.data(), s.qKeys.data()};
#if BITSMITH_X86
  if (cpuHasAvx2())
    addAvx2(w, q, n, p, t);
  else
#endif
    addScalar(w, q, n, p, t);
}

static void binKeys(const std::vector<const std::vector<uint32_t>*>& keys, double lo, double hi,
                    Histogram& h) {
  h.min = lo;
  h.max = hi;
  h.counts.fill(0);
  const double scale = hi > lo ? kHistBins / (hi - lo) : 0.0;
  for (uint32_t k = 0; k < kKeys; k++) {
    uint64_t c = 0;
    for (const auto* v : keys) c += uint64_t((*v)[k]) + (*v)[k + kKeys];
    if (!c) continue;
    const double x = conv::bf16ToF32(uint16_t(k));
    int b = std::isnan(x) ? 0 : int((x - lo) * scale);
    b = b < 0 ? 0 : (b >= kHistBins ? kHistBins - 1 : b);
    h.counts[size_t(b)] += int64_t(c);
  }
}

TensorMetrics StreamMetrics::finish() const {
  TensorMetrics m;
  double ww = 0, ee = 0, wq = 0, qq = 0;
  double wMin = std::numeric_limits<double>::infinity(), wMax = -wMin, eMin = wMin, eMax = -wMin;
  int64_t count = 0;
  for (const Partial& p : chunks_) {  // chunk order: deterministic
    if (!p.count) continue;
    ww += p.ww;
    ee += p.ee;
    wq += p.wq;
    qq += p.qq;
    count += p.count;
    wMin = std::min<double>(wMin, p.wMin);
    wMax = std::max<double>(wMax, p.wMax);
    eMin = std::min<double>(eMin, p.eMin);
    eMax = std::max<double>(eMax, p.eMax);
  }
  const double maxAbs = count ? std::max(std::fabs(eMin), std::fabs(eMax)) : 0.0;
  std::vector<const std::vector<uint32_t>*> wk, ek, qk;
  for (const auto& s : slots_) {
    if (!s.used) continue;
    wk.push_back(&s.wKeys);
    ek.push_back(&s.eKeys);
    qk.push_back(&s.qKeys);
  }
  if (count == 0) return m;
  const double inf = std::numeric_limits<double>::infinity();
  m.relError = ee == 0 ? 0 : (ww == 0 ? inf : std::sqrt(ee / ww));
  m.squaredError = ee;
  m.sqnrDb = ee == 0 ? inf : (ww == 0 ? -inf : 10.0 * std::log10(ww / ee));
  m.maxAbsError = maxAbs;
  if (ww == 0 && qq == 0)
    m.cosine = 1;
  else if (ww == 0 || qq == 0)
    m.cosine = 0;
  else
    m.cosine = std::max(-1.0, std::min(1.0, wq / (std::sqrt(ww) * std::sqrt(qq))));
  binKeys(wk, wMin, wMax, m.weightHist);
  binKeys(ek, eMin, eMax, m.errorHist);
  binKeys(qk, wMin, wMax, m.dequantHist);
  return m;
}

}  // namespace bitsmith
