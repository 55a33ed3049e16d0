// Per-input-channel importance d_j (QuantConfig::importance): calibration's diagonal of
// X^T X, from an imatrix or the forward-pass Hessian. The searches weight each weight's
// squared error by its column's d_j; this file holds what is shared by them.
#pragma once
#include <cstdint>
#include <vector>

namespace bitsmith {
namespace quant {

/** Throws std::invalid_argument unless every d[j], j < cols, is finite and >= 0. */
void checkImportance(const float* d, int64_t cols);

/** The importance in the rotated basis of rotate hadamard (blocks of `block` columns):
 *  the diagonal of T diag(d) T^T, which for T = H D / sqrt(P) is the block's mean of d
 *  in every column of the block (|T_jk| = 1/sqrt(P)). The off-diagonal terms are lost,
 *  as they are for any diagonal importance. */
std::vector<float> rotatedImportance(const float* d, int64_t cols, int64_t block);

}  // namespace quant
}  // namespace bitsmith
