// Dense symmetric positive-definite helpers (row-major n x n), for GPTQ: the f64 scalar
// routines (GPTQ's reference path) and a blocked f32 Cholesky on the GEMM (its fast path).
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

/** In place, f32, blocked: A = R^T R with R upper triangular (the strict lower triangle is
 *  zeroed). Only the upper triangle of A is read. Columns in panels of `nb`: each diagonal
 *  block is factored (and its triangle inverted) in f64, the panel row right of it is
 *  R12 = R11^-T A12 (a GEMM with the inverted triangle) and the trailing matrix's upper
 *  triangle takes A22 -= R12^T R12 (the GEMM, on the pool). False if A is not
 *  (numerically) positive definite. */
bool choleskyUpperBlocked(float* a, int64_t n, ThreadPool* pool = nullptr, int64_t nb = 128);

}  // namespace linalg
}  // namespace bitsmith
