#include "linalg/cholesky.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "linalg/gemm.h"

#include "threads/pool.h"

namespace bitsmith {
namespace linalg {

namespace {
// sum_k a[k] b[k] in four interleaved partial sums (independent adds: not latency bound).
inline double dot4(const double* a, const double* b, int64_t n) {
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int64_t k = 0;
  for (; k + 4 <= n; k += 4) {
    s0 += a[k] * b[k];
    s1 += a[k + 1] * b[k + 1];
    s2 += a[k + 2] * b[k + 2];
    s3 += a[k + 3] * b[k + 3];
  }
  for (; k < n; k++) s0 += a[k] * b[k];
  return (s0 + s1) + (s2 + s3);
}
}  // namespace

bool choleskyLower(double* a, int64_t n, ThreadPool* pool) {
  for (int64_t j = 0; j < n; j++) {
    double* aj = a + j * n;
    const double d = aj[j] - dot4(aj, aj, j);
    if (!(d > 0) || !std::isfinite(d)) return false;
    const double ljj = std::sqrt(d);
    aj[j] = ljj;
    // Rows below j are independent given row j: in parallel when there is enough work.
    parallelFor((n - j - 1) * j >= (int64_t(1) << 15) ? pool : nullptr, n - j - 1,
                [&](int64_t i0, int64_t i1) {
                  for (int64_t i = j + 1 + i0; i < j + 1 + i1; i++) {
                    double* ai = a + i * n;
                    ai[j] = (ai[j] - dot4(ai, aj, j)) / ljj;
                  }
                },
                16);
    for (int64_t k = j + 1; k < n; k++) aj[k] = 0;
  }
  return true;
}

void invertLower(double* l, int64_t n, ThreadPool* pool) {
  // X = L^-1 by forward substitution, kCols columns of X at a time (independent: in
  // parallel): for i >= j0, x[i][c] = ([i == j0 + c] - sum_{k=j0}^{i-1} L[i][k] x[k][c]) / L[i][i]
  // with x[k][c] = 0 above the diagonal. Each row of L is read once per column block
  // (for kCols columns), not once per column.
  constexpr int64_t kCols = 8;
  std::vector<double> x(size_t(n * n), 0.0);
  const int64_t blocks = (n + kCols - 1) / kCols;
  parallelFor(
      n >= 64 ? pool : nullptr, blocks,
      [&](int64_t b0, int64_t b1) {
        std::vector<double> xb;
        for (int64_t b = b0; b < b1; b++) {
          const int64_t j0 = b * kCols, nc = std::min(kCols, n - j0);
          xb.assign(size_t((n - j0) * kCols), 0.0);  // rows j0..n-1 of the block's columns
          for (int64_t i = j0; i < n; i++) {
            double acc[kCols] = {0, 0, 0, 0, 0, 0, 0, 0};
            const double* li = l + i * n;
            for (int64_t k = j0; k < i; k++) {
              const double c = li[k];
              const double* xk = &xb[size_t((k - j0) * kCols)];
              for (int64_t q = 0; q < kCols; q++) acc[q] += c * xk[q];
            }
            double* xi = &xb[size_t((i - j0) * kCols)];
            for (int64_t q = 0; q < nc; q++) {
              const int64_t col = j0 + q;
              if (i < col) continue;
              xi[q] = ((i == col ? 1.0 : 0.0) - acc[q]) / li[i];
            }
          }
          for (int64_t i = j0; i < n; i++)
            for (int64_t q = 0; q < nc; q++)
              x[size_t(i * n + j0 + q)] = xb[size_t((i - j0) * kCols + q)];
        }
      },
      1);
  for (int64_t i = 0; i < n * n; i++) l[i] = x[size_t(i)];
}

bool inverseUpperCholesky(double* a, int64_t n, ThreadPool* pool) {
  // With P the reversal permutation and P A P = L L^T (Cholesky of the reversed matrix),
  // A^-1 = P L^-T L^-1 P = V^T V for V = P L^-1 P, which is upper triangular: V is the
  // factor (unique, as the upper Cholesky factor of A^-1 with a positive diagonal).
  std::vector<double> r(size_t(n * n));
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j < n; j++) r[size_t(i * n + j)] = a[(n - 1 - i) * n + (n - 1 - j)];
  if (!choleskyLower(r.data(), n, pool)) return false;
  invertLower(r.data(), n, pool);
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j < n; j++) a[i * n + j] = r[size_t((n - 1 - i) * n + (n - 1 - j))];
  return true;
}

bool choleskyUpperBlocked(float* a, int64_t n, ThreadPool* pool, int64_t nb) {
  if (n <= 0) return true;
  nb = std::max<int64_t>(1, nb);
  std::vector<double> d(size_t(nb * nb));
  std::vector<float> linv(size_t(nb * nb)), pt, r12t, neg;
  PackedB packed;
  for (int64_t k0 = 0; k0 < n; k0 += nb) {
    const int64_t b = std::min(nb, n - k0), k1 = k0 + b, m = n - k1;
    // Diagonal block in f64: D = L L^T (L = R11^T), then L^-1 = R11^-T.
    for (int64_t i = 0; i < b; i++)
      for (int64_t j = 0; j < b; j++)
        d[size_t(i * b + j)] = double(j >= i ? a[(k0 + i) * n + k0 + j] : a[(k0 + j) * n + k0 + i]);
    if (!choleskyLower(d.data(), b)) return false;
    for (int64_t i = 0; i < b; i++)
      for (int64_t j = 0; j < b; j++)
        a[(k0 + i) * n + k0 + j] = j >= i ? float(d[size_t(j * b + i)]) : 0.0f;
    if (m == 0) break;
    invertLower(d.data(), b);
    for (int64_t i = 0; i < b * b; i++) linv[size_t(i)] = float(d[size_t(i)]);
    // R12^T [m, b] = A12^T R11^-1: C = A·B^T with A = A12^T and B[i][kk] = (R11^-T)[i][kk].
    pt.resize(size_t(m * b));
    r12t.resize(size_t(m * b));
    neg.resize(size_t(m * b));
    parallelFor(
        pool, m,
        [&](int64_t c0, int64_t c1) {
          for (int64_t kk = 0; kk < b; kk++) {
            const float* src = a + (k0 + kk) * n + k1;
            for (int64_t c = c0; c < c1; c++) pt[size_t(c * b + kk)] = src[c];
          }
        },
        256);
    gemmABt(pt.data(), b, linv.data(), b, r12t.data(), b, m, b, b, pool);
    parallelFor(
        pool, m,
        [&](int64_t c0, int64_t c1) {
          for (int64_t kk = 0; kk < b; kk++) {
            float* dst = a + (k0 + kk) * n + k1;
            for (int64_t c = c0; c < c1; c++) dst[c] = r12t[size_t(c * b + kk)];
          }
          for (int64_t i = c0 * b; i < c1 * b; i++) neg[size_t(i)] = -r12t[size_t(i)];
        },
        256);
    // A22 (upper triangle) -= R12^T R12.
    packB(r12t.data(), b, m, b, packed, pool);
    gemmPacked(neg.data(), b, m, packed, a + k1 * n + k1, n, pool, true, Path::Auto, true);
  }
  for (int64_t i = 0; i < n; i++) std::fill(a + i * n, a + i * n + i, 0.0f);
  return true;
}

}  // namespace linalg
}  // namespace bitsmith
