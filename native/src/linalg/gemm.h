// Dense f32 matrix products for the forward pass and calibration, no BLAS.
//
// The one product is C[m, n] (+)= A[m, k] · B[n, k]^T: row-major A and B with k
// contiguous in both, which is how a linear layer's weight W[out, in] multiplies the
// activations X[tokens, in] (Y = X · W^T), and how attention scores Q · K^T read.
//
// B is packed into panels of 16 of its rows, k-major inside a panel (panel p holds
// B[16p + j][kk] at p*k*16 + kk*16 + j, zero-padded past n), so the micro-kernel reads
// one contiguous 16-float line per k. Weights are packed once (PackedB); other operands
// are packed per call. The blocked driver splits C into (row block x panel group) tiles
// on the thread pool; each tile walks k in blocks of kKc, keeps one panel's k block in L1
// and streams 6 rows of A against it with 12 AVX2+FMA accumulators (6 x 16 floats).
// Each C element is summed by one thread in a fixed k order, so results do not depend on
// the thread count. Paths: the AVX2+FMA kernel (when the CPU has both), a portable
// kernel of the same blocking that the compiler vectorises, and a scalar reference
// (double accumulation, no blocking) that tests compare the others against.
#pragma once
#include <cstdint>
#include <vector>

namespace bitsmith {

class ThreadPool;

namespace linalg {

enum class Path { Auto, Portable, Reference };

constexpr int64_t kPanel = 16;  // rows of B per packed panel (= micro-kernel width)
constexpr int64_t kMr = 6;      // rows of A per micro-kernel call
constexpr int64_t kKc = 256;    // k block

struct PackedB {
  int64_t n = 0, k = 0;
  std::vector<float> data;  // ceil(n / 16) * k * 16
  int64_t panels() const { return (n + kPanel - 1) / kPanel; }
};

/** Packs B[n, k] (row stride ldb >= k). */
void packB(const float* B, int64_t ldb, int64_t n, int64_t k, PackedB& out,
           ThreadPool* pool = nullptr);

/** C[m, n] = A[m, k] · B^T (or += with accumulate). lda >= k, ldc >= n. */
void gemmPacked(const float* A, int64_t lda, int64_t m, const PackedB& B, float* C, int64_t ldc,
                ThreadPool* pool, bool accumulate = false, Path path = Path::Auto,
                bool upperOnly = false);
// upperOnly (for symmetric results): only C[i][j] with j >= i are guaranteed; tiles lying
// entirely below the diagonal are skipped.

/** As gemmPacked, packing B[n, k] (row stride ldb) on the fly. */
void gemmABt(const float* A, int64_t lda, const float* B, int64_t ldb, float* C, int64_t ldc,
             int64_t m, int64_t n, int64_t k, ThreadPool* pool, bool accumulate = false,
             Path path = Path::Auto);

/** The specification: plain loops, double accumulation, rounded to f32 once. */
void gemmReference(const float* A, int64_t lda, const float* B, int64_t ldb, float* C, int64_t ldc,
                   int64_t m, int64_t n, int64_t k, bool accumulate = false);

/** Which kernel Path::Auto runs here: "avx2-fma" or "portable". */
const char* gemmKernelName();

/** H[n, n] += X^T X for X[t, n] (row stride ldx), H in f64. X^T X is formed in f32 by the
 *  GEMM (its upper triangle, mirrored) over blocks of at most kGramBlock rows of X, and each
 * block's result is added to H in f64: an f32 sum of at most 256 products per element per block
 * (relative error ~1e-5 worst case), while the long sum over many blocks (millions of calibration
 *  tokens, where f32 would lose increments next to a large total) is f64. */
constexpr int64_t kGramBlock = 256;
void gramAccumulate(const float* X, int64_t ldx, int64_t t, int64_t n, double* H, ThreadPool* pool,
                    Path path = Path::Auto, bool upperOnly = false);
/** upperOnly: only H[i][j] with j >= i are updated (streamed sums); mirrorUpper fills the
 *  lower triangle from the upper one at the end. */
void mirrorUpper(double* H, int64_t n);
/** Reference: H += X^T X with f64 products and sums. */
void gramAccumulateReference(const float* X, int64_t ldx, int64_t t, int64_t n, double* H);

}  // namespace linalg
}  // namespace bitsmith
