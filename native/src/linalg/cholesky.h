// Dense symmetric positive-definite helpers in f64 (row-major n x n), for GPTQ.
#pragma once
#include <cstdint>

namespace bitsmith {
class ThreadPool;
namespace linalg {

/** In place: A = L L^T, the lower triangle of A becomes L (the strict upper is zeroed).
 *  False if A is not (numerically) positive definite. */
bool choleskyLower(double* a, int64_t n, ThreadPool* pool = nullptr);
/** In place: L (lower triangular, non-singular) becomes L^-1 (lower triangular). */
void invertLower(double* l, int64_t n, ThreadPool* pool = nullptr);
/** The upper Cholesky factor U of A^-1 (A^-1 = U^T U), as GPTQ uses it: A is overwritten.
 *  Computed without forming A^-1: the Cholesky factor of A with rows and columns reversed,
 *  inverted, and reversed back. False if A is not positive definite. */
bool inverseUpperCholesky(double* a, int64_t n, ThreadPool* pool = nullptr);

}  // namespace linalg
}  // namespace bitsmith
