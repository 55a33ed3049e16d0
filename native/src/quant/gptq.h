// GPTQ (Frantar et al., 2022) for the uniform integer grids (int2..int8; symmetric, or
// asymmetric with an integer or f16 zero point; any scale storage type; group size or
// channel), with the grid, scale and zero rules of quant/int.cc, so the result is a point
// of exactly the stored format RTN would write.
//
// Given W [rows, cols] and H = X^T X of the layer's input [cols, cols]:
//   dead input channels (H_jj = 0) get H_jj = 1 and W[:, j] = 0;
//   act_order: columns in order of decreasing H_jj (stable), with static groups: every
//     group's scale/zero is fitted per row on the original W, in the original column
//     order, before the pass (else the first permuted group would gather the outliers);
//   H += damp * mean(diag H) * I;  U = upper Cholesky factor of H^-1;
//   columns in blocks of `block`: for column j, q = Q(w_j) on its group's grid (without
//     act_order the group's parameters are fitted on the current, error-compensated
//     W[:, g..g+group) when its first column is reached), e = (w_j - q) / U_jj,
//     W[:, j+1..block end] -= e U[j, j+1..]; after a block, the columns right of it get
//     the block's errors at once (W[:, rest] -= E U[block, rest]: the lazy batch update).
// Rows are independent: they run in parallel on the pool. W is updated in f64.
#pragma once
#include <cstdint>
#include <vector>

#include "quant/quantize.h"

namespace bitsmith {

class ThreadPool;

struct GptqOptions {
  double damp = 0.01;
  int64_t block = 128;
  bool actOrder = false;
};

/** Returns the dequantized W' [rows * cols]. Throws std::invalid_argument for formats or
 *  properties GPTQ does not run here (non-int formats, group tensor, clip mse, outliers,
 *  lowrank, rotate) and for a Hessian that is not positive definite after damping. */
std::vector<float> gptqQuantize(const float* w, int64_t rows, int64_t cols, const double* h, const QuantConfig& cfg,
                                const GptqOptions& opt, ThreadPool* pool);

}  // namespace bitsmith
