// Low-rank correction of a residual R [m, n] (LoRC / LQ-LoRA): R ~ U V with U [m, r] and
// V [r, n] stored in f16. Randomized SVD (Halko, Martinsson & Tropp 2011), in double:
//   Omega [n, l] Gaussian (seeded), l = min(r + 8, min(m, n));
//   Q = orth(R Omega); 2 power iterations Q = orth(R orth(R^T Q));
//   B^T = R^T Q [n, l]; eigen-decomposition B B^T = E diag(lambda) E^T by cyclic Jacobi;
//   sigma_k = sqrt(lambda_k); U_k = (Q e_k) sqrt(sigma_k), V_k = (B^T e_k)^T / sqrt(sigma_k)
//   (the singular values split evenly between the factors, which keeps both in f16 range).
// orth() is classical Gram-Schmidt applied twice; numerically dependent columns become 0,
// and components with sigma_k <= 1e-10 sigma_0 are dropped (rank-deficient residuals).
// Ranks beyond min(m, n) are stored as zero factors. The correction applied is the product
// of the f16-rounded factors, accumulated in double: what a decoder computes.
// Matrix products are parallel over rows / columns with each output element summed in a
// fixed order, so the result does not depend on the thread count.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "common/cpu.h"
#include "common/fp.h"
#include "quant/internal.h"

namespace bitsmith {
namespace quant {

namespace {

struct Gaussian {
  uint64_t state;
  double uniform() { return (double(splitmix64(state) >> 11) + 0.5) * 0x1.0p-53; }  // (0, 1)
  double next() {
    const double u1 = uniform(), u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
};

// The products run in tiles of 8 rows of R, so the small [*, l] operand streams once per
// tile instead of once per row; each output element is still accumulated in increasing
// order of the summed index, so the tiling (and the thread count) does not change a bit.
constexpr int64_t kTile = 8;

// Y [m, l] = R [m, n] X [n, l], rows [i0, i1).
__attribute__((always_inline)) inline void mulRXBody(const float* R, int64_t n, const double* X,
                                                     int64_t l, double* Y, int64_t i0, int64_t i1) {
  for (int64_t t0 = i0; t0 < i1; t0 += kTile) {
    const int64_t t1 = std::min(i1, t0 + kTile);
    std::fill(Y + t0 * l, Y + t1 * l, 0.0);
    for (int64_t j = 0; j < n; ++j) {
      const double* x = X + j * l;
      for (int64_t i = t0; i < t1; ++i) {
        const double a = R[i * n + j];
        double* y = Y + i * l;
        for (int64_t c = 0; c < l; ++c) y[c] += a * x[c];
      }
    }
  }
}

// Z [n, l] = R^T Q (Q [m, l]), columns [j0, j1) of R.
__attribute__((always_inline)) inline void mulRtQBody(const float* R, int64_t m, int64_t n,
                                                      const double* Q, int64_t l, double* Z,
                                                      int64_t j0, int64_t j1) {
  std::fill(Z + j0 * l, Z + j1 * l, 0.0);
  for (int64_t t0 = 0; t0 < m; t0 += kTile) {
    const int64_t t1 = std::min(m, t0 + kTile);
    for (int64_t j = j0; j < j1; ++j) {
      double* z = Z + j * l;
      for (int64_t i = t0; i < t1; ++i) {
        const double a = R[i * n + j];
        const double* q = Q + i * l;
        for (int64_t c = 0; c < l; ++c) z[c] += a * q[c];
      }
    }
  }
}

void mulRXBase(const float* R, int64_t n, const double* X, int64_t l, double* Y, int64_t i0,
               int64_t i1) {
  mulRXBody(R, n, X, l, Y, i0, i1);
}
void mulRtQBase(const float* R, int64_t m, int64_t n, const double* Q, int64_t l, double* Z,
                int64_t j0, int64_t j1) {
  mulRtQBody(R, m, n, Q, l, Z, j0, j1);
}
#if BITSMITH_X86
BITSMITH_AVX2 void mulRXAvx2(const float* R, int64_t n, const double* X, int64_t l, double* Y,
                             int64_t i0, int64_t i1) {
  mulRXBody(R, n, X, l, Y, i0, i1);
}
BITSMITH_AVX2 void mulRtQAvx2(const float* R, int64_t m, int64_t n, const double* Q, int64_t l,
                              double* Z, int64_t j0, int64_t j1) {
  mulRtQBody(R, m, n, Q, l, Z, j0, j1);
}
#endif

void mulRX(const float* R, int64_t m, int64_t n, const double* X, int64_t l, double* Y,
           ThreadPool* pool, bool avx2) {
  parallelFor(pool, (m + kTile - 1) / kTile, [&](int64_t b0, int64_t b1) {
    const int64_t i0 = b0 * kTile, i1 = std::min(m, b1 * kTile);
#if BITSMITH_X86
    if (avx2) return mulRXAvx2(R, n, X, l, Y, i0, i1);
#endif
    mulRXBase(R, n, X, l, Y, i0, i1);
  });
  (void)avx2;
}

void mulRtQ(const float* R, int64_t m, int64_t n, const double* Q, int64_t l, double* Z,
            ThreadPool* pool, bool avx2) {
  parallelFor(
      pool, n,
      [&](int64_t j0, int64_t j1) {
#if BITSMITH_X86
        if (avx2) return mulRtQAvx2(R, m, n, Q, l, Z, j0, j1);
#endif
        mulRtQBase(R, m, n, Q, l, Z, j0, j1);
      },
      64);
  (void)avx2;
}

// Orthonormalises the columns of Y [rows, l] in place (classical Gram-Schmidt, twice).
void orthonormalize(double* Y, int64_t rows, int64_t l) {
  std::vector<double> coef(static_cast<size_t>(l));
  for (int64_t c = 0; c < l; ++c) {
    double before = 0;
    for (int64_t i = 0; i < rows; ++i) before += Y[i * l + c] * Y[i * l + c];
    for (int pass = 0; pass < 2; ++pass) {
      std::fill(coef.begin(), coef.end(), 0.0);
      for (int64_t i = 0; i < rows; ++i) {
        const double* y = Y + i * l;
        for (int64_t p = 0; p < c; ++p) coef[size_t(p)] += y[p] * y[c];
      }
      for (int64_t i = 0; i < rows; ++i) {
        double* y = Y + i * l;
        double s = 0;
        for (int64_t p = 0; p < c; ++p) s += coef[size_t(p)] * y[p];
        y[c] -= s;
      }
    }
    double after = 0;
    for (int64_t i = 0; i < rows; ++i) after += Y[i * l + c] * Y[i * l + c];
    if (!(after > 0) || after <= before * 1e-24) {
      for (int64_t i = 0; i < rows; ++i) Y[i * l + c] = 0;
    } else {
      const double inv = 1.0 / std::sqrt(after);
      for (int64_t i = 0; i < rows; ++i) Y[i * l + c] *= inv;
    }
  }
}

// Symmetric eigen-decomposition of C [l, l] (destroyed) by cyclic Jacobi: C = E diag(w) E^T,
// eigenvalues sorted descending, E's columns the eigenvectors (row-major, E[i * l + k]).
void jacobiEigen(std::vector<double>& C, int64_t l, std::vector<double>& w,
                 std::vector<double>& E) {
  E.assign(size_t(l * l), 0.0);
  for (int64_t i = 0; i < l; ++i) E[size_t(i * l + i)] = 1.0;
  auto at = [&](int64_t i, int64_t j) -> double& { return C[size_t(i * l + j)]; };
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0, diag = 0;
    for (int64_t i = 0; i < l; ++i) {
      diag += at(i, i) * at(i, i);
      for (int64_t j = i + 1; j < l; ++j) off += at(i, j) * at(i, j);
    }
    if (off <= 1e-30 * diag || off == 0) break;
    for (int64_t p = 0; p < l; ++p)
      for (int64_t q = p + 1; q < l; ++q) {
        const double apq = at(p, q);
        if (apq == 0) continue;
        const double tau = (at(q, q) - at(p, p)) / (2 * apq);
        const double t = (tau >= 0 ? 1.0 : -1.0) / (std::fabs(tau) + std::sqrt(1 + tau * tau));
        const double c = 1 / std::sqrt(1 + t * t), s = t * c;
        for (int64_t k = 0; k < l; ++k) {  // columns p, q
          const double akp = at(k, p), akq = at(k, q);
          at(k, p) = c * akp - s * akq;
          at(k, q) = s * akp + c * akq;
        }
        for (int64_t k = 0; k < l; ++k) {  // rows p, q
          const double apk = at(p, k), aqk = at(q, k);
          at(p, k) = c * apk - s * aqk;
          at(q, k) = s * apk + c * aqk;
        }
        for (int64_t k = 0; k < l; ++k) {
          const double ekp = E[size_t(k * l + p)], ekq = E[size_t(k * l + q)];
          E[size_t(k * l + p)] = c * ekp - s * ekq;
          E[size_t(k * l + q)] = s * ekp + c * ekq;
        }
      }
  }
  std::vector<int64_t> order(static_cast<size_t>(l));
  for (int64_t i = 0; i < l; ++i) order[size_t(i)] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return at(a, a) > at(b, b); });
  std::vector<double> E2(size_t(l * l));
  w.resize(size_t(l));
  for (int64_t k = 0; k < l; ++k) {
    const int64_t src = order[size_t(k)];
    w[size_t(k)] = at(src, src);
    for (int64_t i = 0; i < l; ++i) E2[size_t(i * l + k)] = E[size_t(i * l + src)];
  }
  E.swap(E2);
}

}  // namespace

void lowrankFit(const float* R, int64_t m, int64_t n, int r, uint64_t seed, ThreadPool* pool,
                bool scalar, Bytes& factors, float* L) {
  const bool avx2 = !scalar && cpuHasAvx2();
  const int64_t rank = r;
  factors.resize(size_t(2 * rank * (m + n)));
  std::memset(factors.data(), 0, factors.size());
  const int64_t re = std::min<int64_t>(rank, std::min(m, n));
  const int64_t l = std::min<int64_t>(re + 8, std::min(m, n));

  std::vector<double> omega(size_t(n * l));
  Gaussian g{seed ^ 0xa0761d6478bd642fULL};
  for (double& v : omega) v = g.next();
  std::vector<double> Q(size_t(m * l)), Z(size_t(n * l));
  mulRX(R, m, n, omega.data(), l, Q.data(), pool, avx2);
  omega = std::vector<double>();
  orthonormalize(Q.data(), m, l);
  for (int it = 0; it < 2; ++it) {
    mulRtQ(R, m, n, Q.data(), l, Z.data(), pool, avx2);
    orthonormalize(Z.data(), n, l);
    mulRX(R, m, n, Z.data(), l, Q.data(), pool, avx2);
    orthonormalize(Q.data(), m, l);
  }
  mulRtQ(R, m, n, Q.data(), l, Z.data(), pool, avx2);  // B^T

  std::vector<double> C(size_t(l * l), 0.0);
  for (int64_t j = 0; j < n; ++j) {
    const double* z = Z.data() + j * l;
    for (int64_t a = 0; a < l; ++a)
      for (int64_t b = a; b < l; ++b) C[size_t(a * l + b)] += z[a] * z[b];
  }
  for (int64_t a = 0; a < l; ++a)
    for (int64_t b = 0; b < a; ++b) C[size_t(a * l + b)] = C[size_t(b * l + a)];
  std::vector<double> w, E;
  jacobiEigen(C, l, w, E);

  uint8_t* Ub = factors.data();
  uint8_t* Vb = factors.data() + 2 * rank * m;
  std::vector<float> Uf(size_t(m * rank), 0.0f), Vf(size_t(rank * n), 0.0f);
  const double sigma0 = std::sqrt(std::max(0.0, w.empty() ? 0.0 : w[0]));
  auto put = [](uint8_t* p, int64_t idx, float v, float* f) {
    const uint16_t h = f16FromF32Sat(v);
    p[2 * idx] = uint8_t(h);
    p[2 * idx + 1] = uint8_t(h >> 8);
    *f = f16ToF32(h);
  };
  for (int64_t k = 0; k < re; ++k) {
    const double sigma = std::sqrt(std::max(0.0, w[size_t(k)]));
    if (!(sigma > 0) || sigma <= 1e-10 * sigma0) continue;
    const double root = std::sqrt(sigma);
    for (int64_t i = 0; i < m; ++i) {
      double u = 0;
      for (int64_t c = 0; c < l; ++c) u += Q[size_t(i * l + c)] * E[size_t(c * l + k)];
      put(Ub, i * rank + k, float(u * root), &Uf[size_t(i * rank + k)]);
    }
    for (int64_t j = 0; j < n; ++j) {
      double v = 0;
      for (int64_t c = 0; c < l; ++c) v += Z[size_t(j * l + c)] * E[size_t(c * l + k)];
      put(Vb, k * n + j, float(v / root), &Vf[size_t(k * n + j)]);
    }
  }
  parallelFor(pool, m, [&](int64_t i0, int64_t i1) {
    std::vector<double> acc(static_cast<size_t>(n));
    for (int64_t i = i0; i < i1; ++i) {
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t k = 0; k < re; ++k) {
        const double u = Uf[size_t(i * rank + k)];
        if (u == 0) continue;
        const float* v = Vf.data() + k * n;
        for (int64_t j = 0; j < n; ++j) acc[size_t(j)] += u * double(v[j]);
      }
      for (int64_t j = 0; j < n; ++j) L[i * n + j] = float(acc[size_t(j)]);
    }
  });
}

}  // namespace quant
}  // namespace bitsmith
