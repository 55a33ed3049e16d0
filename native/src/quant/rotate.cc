// Seeded random-sign Hadamard rotation along the input dimension (QuIP#-style).
// T = H D / sqrt(P) acts on each block of P consecutive columns of every row, where P is
// the largest power of two dividing cols (cols = 4096 -> one block of 4096; cols = 96 ->
// three blocks of 32; odd cols -> P = 1, only the random signs). D holds one seeded +-1
// per column (shared by all rows), H is the Sylvester Hadamard matrix. T is orthogonal:
// T^-1 = T^T = D H / sqrt(P). Rotating every row by T is W T^T, i.e. y = (W T^-1)(T x).
// The quantizers run on T(W); the reconstruction is T^-1(Q), in the original basis.
#include <cmath>
#include <cstring>

#include "quant/internal.h"

namespace bitsmith {
namespace quant {

namespace {
inline uint64_t splitmix64(uint64_t& s) {
  uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// In-place unnormalised fast Walsh-Hadamard transform of p (a power of two) values.
void fwht(float* y, int64_t p) {
  for (int64_t h = 1; h < p; h *= 2)
    for (int64_t i = 0; i < p; i += 2 * h)
      for (int64_t j = i; j < i + h; ++j) {
        const float a = y[j], b = y[j + h];
        y[j] = a + b;
        y[j + h] = a - b;
      }
}
}  // namespace

Rotation makeRotation(int64_t cols, uint64_t seed) {
  Rotation R;
  R.cols = cols;
  R.block = cols & -cols;  // largest power of two dividing cols
  R.norm = float(1.0 / std::sqrt(double(R.block)));
  R.signs.resize(size_t(cols));
  uint64_t state = seed ^ 0x5851f42d4c957f2dULL;
  for (int64_t j = 0; j < cols; ++j) R.signs[size_t(j)] = (splitmix64(state) >> 63) ? -1.0f : 1.0f;
  return R;
}

void rotateRows(const Rotation& R, const float* in, float* out, int64_t rows, ThreadPool* pool, bool inverse) {
  const int64_t n = R.cols, p = R.block;
  parallelFor(
      pool, rows,
      [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
          const float* x = in + r * n;
          float* y = out + r * n;
          if (!inverse) {
            for (int64_t j = 0; j < n; ++j) y[j] = x[j] * R.signs[size_t(j)];
            for (int64_t b = 0; b < n; b += p) fwht(y + b, p);
            for (int64_t j = 0; j < n; ++j) y[j] *= R.norm;
          } else {
            if (y != x) std::memcpy(y, x, size_t(n) * sizeof(float));
            for (int64_t b = 0; b < n; b += p) fwht(y + b, p);
            for (int64_t j = 0; j < n; ++j) y[j] = (y[j] * R.norm) * R.signs[size_t(j)];
          }
        }
      },
      std::max<int64_t>(1, 4096 / std::max<int64_t>(1, n)));
}

}  // namespace quant
}  // namespace bitsmith
