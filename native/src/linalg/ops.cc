#include "linalg/ops.h"

#include <cmath>

namespace bitsmith {
namespace linalg {

void rmsNorm(const float* x, const float* w, float* out, int64_t n, float eps) {
  double ss = 0;
  for (int64_t i = 0; i < n; i++) ss += double(x[i]) * double(x[i]);
  const float r = float(1.0 / std::sqrt(ss / double(n > 0 ? n : 1) + double(eps)));
  if (w)
    for (int64_t i = 0; i < n; i++) out[i] = (x[i] * r) * w[i];
  else
    for (int64_t i = 0; i < n; i++) out[i] = x[i] * r;
}

void softmax(float* x, int64_t n) {
  if (n <= 0) return;
  float mx = x[0];
  for (int64_t i = 1; i < n; i++) mx = x[i] > mx ? x[i] : mx;
  double s = 0;
  for (int64_t i = 0; i < n; i++) {
    x[i] = std::exp(x[i] - mx);
    s += x[i];
  }
  const float inv = float(1.0 / s);
  for (int64_t i = 0; i < n; i++) x[i] *= inv;
}

double logSoftmax(const float* x, float* out, int64_t n) {
  if (n <= 0) return 0;
  float mx = x[0];
  for (int64_t i = 1; i < n; i++) mx = x[i] > mx ? x[i] : mx;
  double s = 0;
  for (int64_t i = 0; i < n; i++) s += std::exp(double(x[i]) - double(mx));
  const double lz = std::log(s);
  for (int64_t i = 0; i < n; i++) out[i] = float(double(x[i]) - double(mx) - lz);
  return lz + double(mx);
}

void swiglu(const float* gate, const float* up, float* out, int64_t n) {
  for (int64_t i = 0; i < n; i++) out[i] = silu(gate[i]) * up[i];
}

}  // namespace linalg
}  // namespace bitsmith
