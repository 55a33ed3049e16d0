#include "linalg/cholesky.h"

#include <cmath>
#include <vector>

namespace bitsmith {
namespace linalg {

bool choleskyLower(double* a, int64_t n) {
  for (int64_t j = 0; j < n; j++) {
    double* aj = a + j * n;
    double d = aj[j];
    for (int64_t k = 0; k < j; k++) d -= aj[k] * aj[k];
    if (!(d > 0) || !std::isfinite(d)) return false;
    const double ljj = std::sqrt(d);
    aj[j] = ljj;
    for (int64_t i = j + 1; i < n; i++) {
      double* ai = a + i * n;
      double s = ai[j];
      for (int64_t k = 0; k < j; k++) s -= ai[k] * aj[k];
      ai[j] = s / ljj;
    }
    for (int64_t k = j + 1; k < n; k++) aj[k] = 0;
  }
  return true;
}

void invertLower(double* l, int64_t n) {
  // X = L^-1 column by column (into a copy): X[j][j] = 1 / L[j][j], and for i > j
  // X[i][j] = -(sum_{k=j}^{i-1} L[i][k] X[k][j]) / L[i][i].
  std::vector<double> x(size_t(n * n), 0.0);
  for (int64_t j = 0; j < n; j++) {
    x[size_t(j * n + j)] = 1.0 / l[j * n + j];
    for (int64_t i = j + 1; i < n; i++) {
      double s = 0;
      for (int64_t k = j; k < i; k++) s += l[i * n + k] * x[size_t(k * n + j)];
      x[size_t(i * n + j)] = -s / l[i * n + i];
    }
  }
  for (int64_t i = 0; i < n * n; i++) l[i] = x[size_t(i)];
}

bool inverseUpperCholesky(double* a, int64_t n) {
  if (!choleskyLower(a, n)) return false;
  invertLower(a, n);  // a = L^-1
  // A^-1 = L^-T L^-1: form it (symmetric), then its lower Cholesky factor C; U = C^T.
  std::vector<double> inv(size_t(n * n), 0.0);
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j <= i; j++) {
      double s = 0;
      for (int64_t k = i; k < n; k++) s += a[k * n + i] * a[k * n + j];  // (L^-1)[k][i] (L^-1)[k][j], k >= max(i, j) = i
      inv[size_t(i * n + j)] = s;
      inv[size_t(j * n + i)] = s;
    }
  if (!choleskyLower(inv.data(), n)) return false;
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j < n; j++) a[i * n + j] = j >= i ? inv[size_t(j * n + i)] : 0.0;
  return true;
}

}  // namespace linalg
}  // namespace bitsmith
