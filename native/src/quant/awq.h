// AWQ (Lin et al., "AWQ: Activation-aware Weight Quantization", 2023): per-input-channel
// scaling searched on calibration statistics. For the weights W_1..W_k that read one input
// (q/k/v; gate/up; o; down), with m_j the mean |x_j| of input channel j over the
// calibration tokens and H = X^T X the input's Hessian:
//   s(alpha)_j = max(m_j^alpha, 1e-4), then s /= sqrt(max_j s_j * min_j s_j)   (AWQ's rule)
//   W_i'(alpha) = Q(W_i diag s) diag s^-1   (Q: the tensor's own grid, quantizeTensor;
//                                            column j divided by s_j in f32)
//   alpha over the grid {0, 1/grid, ..., (grid-1)/grid} (AWQ's range(n_grid) / n_grid),
//   choosing the smallest sum_i tr(dW_i H dW_i^T), dW_i = W_i' - W_i: the squared output
//   error of the layers on the calibration inputs, the quantity AWQ measures on the
//   block's output. Ties keep the smaller alpha; alpha = 0 gives s = 1 exactly, so
//   W' is RTN's bit for bit and AWQ's error is never above RTN's (in the arithmetic of
//   the path that scores them).
// One s is shared by the tensors reading the same input, as AWQ does, so it could be
// folded into the operation before them (the RMSNorm weight for q/k/v and gate/up).
// Scoring: the reference path sums d^T H d per row in f64 with plain loops; the fast path
// forms D H with the f32 GEMM (linalg/gemm.h) and sums D∘(D H) in f64 (the same figure
// within the GEMM's rounding; the tests check both choose the same alpha).
// Not done: AWQ's weight clipping search (auto_clip) and the duo_scaling variant.
#pragma once
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "quant/quantize.h"
#include "quant/stored.h"

namespace bitsmith {

class ThreadPool;

namespace quant {

struct AwqOptions {
  int grid = 20;  // points of the alpha grid
  // Checked before each grid point: once set, awqSearch throws ModelError run/cancelled.
  const std::atomic<bool>* cancel = nullptr;
};

struct AwqMember {
  std::string name;
  const float* w = nullptr;  // [rows, n]
  int64_t rows = 0;
  QuantConfig cfg;
  // Optional per-row divisor r (rows): another site's 1/s folded into this tensor's rows
  // (up_proj takes down_proj's): W' = diag(r) Q(diag(1/r) W diag s) diag(1/s).
  const float* rowScale = nullptr;
};

struct AwqChoice {
  int point = 0;         // index into the grid
  double alpha = 0;      // point / grid
  std::vector<float> s;  // per input channel
  float sMin = 1, sMax = 1;
  double err = 0;            // sum over members of tr(dW H dW^T) at the chosen alpha
  double errRtn = 0;         // the same at alpha = 0 (RTN)
  std::vector<double> errs;  // per grid point
};

/** AWQ's scales for one alpha (n channels, meanAbs = mean |x_j|). */
void awqScales(const double* meanAbs, int64_t n, double alpha, float* s);

/** W' = Q(W diag s) diag s^-1 into dequant [rows * n]; `stored` receives the stored form of
 *  W diag s (its codes, scales and zeros: the tensor as a folded model would store it).
 *  rowScale (optional, rows): W' = diag(r) Q(diag(1/r) W diag s) diag(1/s). */
void awqApply(const float* w, int64_t rows, int64_t n, const float* s, const QuantConfig& cfg,
              ThreadPool& pool, bool reference, float* dequant, StoredTensor& stored,
              const float* rowScale = nullptr);

/** The quantizer's input: x = (w s_j) / r_i (r: optional row divisors). */
void awqScaleInput(const float* w, int64_t rows, int64_t n, const float* s, const float* rowScale,
                   float* x, ThreadPool* pool);
/** Back to the original basis, in place: q = (q r_i) / s_j. */
void awqUnscale(float* q, int64_t rows, int64_t n, const float* s, const float* rowScale,
                ThreadPool* pool);

/** Searches alpha for the members (all with n input columns). h: n x n (f64, symmetric),
 *  meanAbs: n. Throws std::invalid_argument for bad options or configs. */
AwqChoice awqSearch(const std::vector<AwqMember>& members, int64_t n, const double* h,
                    const double* meanAbs, const AwqOptions& o, ThreadPool& pool, bool reference);

}  // namespace quant
}  // namespace bitsmith
