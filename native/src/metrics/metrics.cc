#include "metrics/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>
#include <vector>

#include "common/cpu.h"
#include "common/reduce.h"
#include "threads/pool.h"

namespace bitsmith {

namespace {

struct Partial {
  double ww = 0, ee = 0, wq = 0, qq = 0;
  double maxAbs = 0;
  double wMin = std::numeric_limits<double>::infinity(),
         wMax = -std::numeric_limits<double>::infinity();
  double eMin = std::numeric_limits<double>::infinity(),
         eMax = -std::numeric_limits<double>::infinity();
};

// One chunk's sums and extremes. Blocks of 8 keep the 8 lanes in registers (the lane of
// element i is (i - b) % 8, as common/reduce.h defines); the body is inlined into a
// baseline and an AVX2 build, which vectorise it identically (no reassociation).
__attribute__((always_inline)) inline Partial chunkStatsBody(const float* w, const float* q,
                                                             int64_t b, int64_t e) {
  double ww[8] = {0, 0, 0, 0, 0, 0, 0, 0}, ee[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  double wq[8] = {0, 0, 0, 0, 0, 0, 0, 0}, qq[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  double mxe[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  const double inf = std::numeric_limits<double>::infinity();
  double wmn[8], wmx[8], emn[8], emx[8];
  for (int l = 0; l < 8; ++l) wmn[l] = emn[l] = inf, wmx[l] = emx[l] = -inf;
  int64_t i = b;
  for (; i + 8 <= e; i += 8) {
    for (int l = 0; l < 8; ++l) {
      const double x = w[i + l], y = q[i + l];
      const double d = y - x;
      ww[l] += x * x;
      ee[l] += d * d;
      wq[l] += x * y;
      qq[l] += y * y;
      const double ad = d < 0 ? -d : d;
      mxe[l] = ad > mxe[l] ? ad : mxe[l];
      wmn[l] = x < wmn[l] ? x : wmn[l];
      wmx[l] = x > wmx[l] ? x : wmx[l];
      emn[l] = d < emn[l] ? d : emn[l];
      emx[l] = d > emx[l] ? d : emx[l];
    }
  }
  for (int l = 0; i < e; ++i, ++l) {
    const double x = w[i], y = q[i];
    const double d = y - x;
    ww[l] += x * x;
    ee[l] += d * d;
    wq[l] += x * y;
    qq[l] += y * y;
    const double ad = d < 0 ? -d : d;
    mxe[l] = ad > mxe[l] ? ad : mxe[l];
    wmn[l] = x < wmn[l] ? x : wmn[l];
    wmx[l] = x > wmx[l] ? x : wmx[l];
    emn[l] = d < emn[l] ? d : emn[l];
    emx[l] = d > emx[l] ? d : emx[l];
  }
  auto total = [](const double* v) {
    return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
  };
  Partial p;
  p.ww = total(ww);
  p.ee = total(ee);
  p.wq = total(wq);
  p.qq = total(qq);
  for (int l = 0; l < 8; ++l) {
    p.maxAbs = std::max(p.maxAbs, mxe[l]);
    p.wMin = std::min(p.wMin, wmn[l]);
    p.wMax = std::max(p.wMax, wmx[l]);
    p.eMin = std::min(p.eMin, emn[l]);
    p.eMax = std::max(p.eMax, emx[l]);
  }
  return p;
}

Partial chunkStatsBase(const float* w, const float* q, int64_t b, int64_t e) {
  return chunkStatsBody(w, q, b, e);
}
#if BITSMITH_X86
BITSMITH_AVX2 Partial chunkStatsAvx2(const float* w, const float* q, int64_t b, int64_t e) {
  return chunkStatsBody(w, q, b, e);
}
#endif

Partial chunkStats(const float* w, const float* q, int64_t b, int64_t e) {
#if BITSMITH_X86
  if (cpuHasAvx2()) return chunkStatsAvx2(w, q, b, e);
#endif
  return chunkStatsBase(w, q, b, e);
}

// Histogram counts of one range (weights, errors, and reconstructions on the weights' bins).
__attribute__((always_inline)) inline void histBody(const float* w, const float* q, int64_t b,
                                                    int64_t e, double wLo, double wScale,
                                                    double eLo, double eScale, int64_t* wc,
                                                    int64_t* ec, int64_t* qc) {
  // 4 interleaved sub-histograms: consecutive weights often hit the same bin, and one
  // counter would serialise the increments through memory.
  int64_t sub[3][4][kHistBins] = {};
  int32_t bins[3][64];
  for (int64_t i0 = b; i0 < e; i0 += 64) {
    const int m = int(std::min<int64_t>(64, e - i0));
    for (int k = 0; k < m; ++k) {  // vectorisable: bin indices
      const double x = w[i0 + k];
      const double d = double(q[i0 + k]) - x;
      double bw = (x - wLo) * wScale, be = (d - eLo) * eScale,
             bq = (double(q[i0 + k]) - wLo) * wScale;
      bw = bw < 0 ? 0 : (bw > kHistBins - 1 ? kHistBins - 1 : bw);
      be = be < 0 ? 0 : (be > kHistBins - 1 ? kHistBins - 1 : be);
      bq = bq < 0 ? 0 : (bq > kHistBins - 1 ? kHistBins - 1 : bq);
      bins[0][k] = int32_t(bw);
      bins[1][k] = int32_t(be);
      bins[2][k] = int32_t(bq);
    }
    for (int k = 0; k < m; ++k) {
      ++sub[0][k & 3][bins[0][k]];
      ++sub[1][k & 3][bins[1][k]];
      ++sub[2][k & 3][bins[2][k]];
    }
  }
  for (int j = 0; j < kHistBins; ++j) {
    wc[j] += sub[0][0][j] + sub[0][1][j] + sub[0][2][j] + sub[0][3][j];
    ec[j] += sub[1][0][j] + sub[1][1][j] + sub[1][2][j] + sub[1][3][j];
    qc[j] += sub[2][0][j] + sub[2][1][j] + sub[2][2][j] + sub[2][3][j];
  }
}
void histBase(const float* w, const float* q, int64_t b, int64_t e, double wLo, double wScale,
              double eLo, double eScale, int64_t* wc, int64_t* ec, int64_t* qc) {
  histBody(w, q, b, e, wLo, wScale, eLo, eScale, wc, ec, qc);
}
#if BITSMITH_X86
BITSMITH_AVX2 void histAvx2(const float* w, const float* q, int64_t b, int64_t e, double wLo,
                            double wScale, double eLo, double eScale, int64_t* wc, int64_t* ec,
                            int64_t* qc) {
  histBody(w, q, b, e, wLo, wScale, eLo, eScale, wc, ec, qc);
}
#endif

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
  m.squaredError = t.ee;
  m.sqnrDb = t.ee == 0 ? inf : (t.ww == 0 ? -inf : 10.0 * std::log10(t.ww / t.ee));
  m.maxAbsError = t.maxAbs;
  if (t.ee == 0 || (t.ww == 0 && t.qq == 0))
    m.cosine = 1;  // exact: 1, not 1 - 1 ulp
  else if (t.ww == 0 || t.qq == 0)
    m.cosine = 0;
  else
    m.cosine = std::max(-1.0, std::min(1.0, t.wq / (std::sqrt(t.ww) * std::sqrt(t.qq))));

  m.weightHist.min = t.wMin;
  m.weightHist.max = t.wMax;
  m.errorHist.min = t.eMin;
  m.errorHist.max = t.eMax;
  m.dequantHist.min = t.wMin;
  m.dequantHist.max = t.wMax;
  const double wScale = t.wMax > t.wMin ? kHistBins / (t.wMax - t.wMin) : 0.0;
  const double eScale = t.eMax > t.eMin ? kHistBins / (t.eMax - t.eMin) : 0.0;
  std::mutex mu;
  const bool avx2 = cpuHasAvx2();
  (void)avx2;
  parallelFor(pool, chunks, [&](int64_t c0, int64_t c1) {
    std::array<int64_t, kHistBins> wc{}, ec{}, qc{};
    const int64_t b = c0 * kReduceChunk, e = std::min(n, c1 * kReduceChunk);
#if BITSMITH_X86
    if (avx2)
      histAvx2(w, q, b, e, t.wMin, wScale, t.eMin, eScale, wc.data(), ec.data(), qc.data());
    else
#endif
      histBase(w, q, b, e, t.wMin, wScale, t.eMin, eScale, wc.data(), ec.data(), qc.data());
    std::lock_guard<std::mutex> lock(mu);
    for (int i = 0; i < kHistBins; ++i) {
      m.weightHist.counts[size_t(i)] += wc[size_t(i)];
      m.errorHist.counts[size_t(i)] += ec[size_t(i)];
      m.dequantHist.counts[size_t(i)] += qc[size_t(i)];
    }
  });
  return m;
}

}  // namespace bitsmith
