// Outliers (SpQR-style dense + sparse): quantize once, pick exactly the k weights with the
// largest |x - Q(x)| (ties: lower flat index first), quantize again with those weights set
// to 0 so they no longer stretch their groups' scales (for absmax and min/max fits a 0
// never widens the range, as int asymmetric ranges include 0 anyway; for binary/ternary it
// counts in the group's mean), then overwrite them with their f16 value (saturated to
// +-65504). Stored: k f16 values then k u32 flat indices, ascending. The stored codes at
// those positions are the quantization of 0 (a decoder overwrites them).
// With importance d (calibration's diagonal of X^T X, per column j) the score of a weight
// is its share of the weighted error, d_j (x - Q(x))^2 (in f32), instead of |x - Q(x)|:
// keeping it exactly removes that much of sum_j d_j (w - w')^2.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/fp.h"
#include "quant/internal.h"

namespace bitsmith {
namespace quant {

namespace {

// The selection score of weight i (a non-negative float, never NaN).
inline float outlierScore(const float* x, const float* q, int64_t i, const float* imp,
                          int64_t cols) {
  const float e = x[i] - q[i];
  return imp ? (e * e) * imp[i % cols] : std::fabs(e);
}

// The k largest |x - q| (ties: lower index first), as ascending flat indices. Errors are
// non-negative floats, whose bit patterns order like their values: a radix select on the
// high then the low 16 bits finds the k-th largest value T exactly; the result is every
// index with error > T and the lowest-indexed ones with error == T, whatever the chunking.
std::vector<uint32_t> selectLargest(const float* x, const float* q, int64_t n, int64_t k,
                                    ThreadPool* pool, const float* imp, int64_t cols) {
  // The error bits are recomputed in each pass rather than stored (a 4n-byte buffer costs
  // more in page faults than the subtraction). Any chunking gives the same (exact)
  // result; a few chunks per thread balance the work.
  // f(i, bits of the score of i) for i in [b, e); the column is tracked, not divided for.
  auto scores = [&](int64_t b, int64_t e, auto&& f) {
    if (!imp) {
      for (int64_t i = b; i < e; ++i) f(i, f32Bits(std::fabs(x[i] - q[i])));
      return;
    }
    int64_t col = b % cols;
    for (int64_t i = b; i < e; ++i) {
      const float d = x[i] - q[i];
      f(i, f32Bits((d * d) * imp[col]));  // == outlierScore
      if (++col == cols) col = 0;
    }
  };
  const int64_t threads = pool ? pool->size() : 1;
  const int64_t chunks = std::max<int64_t>(1, std::min<int64_t>(2 * threads, (n + 65535) / 65536));
  auto range = [&](int64_t c) { return std::make_pair(n * c / chunks, n * (c + 1) / chunks); };
  // One radix pass: counts of the 16-bit digit (>> shift) among elements whose bits above
  // the digit equal `prefix` (all elements when mask is 0).
  auto histogram = [&](int shift, uint32_t mask, uint32_t prefix) {
    std::vector<std::vector<uint32_t>> part(static_cast<size_t>(chunks),
                                            std::vector<uint32_t>(65536, 0));
    parallelFor(pool, chunks, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        const auto [b, e] = range(c);
        uint32_t* h = part[size_t(c)].data();
        scores(b, e, [&](int64_t, uint32_t v) {
          if ((v & mask) == prefix) ++h[(v >> shift) & 0xffffu];
        });
      }
    });
    std::vector<uint64_t> total(65536, 0);
    for (const auto& h : part)
      for (size_t d = 0; d < 65536; ++d) total[d] += h[d];
    return total;
  };
  // Finds the digit holding the `want`-th largest (1-based) and how many lie above it.
  auto locate = [](const std::vector<uint64_t>& h, uint64_t want, uint64_t& above) {
    above = 0;
    for (int d = 65535; d >= 0; --d) {
      if (above + h[size_t(d)] >= want) return uint32_t(d);
      above += h[size_t(d)];
    }
    return 0u;  // unreachable: want <= n
  };
  uint64_t above1 = 0, above2 = 0;
  const uint32_t hi = locate(histogram(16, 0u, 0u), uint64_t(k), above1);
  const uint32_t lo = locate(histogram(0, 0xffff0000u, hi << 16), uint64_t(k) - above1, above2);
  const uint32_t T = (hi << 16) | lo;
  const uint64_t greater = above1 + above2;  // elements with error > T
  const uint64_t needEqual = uint64_t(k) - greater;

  std::vector<uint64_t> nGreater(static_cast<size_t>(chunks)), nEqual(static_cast<size_t>(chunks));
  parallelFor(pool, chunks, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const auto [b, e] = range(c);
      uint64_t g = 0, eq = 0;
      scores(b, e, [&](int64_t, uint32_t v) {
        g += v > T;
        eq += v == T;
      });
      nGreater[size_t(c)] = g;
      nEqual[size_t(c)] = eq;
    }
  });
  std::vector<uint64_t> offset(static_cast<size_t>(chunks)), takeEqual(static_cast<size_t>(chunks));
  uint64_t at = 0, equalLeft = needEqual;
  for (int64_t c = 0; c < chunks; ++c) {
    takeEqual[size_t(c)] = std::min(equalLeft, nEqual[size_t(c)]);
    equalLeft -= takeEqual[size_t(c)];
    offset[size_t(c)] = at;
    at += nGreater[size_t(c)] + takeEqual[size_t(c)];
  }
  std::vector<uint32_t> out(static_cast<size_t>(k));
  parallelFor(pool, chunks, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const auto [b, e] = range(c);
      uint64_t o = offset[size_t(c)], eqLeft = takeEqual[size_t(c)];
      scores(b, e, [&](int64_t i, uint32_t v) {
        if (v > T || (v == T && eqLeft > 0)) {
          if (v == T) --eqLeft;
          out[size_t(o++)] = uint32_t(i);
        }
      });
    }
  });
  return out;
}

// The reference: order by (score desc, index asc), keep the first k, ascending.
std::vector<uint32_t> selectLargestReference(const float* x, const float* q, int64_t n, int64_t k,
                                             const float* imp, int64_t cols) {
  std::vector<float> err(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) err[size_t(i)] = outlierScore(x, q, i, imp, cols);
  std::vector<uint32_t> idx(static_cast<size_t>(n));
  std::iota(idx.begin(), idx.end(), 0u);
  auto before = [&](uint32_t a, uint32_t b) {
    return err[a] > err[b] || (err[a] == err[b] && a < b);
  };
  if (k < n) std::nth_element(idx.begin(), idx.begin() + (k - 1), idx.end(), before);
  idx.resize(static_cast<size_t>(k));
  std::sort(idx.begin(), idx.end());
  return idx;
}

}  // namespace

int64_t quantizeWithOutliers(const float* x, bool xScratch, const Layout& L, const QuantConfig& c,
                             const FormatSpec& f, const Ctx& ctx, float* dq, StoredTensor& st) {
  const int64_t n = L.size();
  const int64_t k = c.outliers;
  if (k <= 0) {
    quantizeBase(x, L, c, f, ctx, dq, st);
    return 0;
  }
  if (k > n)
    throw std::invalid_argument("outliers: " + std::to_string(k) + " is more than the tensor's " +
                                std::to_string(n) + " weights");
  if (n > int64_t(UINT32_MAX) + 1)
    throw std::invalid_argument("outliers: flat indices are u32, tensor too large");
  ThreadPool* pool = ctx.reference ? nullptr : ctx.pool;

  quantizeBase(x, L, c, f, ctx, dq, st);
  if (ctx.nonFinite && ctx.nonFinite->load()) return 0;

  const std::vector<uint32_t> idx =
      ctx.reference ? selectLargestReference(x, dq, n, k, ctx.importance, L.cols)
                    : selectLargest(x, dq, n, k, pool, ctx.importance, L.cols);
  std::vector<uint16_t> kept(static_cast<size_t>(k));
  for (int64_t j = 0; j < k; ++j) kept[size_t(j)] = f16FromF32Sat(x[idx[size_t(j)]]);
  // The second pass runs on x with the outliers zeroed: in x itself when it is our
  // scratch, else in dq (the grids quantize in place: each weight is read before its
  // reconstruction is written), which saves a tensor-sized buffer.
  float* x0 = xScratch ? const_cast<float*>(x) : dq;
  if (!xScratch)
    parallelFor(
        pool, n,
        [&](int64_t b, int64_t e) { std::memcpy(x0 + b, x + b, size_t(e - b) * sizeof(float)); },
        1 << 16);
  for (uint32_t i : idx) x0[i] = 0.0f;
  quantizeBase(x0, L, c, f, ctx, dq, st);

  st.outliers.resize(size_t(6 * k));
  uint8_t* vals = st.outliers.data();
  uint8_t* inds = vals + 2 * k;
  for (int64_t j = 0; j < k; ++j) {
    const uint32_t i = idx[size_t(j)];
    const uint16_t h = kept[size_t(j)];
    dq[i] = f16ToF32(h);
    vals[2 * j] = uint8_t(h);
    vals[2 * j + 1] = uint8_t(h >> 8);
    for (int b = 0; b < 4; ++b) inds[4 * j + b] = uint8_t(i >> (8 * b));
  }
  return k;
}

}  // namespace quant
}  // namespace bitsmith
