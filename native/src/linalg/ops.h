// Row-wise operations of a Llama-family forward pass, f32 in and out.
#pragma once
#include <cstdint>

namespace bitsmith {
namespace linalg {

/** out[i] = x[i] / sqrt(mean(x^2) + eps) * w[i] (the mean in f64; w may be null: 1).
 *  out may alias x. */
void rmsNorm(const float* x, const float* w, float* out, int64_t n, float eps);
/** In place: x = softmax(x) over n values (max-subtracted). With AVX2+FMA the
 *  exponentials are a vectorised polynomial (relative error < 1e-6) summed in 8 f32
 *  lanes; otherwise std::exp summed in f64. */
void softmax(float* x, int64_t n);
/** log-softmax of x into out (may alias): x - max - log(sum exp(x - max)), sum in f64.
 *  Returns log(sum exp(x - max)) + max (the log partition). */
double logSoftmax(const float* x, float* out, int64_t n);
/** SiLU: x / (1 + exp(-x)). */
inline float silu(float x) {
  return x / (1.0f + __builtin_expf(-x));
}
/** out[i] = silu(gate[i]) * up[i]. */
void swiglu(const float* gate, const float* up, float* out, int64_t n);

}  // namespace linalg
}  // namespace bitsmith
