#include "linalg/gemm.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "common/cpu.h"
#include "threads/pool.h"

#if BITSMITH_X86
#include <immintrin.h>
#endif

namespace bitsmith {
namespace linalg {

namespace {

void checkDims(int64_t m, int64_t n, int64_t k, int64_t lda, int64_t ldb, int64_t ldc) {
  if (m < 0 || n < 0 || k < 0) throw std::invalid_argument("gemm: negative dimension");
  if (lda < k || ldb < k || ldc < n)
    throw std::invalid_argument("gemm: leading dimension smaller than the row");
}

// One micro-tile: C[mr, nr] (+)= A[mr, kc] · panel[kc, 16]^T, mr <= 6, nr <= 16.
// The portable kernel: the j loop is 16 wide and vectorises.
// A is packed: Ap[k * kMr + i] = A[i][k] (rows of a micro-tile interleaved per k).
template <int MR>
void kernelPortable(const float* Ap, const float* Bp, int64_t kc, float* C, int64_t ldc, bool acc,
                    int64_t nr) {
  float c[MR][kPanel];
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < kPanel; j++) c[i][j] = 0.0f;
  for (int64_t k = 0; k < kc; k++) {
    const float* b = Bp + k * kPanel;
    for (int i = 0; i < MR; i++) {
      const float a = Ap[k * kMr + i];
      for (int j = 0; j < kPanel; j++) c[i][j] += a * b[j];
    }
  }
  for (int i = 0; i < MR; i++)
    for (int64_t j = 0; j < nr; j++) C[i * ldc + j] = acc ? C[i * ldc + j] + c[i][j] : c[i][j];
}

#if BITSMITH_X86
// The 12 accumulators are named variables, not an array: GCC otherwise writes the array
// back to the stack on every k step, which makes the loop store-bound.
template <int MR>
BITSMITH_AVX2_FMA void kernelAvx2(const float* Ap, const float* Bp, int64_t kc, float* C,
                                  int64_t ldc, bool acc, int64_t nr) {
  // C's rows are far apart (a row stride of the whole output): fetch the tile's lines
  // while the k loop runs, or the final read-modify-write waits on memory.
  for (int i = 0; i < MR; i++) {
    _mm_prefetch(reinterpret_cast<const char*>(C + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(C + i * ldc + nr - 1), _MM_HINT_T0);
  }
  __m256 a00 = _mm256_setzero_ps(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00;
  __m256 a30 = a00, a31 = a00, a40 = a00, a41 = a00, a50 = a00, a51 = a00;
  for (int64_t k = 0; k < kc; k++) {
    const __m256 b0 = _mm256_loadu_ps(Bp + k * kPanel);
    const __m256 b1 = _mm256_loadu_ps(Bp + k * kPanel + 8);
    const float* a = Ap + k * kMr;
    __m256 x = _mm256_broadcast_ss(a);
    a00 = _mm256_fmadd_ps(x, b0, a00);
    a01 = _mm256_fmadd_ps(x, b1, a01);
    if (MR > 1) {
      x = _mm256_broadcast_ss(a + 1);
      a10 = _mm256_fmadd_ps(x, b0, a10);
      a11 = _mm256_fmadd_ps(x, b1, a11);
    }
    if (MR > 2) {
      x = _mm256_broadcast_ss(a + 2);
      a20 = _mm256_fmadd_ps(x, b0, a20);
      a21 = _mm256_fmadd_ps(x, b1, a21);
    }
    if (MR > 3) {
      x = _mm256_broadcast_ss(a + 3);
      a30 = _mm256_fmadd_ps(x, b0, a30);
      a31 = _mm256_fmadd_ps(x, b1, a31);
    }
    if (MR > 4) {
      x = _mm256_broadcast_ss(a + 4);
      a40 = _mm256_fmadd_ps(x, b0, a40);
      a41 = _mm256_fmadd_ps(x, b1, a41);
    }
    if (MR > 5) {
      x = _mm256_broadcast_ss(a + 5);
      a50 = _mm256_fmadd_ps(x, b0, a50);
      a51 = _mm256_fmadd_ps(x, b1, a51);
    }
  }
  const __m256 lo[6] = {a00, a10, a20, a30, a40, a50};
  const __m256 hi[6] = {a01, a11, a21, a31, a41, a51};
  alignas(32) float t[kPanel];
  for (int i = 0; i < MR; i++) {
    float* ci = C + i * ldc;
    if (nr == kPanel) {
      __m256 v0 = lo[i], v1 = hi[i];
      if (acc) {
        v0 = _mm256_add_ps(v0, _mm256_loadu_ps(ci));
        v1 = _mm256_add_ps(v1, _mm256_loadu_ps(ci + 8));
      }
      _mm256_storeu_ps(ci, v0);
      _mm256_storeu_ps(ci + 8, v1);
    } else {
      _mm256_store_ps(t, lo[i]);
      _mm256_store_ps(t + 8, hi[i]);
      for (int64_t j = 0; j < nr; j++) ci[j] = acc ? ci[j] + t[j] : t[j];
    }
  }
}
#endif

using Kernel = void (*)(const float*, const float*, int64_t, float*, int64_t, bool, int64_t);

struct Kernels {
  Kernel k[kMr + 1];
};

Kernels portableKernels() {
  return {{nullptr, kernelPortable<1>, kernelPortable<2>, kernelPortable<3>, kernelPortable<4>,
           kernelPortable<5>, kernelPortable<6>}};
}

Kernels pickKernels(Path path) {
#if BITSMITH_X86
  if (path == Path::Auto && cpuHasAvx2Fma())
    return {{nullptr, kernelAvx2<1>, kernelAvx2<2>, kernelAvx2<3>, kernelAvx2<4>, kernelAvx2<5>,
             kernelAvx2<6>}};
#endif
  (void)path;
  return portableKernels();
}

constexpr int64_t kMc = 96;         // rows of A per tile (a multiple of kMr)
constexpr int64_t kPanelGroup = 4;  // panels per tile (64 columns of C)

void packPanels(const float* B, int64_t ldb, int64_t n, int64_t k, float* dst, int64_t p0,
                int64_t p1) {
  for (int64_t p = p0; p < p1; p++) {
    float* out = dst + p * k * kPanel;
    const int64_t j0 = p * kPanel, jn = std::min<int64_t>(kPanel, n - j0);
    for (int64_t j = 0; j < jn; j++) {
      const float* row = B + (j0 + j) * ldb;
      for (int64_t kk = 0; kk < k; kk++) out[kk * kPanel + j] = row[kk];
    }
    for (int64_t j = jn; j < kPanel; j++)
      for (int64_t kk = 0; kk < k; kk++) out[kk * kPanel + j] = 0.0f;
  }
}

}  // namespace

const char* gemmKernelName() {
#if BITSMITH_X86
  if (cpuHasAvx2Fma()) return "avx2-fma";
#endif
  return "portable";
}

void packB(const float* B, int64_t ldb, int64_t n, int64_t k, PackedB& out, ThreadPool* pool) {
  checkDims(0, n, k, k, ldb, n);
  out.n = n;
  out.k = k;
  out.data.assign(size_t(out.panels() * k * kPanel), 0.0f);
  float* dst = out.data.data();
  parallelFor(
      pool, out.panels(), [&](int64_t p0, int64_t p1) { packPanels(B, ldb, n, k, dst, p0, p1); },
      std::max<int64_t>(1, (int64_t(1) << 14) / std::max<int64_t>(1, k * kPanel)));
}

void gemmPacked(const float* A, int64_t lda, int64_t m, const PackedB& B, float* C, int64_t ldc,
                ThreadPool* pool, bool accumulate, Path path, bool upperOnly) {
  const int64_t n = B.n, k = B.k;
  checkDims(m, n, k, lda, k, ldc);
  if (m == 0 || n == 0) return;
  if (int64_t(B.data.size()) != B.panels() * k * kPanel)
    throw std::invalid_argument("gemm: packed B has the wrong size");
  if (k == 0) {
    if (!accumulate)
      for (int64_t i = 0; i < m; i++) std::fill(C + i * ldc, C + i * ldc + n, 0.0f);
    return;
  }
  if (path == Path::Reference) {
    // Unpack and run the specification (tests only).
    std::vector<float> b(size_t(n * k));
    for (int64_t j = 0; j < n; j++)
      for (int64_t kk = 0; kk < k; kk++)
        b[size_t(j * k + kk)] =
            B.data[size_t((j / kPanel) * k * kPanel + kk * kPanel + j % kPanel)];
    gemmReference(A, lda, b.data(), k, C, ldc, m, n, k, accumulate);
    return;
  }
  const Kernels K = pickKernels(path);
  const int64_t panels = B.panels();
  const int64_t rowBlocks = (m + kMc - 1) / kMc;
  const int64_t groups = (panels + kPanelGroup - 1) / kPanelGroup;
  const float* bp = B.data.data();
  // Small products run on the calling thread: the pool's hand-off costs more than they do.
  const double flops = 2.0 * double(m) * double(n) * double(k);
  ThreadPool* p = flops < 2e5 ? nullptr : pool;
  parallelFor(p, rowBlocks * groups, [&](int64_t t0, int64_t t1) {
    // The tile's rows of A for one k block, packed micro-tile by micro-tile so the kernel
    // reads them contiguously (rows of A far apart in memory would contend for cache sets).
    thread_local std::vector<float> apBuf;
    if (apBuf.size() < size_t(kMc * kKc)) apBuf.resize(size_t(kMc * kKc));
    float* ap = apBuf.data();
    for (int64_t t = t0; t < t1; t++) {
      const int64_t rb = t / groups, g = t % groups;
      const int64_t i0 = rb * kMc, i1 = std::min(m, i0 + kMc);
      const int64_t q0 = g * kPanelGroup, q1 = std::min(panels, q0 + kPanelGroup);
      if (upperOnly && std::min(n, q1 * kPanel) <= i0) continue;  // every column left of every row
      for (int64_t k0 = 0; k0 < k; k0 += kKc) {
        const int64_t kc = std::min(kKc, k - k0);
        const bool acc = accumulate || k0 > 0;
        for (int64_t i = i0; i < i1; i += kMr) {
          const int64_t mr = std::min(kMr, i1 - i);
          float* dst = ap + (i - i0) * kc;
          for (int64_t r = 0; r < mr; r++) {
            const float* src = A + (i + r) * lda + k0;
            for (int64_t kk = 0; kk < kc; kk++) dst[kk * kMr + r] = src[kk];
          }
        }
        for (int64_t q = q0; q < q1; q++) {
          const float* panel = bp + q * k * kPanel + k0 * kPanel;
          const int64_t j0 = q * kPanel, nr = std::min(kPanel, n - j0);
          for (int64_t i = i0; i < i1; i += kMr) {
            const int64_t mr = std::min(kMr, i1 - i);
            K.k[mr](ap + (i - i0) * kc, panel, kc, C + i * ldc + j0, ldc, acc, nr);
          }
        }
      }
    }
  });
}

void gemmABt(const float* A, int64_t lda, const float* B, int64_t ldb, float* C, int64_t ldc,
             int64_t m, int64_t n, int64_t k, ThreadPool* pool, bool accumulate, Path path) {
  checkDims(m, n, k, lda, ldb, ldc);
  if (path == Path::Reference) {
    gemmReference(A, lda, B, ldb, C, ldc, m, n, k, accumulate);
    return;
  }
  thread_local PackedB packed;  // reused between calls on this thread
  packB(B, ldb, n, k, packed, m * n * k < (int64_t(1) << 20) ? nullptr : pool);
  gemmPacked(A, lda, m, packed, C, ldc, pool, accumulate, path);
}

void gemmReference(const float* A, int64_t lda, const float* B, int64_t ldb, float* C, int64_t ldc,
                   int64_t m, int64_t n, int64_t k, bool accumulate) {
  checkDims(m, n, k, lda, ldb, ldc);
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < n; j++) {
      double s = 0;
      for (int64_t kk = 0; kk < k; kk++) s += double(A[i * lda + kk]) * double(B[j * ldb + kk]);
      C[i * ldc + j] = accumulate ? float(double(C[i * ldc + j]) + s) : float(s);
    }
}

void mirrorUpper(double* H, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j < i; j++) H[i * n + j] = H[j * n + i];
}

void gramAccumulate(const float* X, int64_t ldx, int64_t t, int64_t n, double* H, ThreadPool* pool,
                    Path path, bool upperOnly) {
  if (t < 0 || n < 0 || ldx < n) throw std::invalid_argument("gram: bad dimensions");
  if (t == 0 || n == 0) return;
  if (path == Path::Reference) {
    gramAccumulateReference(X, ldx, t, n, H);
    return;
  }
  std::vector<float> xt(size_t(n * std::min(t, kGramBlock)));
  std::vector<float> g(size_t(n * n));
  PackedB packed;
  for (int64_t r0 = 0; r0 < t; r0 += kGramBlock) {
    const int64_t tb = std::min(kGramBlock, t - r0);
    // Xt[i, r] = X[r0 + r, i]: the block's columns as rows, for A = B = X^T.
    parallelFor(
        pool, n,
        [&](int64_t i0, int64_t i1) {
          for (int64_t r = 0; r < tb; r++) {
            const float* row = X + (r0 + r) * ldx;
            for (int64_t i = i0; i < i1; i++) xt[size_t(i * tb + r)] = row[i];
          }
        },
        64);
    packB(xt.data(), tb, n, tb, packed, pool);
    gemmPacked(xt.data(), tb, n, packed, g.data(), n, pool, false, path, true);
    // Row i of H takes g[i][j] for j >= i and g[j][i] (= the same product) for j < i.
    parallelFor(
        pool, n,
        [&](int64_t i0, int64_t i1) {
          for (int64_t i = i0; i < i1; i++) {
            double* h = H + i * n;
            const float* gi = g.data() + i * n;
            if (!upperOnly)
              for (int64_t j = 0; j < i; j++) h[j] += double(g[size_t(j * n + i)]);
            for (int64_t j = i; j < n; j++) h[j] += double(gi[j]);
          }
        },
        16);
  }
}

void gramAccumulateReference(const float* X, int64_t ldx, int64_t t, int64_t n, double* H) {
  for (int64_t r = 0; r < t; r++) {
    const float* x = X + r * ldx;
    for (int64_t i = 0; i < n; i++) {
      const double xi = x[i];
      for (int64_t j = 0; j < n; j++) H[i * n + j] += xi * double(x[j]);
    }
  }
}

}  // namespace linalg
}  // namespace bitsmith
