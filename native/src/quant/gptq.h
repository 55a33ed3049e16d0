// GPTQ (Frantar et al., 2022) on the grids with per-group scales: int2..int8 (symmetric,
// or asymmetric with an integer or f16 zero point; any scale storage type), nf4, fp4,
// fp8_e4m3, fp8_e5m2 (group size or channel, any scale type), the microscaled mxfp4,
// mxfp8 and nvfp4 (their fixed blocks and scale rules), and the ggml blocks q8_0, q4_0,
// q4_1, q5_0, q5_1, q4_k, q5_k, q6_k (quant/ggml/gptq.cc). Every group's parameters are fitted by
// the family's own RTN rule (quant/int.cc, quant/float.cc, the ggml block encoder; with clip mse,
// its shrink search), and every weight becomes the nearest point of its group's grid, so the result
// is a point of exactly the stored format RTN writes, and is returned in it.
//
// Given W [rows, cols] and H = X^T X of the layer's input [cols, cols]:
//   dead input channels (H_jj = 0) get H_jj = 1 and W[:, j] = 0;
//   act_order: columns in order of decreasing H_jj (stable), with static groups: every
//     group's parameters are fitted per row on the original W, in the original column
//     order, before the pass (else the first permuted group would gather the outliers);
//   H += damp * mean(diag H) * I;
//   columns in processing order: q = Q(w~_j) on its group's grid (without act_order the
//     group's parameters are fitted on the current, error-compensated w~ of the group when
//     its first column is reached), and the error is fed forward to the later columns
//     (quant/gptq_driver.h: the reference's U = chol(H^-1) rule in f64, and the fast
//     path's equivalent f32 form on the Cholesky factor of H, blocked, with the lazy
//     updates as GEMMs on the pool).
// nvfp4's per-tensor scale is RTN's, from the original weights (dead inputs zeroed).
#pragma once
#include <atomic>
#include <cstdint>
#include <vector>

#include "quant/quantize.h"
#include "quant/stored.h"

namespace bitsmith {

class ThreadPool;

struct GptqOptions {
  double damp = 0.01;
  int64_t block = 128;
  bool actOrder = false;
  bool reference = false;  // the scalar f64 spec (tests, benchmarks)
  // Checked between column blocks: once set, gptqQuantize throws ModelError run/cancelled.
  const std::atomic<bool>* cancel = nullptr;
};

/** Seconds spent, for benchmarks: the Hessian's factorization (damping, Cholesky and the
 *  packed factor) and the column pass (with the stored form). */
struct GptqTimes {
  double hessian = 0, pass = 0;
};

/** Returns the dequantized W' [rows * cols]; `stored` (if given) receives the stored form
 *  (codes, scales, zeros, extra), byte for byte as quantizeTensorInto lays it out.
 *  Throws std::invalid_argument for what GPTQ does not run here (the sign grids binary and
 *  ternary, q2_k, q3_k and the iq4 blocks, group tensor, outliers, lowrank, rotate), for
 *  non-finite weights, and for a Hessian that is not positive definite after damping. */
std::vector<float> gptqQuantize(const float* w, int64_t rows, int64_t cols, const double* h,
                                const QuantConfig& cfg, const GptqOptions& opt, ThreadPool* pool,
                                StoredTensor* stored = nullptr, GptqTimes* times = nullptr);

}  // namespace bitsmith
