#include "quant/awq.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <stdexcept>

#include "io/error.h"
#include "linalg/gemm.h"
#include "threads/pool.h"

namespace bitsmith {
namespace quant {

void awqScales(const double* meanAbs, int64_t n, double alpha, float* s) {
  std::vector<double> v(static_cast<size_t>(n));
  double mx = 0, mn = INFINITY;
  for (int64_t j = 0; j < n; j++) {
    v[size_t(j)] = std::max(std::pow(meanAbs[j], alpha), 1e-4);
    mx = std::max(mx, v[size_t(j)]);
    mn = std::min(mn, v[size_t(j)]);
  }
  const double norm = std::sqrt(mx * mn);
  for (int64_t j = 0; j < n; j++) s[j] = float(v[size_t(j)] / norm);
}

void awqScaleInput(const float* w, int64_t rows, int64_t n, const float* s, const float* rowScale,
                   float* x, ThreadPool* pool) {
  parallelFor(
      pool, rows,
      [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; r++) {
          if (rowScale)
            for (int64_t j = 0; j < n; j++) x[r * n + j] = (w[r * n + j] * s[j]) / rowScale[r];
          else
            for (int64_t j = 0; j < n; j++) x[r * n + j] = w[r * n + j] * s[j];
        }
      },
      16);
}

void awqUnscale(float* q, int64_t rows, int64_t n, const float* s, const float* rowScale,
                ThreadPool* pool) {
  parallelFor(
      pool, rows,
      [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; r++) {
          if (rowScale)
            for (int64_t j = 0; j < n; j++) q[r * n + j] = (q[r * n + j] * rowScale[r]) / s[j];
          else
            for (int64_t j = 0; j < n; j++) q[r * n + j] = q[r * n + j] / s[j];
        }
      },
      16);
}

void awqApply(const float* w, int64_t rows, int64_t n, const float* s, const QuantConfig& cfg,
              ThreadPool& pool, bool reference, float* dequant, StoredTensor& stored,
              const float* rowScale) {
  std::unique_ptr<float[]> x(new float[size_t(rows * n)]);
  ThreadPool* tp = reference ? nullptr : &pool;
  awqScaleInput(w, rows, n, s, rowScale, x.get(), tp);
  quantizeTensorInto(x.get(), rows, n, cfg, pool, reference, dequant, stored);
  awqUnscale(dequant, rows, n, s, rowScale, tp);
}

namespace {

// sum over rows of d^T H d, d = q - w: f64 loops (reference) or the f32 GEMM (fast).
double outputError(const float* w, const float* q, int64_t rows, int64_t n, const double* h,
                   const linalg::PackedB* hp, ThreadPool* pool) {
  if (!hp) {
    double total = 0;
    std::vector<double> d(static_cast<size_t>(n));
    for (int64_t r = 0; r < rows; r++) {
      for (int64_t j = 0; j < n; j++) d[size_t(j)] = double(q[r * n + j]) - double(w[r * n + j]);
      for (int64_t i = 0; i < n; i++) {
        double hd = 0;
        for (int64_t j = 0; j < n; j++) hd += h[i * n + j] * d[size_t(j)];
        total += d[size_t(i)] * hd;
      }
    }
    return total;
  }
  std::vector<float> d(size_t(rows * n)), e(size_t(rows * n));
  for (int64_t i = 0; i < rows * n; i++) d[size_t(i)] = q[i] - w[i];
  linalg::gemmPacked(d.data(), n, rows, *hp, e.data(), n, pool);
  double total = 0;
  for (int64_t i = 0; i < rows * n; i++) total += double(e[size_t(i)]) * double(d[size_t(i)]);
  return total;
}

}  // namespace

AwqChoice awqSearch(const std::vector<AwqMember>& members, int64_t n, const double* h,
                    const double* meanAbs, const AwqOptions& o, ThreadPool& pool, bool reference) {
  if (o.grid < 1 || o.grid > 1000)
    throw std::invalid_argument("awq grid must be from 1 to 1000, got " + std::to_string(o.grid));
  if (members.empty() || n < 1) throw std::invalid_argument("awq: nothing to search");
  for (int64_t j = 0; j < n; j++)
    if (!(meanAbs[j] >= 0) || !std::isfinite(meanAbs[j]))
      throw std::invalid_argument("awq: the activation statistics are not finite");
  linalg::PackedB hp;
  if (!reference) {
    std::vector<float> hf(h, h + n * n);
    linalg::packB(hf.data(), n, n, n, hp, &pool);
  }
  AwqChoice best;
  best.errs.assign(size_t(o.grid), 0.0);
  std::vector<float> s(static_cast<size_t>(n));
  std::vector<float> dq;
  StoredTensor st;
  double bestErr = INFINITY;
  for (int k = 0; k < o.grid; k++) {
    if (o.cancel && o.cancel->load(std::memory_order_relaxed))
      throw ModelError("run/cancelled", "the run was cancelled");
    const double alpha = double(k) / double(o.grid);
    awqScales(meanAbs, n, alpha, s.data());
    double err = 0;
    for (const AwqMember& m : members) {
      dq.resize(size_t(m.rows * n));
      awqApply(m.w, m.rows, n, s.data(), m.cfg, pool, reference, dq.data(), st, m.rowScale);
      err += outputError(m.w, dq.data(), m.rows, n, h, reference ? nullptr : &hp,
                         reference ? nullptr : &pool);
    }
    best.errs[size_t(k)] = err;
    if (k == 0) best.errRtn = err;
    if (err < bestErr) {
      bestErr = err;
      best.point = k;
      best.alpha = alpha;
      best.s = s;
    }
  }
  best.err = bestErr;
  if (best.s.empty()) {  // every error non-finite: RTN
    best.s.assign(size_t(n), 1.0f);
    best.point = 0;
    best.alpha = 0;
  }
  const auto mm = std::minmax_element(best.s.begin(), best.s.end());
  best.sMin = *mm.first;
  best.sMax = *mm.second;
  return best;
}

}  // namespace quant
}  // namespace bitsmith
