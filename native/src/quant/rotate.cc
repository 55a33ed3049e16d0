// Seeded random-sign Hadamard rotation along the input dimension (QuIP#-style).
// T = H D / sqrt(P) acts on each block of P consecutive columns of every row, where P is
// the largest power of two dividing cols (cols = 4096 -> one block of 4096; cols = 96 ->
// three blocks of 32; odd cols -> P = 1, only the random signs). D holds one seeded +-1
// per column (shared by all rows), H is the Sylvester Hadamard matrix. T is orthogonal:
// T^-1 = T^T = D H / sqrt(P). Rotating every row by T is W T^T, i.e. y = (W T^-1)(T x).
// The quantizers run on T(W); the reconstruction is T^-1(Q), in the original basis.
#include <cmath>
#include <cstring>

#include "common/cpu.h"
#include "quant/internal.h"

#if BITSMITH_X86
#include <immintrin.h>
#endif

namespace bitsmith {
namespace quant {

namespace {}  // namespace

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

namespace {
// One row, forward (y = T x) or inverse (y = T^-1 x): the spec (scalar).
template <bool Inverse>
void rotateRowScalar(const Rotation& R, const float* x, float* y) {
  const int64_t n = R.cols, p = R.block;
  const float* sg = R.signs.data();
  if (!Inverse) {
    for (int64_t j = 0; j < n; ++j) y[j] = x[j] * sg[j];
  } else if (y != x) {
    std::memcpy(y, x, size_t(n) * sizeof(float));
  }
  for (int64_t b = 0; b < n; b += p) {
    float* v = y + b;
    for (int64_t h = 1; h < p; h *= 2)
      for (int64_t i = 0; i < p; i += 2 * h)
        for (int64_t j = i; j < i + h; ++j) {
          const float a = v[j], c = v[j + h];
          v[j] = a + c;
          v[j + h] = a - c;
        }
  }
  if (!Inverse) {
    for (int64_t j = 0; j < n; ++j) y[j] *= R.norm;
  } else {
    for (int64_t j = 0; j < n; ++j) y[j] = (y[j] * R.norm) * sg[j];
  }
}

#if BITSMITH_X86
// The same butterflies with AVX2, bit for bit: stages h = 1, 2, 4 inside each 8-float
// register (a + c and a - c computed exactly as the scalar loop does: float addition is
// commutative), then h >= 8 across registers.
BITSMITH_AVX2 inline __m256 stages124(__m256 v) {
  __m256 b = _mm256_permute_ps(v, 0xB1);  // h = 1: partner lanes 1,0,3,2,...
  v = _mm256_blend_ps(_mm256_add_ps(v, b), _mm256_sub_ps(b, v), 0xAA);
  b = _mm256_permute_ps(v, 0x4E);  // h = 2
  v = _mm256_blend_ps(_mm256_add_ps(v, b), _mm256_sub_ps(b, v), 0xCC);
  b = _mm256_permute2f128_ps(v, v, 1);  // h = 4
  return _mm256_blend_ps(_mm256_add_ps(v, b), _mm256_sub_ps(b, v), 0xF0);
}

template <bool Inverse>
BITSMITH_AVX2 void rotateRowAvx2(const Rotation& R, const float* x, float* y) {
  const int64_t n = R.cols, p = R.block;
  if (p < 8) {
    rotateRowScalar<Inverse>(R, x, y);
    return;
  }
  const float* sg = R.signs.data();
  const __m256 vnorm = _mm256_set1_ps(R.norm);
  for (int64_t b = 0; b < n; b += p) {
    float* v = y + b;
    for (int64_t j = 0; j < p; j += 8) {
      __m256 t = _mm256_loadu_ps(x + b + j);
      if (!Inverse) t = _mm256_mul_ps(t, _mm256_loadu_ps(sg + b + j));
      _mm256_storeu_ps(v + j, stages124(t));
    }
    for (int64_t h = 8; h < p; h *= 2)
      for (int64_t i = 0; i < p; i += 2 * h)
        for (int64_t j = i; j < i + h; j += 8) {
          const __m256 a = _mm256_loadu_ps(v + j), c = _mm256_loadu_ps(v + j + h);
          _mm256_storeu_ps(v + j, _mm256_add_ps(a, c));
          _mm256_storeu_ps(v + j + h, _mm256_sub_ps(a, c));
        }
    for (int64_t j = 0; j < p; j += 8) {
      __m256 t = _mm256_mul_ps(_mm256_loadu_ps(v + j), vnorm);
      if (Inverse) t = _mm256_mul_ps(t, _mm256_loadu_ps(sg + b + j));
      _mm256_storeu_ps(v + j, t);
    }
  }
}
#endif
}  // namespace

void rotateRows(const Rotation& R, const float* in, float* out, int64_t rows, ThreadPool* pool,
                bool inverse, bool scalar) {
  const bool avx2 = !scalar && cpuHasAvx2();
  parallelFor(
      pool, rows,
      [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
          const float* x = in + r * R.cols;
          float* y = out + r * R.cols;
#if BITSMITH_X86
          if (avx2) {
            if (inverse)
              rotateRowAvx2<true>(R, x, y);
            else
              rotateRowAvx2<false>(R, x, y);
            continue;
          }
#endif
          if (inverse)
            rotateRowScalar<true>(R, x, y);
          else
            rotateRowScalar<false>(R, x, y);
        }
      },
      std::max<int64_t>(1, 4096 / std::max<int64_t>(1, R.cols)));
  (void)avx2;
}

}  // namespace quant
}  // namespace bitsmith
