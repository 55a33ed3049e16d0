// HQQ (Badri & Shaji, "Half-Quadratic Quantization of Large Machine Learning Models",
// 2023), data-free, for the asymmetric int grids of quant/int.cc. The scale stays RTN's
// (the min/max fit, stored); the zero point z of each group is optimised for the
// sparsity-promoting loss sum |w - w'|^p (p < 1) by half-quadratic splitting, HQQ's
// zero-only formulation. From z = RTN's stored zero, beta = beta0, repeat:
//   q   = the grid's codes of the group at the stored zero z (int.cc's rule for the zero
//         type: zero int round(w/s) + z, zero f16 round(w/s + z); clamped to [0, 2^b - 1])
//   e   = w - (q - z) s                          (the residual; its loss |e|^p summed is
//                                                 the objective at this z)
//   W_e = sign(e) max(0, |e| - |e|^(p-1) / beta) (the lp shrink: the sparse part of e)
//   z   = store(mean over the group of q - (w - W_e) / s), beta *= kappa
// with w / s computed as w * (1 / s) (int.cc's convention) and store() the zero's storage
// rule (zero int: clamp(round(z), 0, 2^b - 1); zero f16: f16(z)), so every iterate is a
// point of the stored format: codes, scales and zeros are RTN's layout, byte for byte.
//
// zero int: rounding every iterate would keep RTN's zero (one update moves it by less than
// a step), so the iteration runs on the relaxation (a real-valued zero with the zero f16
// rule, not stored), and the integers either side of its best zero are then scored
// against RTN's zero on the stored grid: the lowest objective wins (RTN's on ties).
//
// Differences from the reference implementation, by choice:
//  - it stops when the objective (sum |e|^p at the stored zero) does not decrease and
//    returns the zero with the smallest objective seen; the reference stops on the mean
//    |e| of the whole tensor and returns the zero of its last update. Per-group stopping
//    keeps groups independent (row chunks give the same bytes as the whole tensor), and
//    the objective can only go down from RTN's (the first iterate is RTN's zero).
//  - weights whose residual is below the smallest normal float (|e| < 2^-126, e.g. exact
//    grid points) count 0 in the objective and are not part of W_e (|e|^(p-1) / beta is
//    then far above |e|: the shrink gives 0 there anyway).
//  - x^(p-1) is the polynomial pow of hqqPow (relative error below 1e-5 over the float
//    range, 1e-6 for residuals in [1e-6, 1]), identical in the
//    scalar reference and the AVX2 path; sums use fixed lanes (element i in lane i % 8,
//    objective in f64, zero in f32, combined as a pairwise tree), so both paths produce
//    the same bits.
// iters counts zero updates: up to iters + 1 objective evaluations.
#pragma once
#include <cstdint>

#include "quant/quantize.h"

namespace bitsmith {
namespace quant {

struct HqqGrid {
  float s = 0, inv = 0;  // stored scale and 1 / s
  float qmax = 15;       // 2^b - 1
  bool zeroInt = false;  // zero int (else f16)
};

struct HqqResult {
  float z = 0;           // the chosen stored zero
  int updates = 0;       // zero updates made
  double objective = 0;  // sum |e|^p at z
};

/** The group x[0..n)'s optimised stored zero; z0 is RTN's stored zero (the start). `scalar`:
 *  the reference loop (else AVX2 when the CPU has it; same result). */
HqqResult hqqZero(const float* x, int64_t n, const HqqGrid& g, float z0, const HqqOptions& o,
                  bool scalar);

/** The zero's storage rule for the grid. */
float hqqStoreZero(float z, const HqqGrid& g);

/** a^e for normal a > 0 and e in [-1, 0] (the spec's pow, exposed for tests). */
float hqqPow(float a, float e);

/** Throws std::invalid_argument for options HQQ does not take. */
void checkHqqOptions(const HqqOptions& o);

}  // namespace quant
}  // namespace bitsmith
