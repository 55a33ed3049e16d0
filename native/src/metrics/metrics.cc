#include "metrics/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>
#include <vector>

#include "common/reduce.h"
#include "threads/pool.h"

namespace bitsmith {

namespace {

struct Partial {
  double ww = 0, ee = 0, wq = 0, qq = 0;
  double maxAbs = 0;
  double wMin = std::numeric_limits<double>::infinity(), wMax = -std::numeric_limits<double>::infinity();
  double eMin = std::numeric_limits<double>::infinity(), eMax = -std::numeric_limits<double>::infinity();
};

Partial chunkStats(const float* w, const float* q, int64_t b, int64_t e) {
  Lanes8 ww, ee, wq, qq;
  Partial p;
  for (int64_t i = b; i < e; ++i) {
    const double x = w[i], y = q[i];
    const double d = y - x;
    const int l = int((i - b) & 7);
    ww.l[l] += x * x;
    ee.l[l] += d * d;
    wq.l[l] += x * y;
    qq.l[l] += y * y;
    const double ad = std::fabs(d);
    if (ad > p.maxAbs) p.maxAbs = ad;
    if (x < p.wMin) p.wMin = x;
    if (x > p.wMax) p.wMax = x;
    if (d < p.eMin) p.eMin = d;
    if (d > p.eMax) p.eMax = d;
  }
  p.ww = ww.total();
  p.ee = ee.total();
  p.wq = wq.total();
  p.qq = qq.total();
  return p;
}

inline int binOf(double x, double lo, double scale) {
  int b = int((x - lo) * scale);
  return b < 0 ? 0 : (b >= kHistBins ? kHistBins - 1 : b);
}

}  // namespace

TensorMetrics computeMetrics(const float* w, const float* q, int64_t n, ThreadPool* pool) {
  TensorMetrics m;
  if (n <= 0) return m;
  const int64_t chunks = (n + kReduceChunk - 1) / kReduceChunk;
  std::vector<Partial> parts(static_cast<size_t>(chunks));
  parallelFor(pool, chunks, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t b = c * kReduceChunk, e = std::min(n, b + kReduceChunk);
      parts[size_t(c)] = chunkStats(w, q, b, e);
    }
  });
  Partial t;
  for (const Partial& p : parts) {  // in chunk order: deterministic
    t.ww += p.ww;
    t.ee += p.ee;
    t.wq += p.wq;
    t.qq += p.qq;
    t.maxAbs = std::max(t.maxAbs, p.maxAbs);
    t.wMin = std::min(t.wMin, p.wMin);
    t.wMax = std::max(t.wMax, p.wMax);
    t.eMin = std::min(t.eMin, p.eMin);
    t.eMax = std::max(t.eMax, p.eMax);
  }
  const double inf = std::numeric_limits<double>::infinity();
  m.relError = t.ee == 0 ? 0 : (t.ww == 0 ? inf : std::sqrt(t.ee / t.ww));
  m.sqnrDb = t.ee == 0 ? inf : (t.ww == 0 ? -inf : 10.0 * std::log10(t.ww / t.ee));
  m.maxAbsError = t.maxAbs;
  if (t.ee == 0 || (t.ww == 0 && t.qq == 0)) m.cosine = 1;  // exact: 1, not 1 - 1 ulp
  else if (t.ww == 0 || t.qq == 0) m.cosine = 0;
  else m.cosine = std::max(-1.0, std::min(1.0, t.wq / (std::sqrt(t.ww) * std::sqrt(t.qq))));

  m.weightHist.min = t.wMin;
  m.weightHist.max = t.wMax;
  m.errorHist.min = t.eMin;
  m.errorHist.max = t.eMax;
  const double wScale = t.wMax > t.wMin ? kHistBins / (t.wMax - t.wMin) : 0.0;
  const double eScale = t.eMax > t.eMin ? kHistBins / (t.eMax - t.eMin) : 0.0;
  std::mutex mu;
  parallelFor(pool, chunks, [&](int64_t c0, int64_t c1) {
    std::array<int64_t, kHistBins> wc{}, ec{};
    const int64_t b = c0 * kReduceChunk, e = std::min(n, c1 * kReduceChunk);
    for (int64_t i = b; i < e; ++i) {
      const double x = w[i];
      const double d = double(q[i]) - x;
      ++wc[size_t(binOf(x, t.wMin, wScale))];
      ++ec[size_t(binOf(d, t.eMin, eScale))];
    }
    std::lock_guard<std::mutex> lock(mu);
    for (int i = 0; i < kHistBins; ++i) {
      m.weightHist.counts[size_t(i)] += wc[size_t(i)];
      m.errorHist.counts[size_t(i)] += ec[size_t(i)];
    }
  });
  return m;
}

}  // namespace bitsmith
