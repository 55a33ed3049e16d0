#include "quant/gptq.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>

#include "common/cpu.h"
#include "common/fp.h"
#include "linalg/cholesky.h"
#include "threads/pool.h"

namespace bitsmith {

namespace {

// One group's grid, as quant/int.cc defines it (see its header comment).
struct Grid {
  float s = 0, inv = 0, z = 0;
};

struct IntSpec {
  int bits = 4;
  bool symmetric = true;
  bool zeroInt = true;
  ScaleType scale = ScaleType::F16;
  float qmax = 15, lo = -8, hi = 7;

  Grid fit(float mn, float mx) const {
    Grid g;
    mn = mn + 0.0f;
    mx = mx + 0.0f;
    uint32_t bits32 = 0;
    if (symmetric) {
      const float amax = std::max(0.0f - mn, mx);
      g.s = storeScale(amax / (qmax / 2), scale, &bits32);
      g.inv = g.s > 0 ? 1.0f / g.s : 0.0f;
      return g;
    }
    const float l = std::min(mn, 0.0f), h = std::max(mx, 0.0f);
    g.s = storeScale((h - l) / qmax, scale, &bits32);
    g.inv = g.s > 0 ? 1.0f / g.s : 0.0f;
    if (g.s > 0) {
      const float zr = (0.0f - l) / g.s;
      if (zeroInt) g.z = std::min(std::max(std::nearbyint(zr), 0.0f), qmax);
      else g.z = f16ToF32(f16FromF32Sat(zr)) + 0.0f;
    }
    return g;
  }

  float quant(const Grid& g, float w) const {
    float t = w * g.inv;
    if (!symmetric && !zeroInt) t = t + g.z;
    float r = std::nearbyint(t);
    if (!symmetric && zeroInt) r = r + g.z;
    r = std::min(std::max(r, symmetric ? lo : 0.0f), symmetric ? hi : qmax);
    return symmetric ? g.s * r : g.s * (r - g.z);
  }
};

// y[k] -= e * u[k]: the error feedback. The AVX2 path (4 doubles at a time) does the same
// multiply and subtract per element (no FMA), so both round identically.
void feedbackScalar(double* y, const double* u, double e, int64_t n) {
  for (int64_t k = 0; k < n; k++) y[k] -= e * u[k];
}
#if BITSMITH_X86
BITSMITH_AVX2 void feedbackAvx2(double* y, const double* u, double e, int64_t n) {
  for (int64_t k = 0; k < n; k++) y[k] -= e * u[k];
}
#endif
void feedback(double* y, const double* u, double e, int64_t n) {
#if BITSMITH_X86
  static const bool avx2 = cpuHasAvx2();
  if (avx2) {
    feedbackAvx2(y, u, e, n);
    return;
  }
#endif
  feedbackScalar(y, u, e, n);
}

IntSpec specFor(const QuantConfig& c) {
  const std::string& f = c.format;
  if (f.size() != 4 || f.compare(0, 3, "int") != 0 || f[3] < '2' || f[3] > '8')
    throw std::invalid_argument("method gptq runs on the int2..int8 formats here, not " + f);
  if (c.groupKind == GroupKind::Tensor) throw std::invalid_argument("method gptq needs groups along the input (a group size or channel), not group tensor");
  if (c.clipMse) throw std::invalid_argument("method gptq does not combine with clip mse here");
  if (c.outliers || c.lowrank || c.rotate) throw std::invalid_argument("method gptq does not combine with outliers, lowrank or rotate here");
  IntSpec s;
  s.bits = f[3] - '0';
  s.symmetric = c.symmetric;
  s.zeroInt = c.zero == ZeroType::Int;
  s.scale = c.scale;
  s.qmax = float((1 << s.bits) - 1);
  s.lo = -float(1 << (s.bits - 1));
  s.hi = float((1 << (s.bits - 1)) - 1);
  return s;
}

}  // namespace

std::vector<float> gptqQuantize(const float* w, int64_t rows, int64_t cols, const double* hIn, const QuantConfig& cfg, const GptqOptions& opt,
                                ThreadPool* pool) {
  const IntSpec spec = specFor(cfg);
  if (rows <= 0 || cols <= 0) throw std::invalid_argument("gptq: empty tensor");
  if (!(opt.damp >= 0) || opt.block < 1) throw std::invalid_argument("gptq: damp must be >= 0 and block >= 1");
  const int64_t n = cols;
  const int64_t gs = cfg.groupKind == GroupKind::Channel ? n : std::min<int64_t>(cfg.group, n);
  const int64_t groups = (n + gs - 1) / gs;

  std::vector<double> H(hIn, hIn + n * n);
  std::vector<bool> dead(size_t(n), false);
  for (int64_t j = 0; j < n; j++)
    if (H[size_t(j * n + j)] == 0) {
      H[size_t(j * n + j)] = 1;
      dead[size_t(j)] = true;
    }
  // Column order.
  std::vector<int64_t> perm(static_cast<size_t>(n));
  std::iota(perm.begin(), perm.end(), 0);
  if (opt.actOrder)
    std::stable_sort(perm.begin(), perm.end(), [&](int64_t a, int64_t b) { return H[size_t(a * n + a)] > H[size_t(b * n + b)]; });
  std::vector<double> Hp(size_t(n * n));
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j < n; j++) Hp[size_t(i * n + j)] = H[size_t(perm[size_t(i)] * n + perm[size_t(j)])];
  double mean = 0;
  for (int64_t j = 0; j < n; j++) mean += Hp[size_t(j * n + j)];
  mean /= double(n);
  for (int64_t j = 0; j < n; j++) Hp[size_t(j * n + j)] += opt.damp * mean;
  if (!linalg::inverseUpperCholesky(Hp.data(), n, pool))
    throw std::invalid_argument("gptq: the Hessian is not positive definite after damping; raise damp");
  const std::vector<double>& U = Hp;

  std::vector<float> out(size_t(rows * n));
  // Rows in chunks of kRows: each row of U is then read once per chunk, not once per row
  // (U does not fit in cache for large layers), and the lazy update runs over column
  // segments so a block of U's rows stays in L2 while the chunk's rows stream through L1.
  // Every weight still receives its updates in increasing column order: the result is
  // that of the row-by-row algorithm.
  constexpr int64_t kRows = 32, kSeg = 256;
  const int64_t chunks = (rows + kRows - 1) / kRows;
  parallelFor(pool, chunks, [&](int64_t c0, int64_t c1) {
    std::vector<double> buf(size_t(kRows * n)), err(size_t(kRows * opt.block));
    std::vector<Grid> grid(size_t(kRows * groups));
    for (int64_t ch = c0; ch < c1; ch++) {
      const int64_t r0 = ch * kRows, R = std::min(kRows, rows - r0);
      for (int64_t r = 0; r < R; r++) {
        const float* wr = w + (r0 + r) * n;
        double* row = &buf[size_t(r * n)];
        for (int64_t j = 0; j < n; j++) row[j] = dead[size_t(perm[size_t(j)])] ? 0.0 : double(wr[perm[size_t(j)]]);
      }
      // One group's grid for row r, from valueAt(original column).
      auto fitGroup = [&](int64_t r, int64_t g, auto valueAt) {
        float mn = INFINITY, mx = -INFINITY;
        for (int64_t c = g * gs; c < std::min(n, (g + 1) * gs); c++) {
          const float v = valueAt(c);
          mn = std::min(mn, v);
          mx = std::max(mx, v);
        }
        grid[size_t(r * groups + g)] = spec.fit(mn, mx);
      };
      if (opt.actOrder) {
        // Static groups: fitted on the original rows in the original column order.
        for (int64_t r = 0; r < R; r++) {
          const float* wr = w + (r0 + r) * n;
          for (int64_t g = 0; g < groups; g++) fitGroup(r, g, [&](int64_t c) { return dead[size_t(c)] ? 0.0f : wr[c]; });
        }
      }
      for (int64_t b0 = 0, b1 = 0; b0 < n; b0 = b1) {
        // Without act_order a block also ends where the next group starts, so every group's
        // grid is fitted on weights that have received all earlier columns' errors.
        b1 = std::min(n, b0 + opt.block);
        if (!opt.actOrder) b1 = std::min(b1, (b0 / gs + 1) * gs);
        for (int64_t j = b0; j < b1; j++) {
          // Column j of the processing order is original column perm[j]; its group is by original column.
          const int64_t c = perm[size_t(j)];
          const int64_t g = c / gs;
          const double* u = &U[size_t(j * n)];
          for (int64_t r = 0; r < R; r++) {
            double* row = &buf[size_t(r * n)];
            if (!opt.actOrder && c % gs == 0) fitGroup(r, g, [&](int64_t k) { return float(row[k]); });
            const float q = spec.quant(grid[size_t(r * groups + g)], float(row[j]));
            out[size_t((r0 + r) * n + c)] = q;
            const double e = (row[j] - double(q)) / u[j];
            err[size_t(r * opt.block + (j - b0))] = e;
            feedback(row + j + 1, u + j + 1, e, b1 - j - 1);
          }
        }
        // Lazy batch update of the columns right of the block.
        for (int64_t s0 = b1; s0 < n; s0 += kSeg) {
          const int64_t len = std::min(kSeg, n - s0);
          for (int64_t r = 0; r < R; r++) {
            double* row = &buf[size_t(r * n)];
            for (int64_t j = b0; j < b1; j++) feedback(row + s0, &U[size_t(j * n + s0)], err[size_t(r * opt.block + (j - b0))], len);
          }
        }
      }
    }
  }, 1);
  return out;
}

}  // namespace bitsmith
