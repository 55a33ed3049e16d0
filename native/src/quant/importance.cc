#include "quant/importance.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace bitsmith {
namespace quant {

void checkImportance(const float* d, int64_t cols) {
  for (int64_t j = 0; j < cols; ++j)
    if (!std::isfinite(d[j]) || d[j] < 0)
      throw std::invalid_argument("importance[" + std::to_string(j) +
                                  "] must be finite and >= 0, got " + std::to_string(d[j]));
}

std::vector<float> rotatedImportance(const float* d, int64_t cols, int64_t block) {
  std::vector<float> out(static_cast<size_t>(cols));
  if (block < 1) block = 1;
  for (int64_t b = 0; b < cols; b += block) {
    const int64_t e = b + block < cols ? b + block : cols;
    double s = 0;
    for (int64_t j = b; j < e; ++j) s += d[j];
    const float mean = float(s / double(e - b));
    for (int64_t j = b; j < e; ++j) out[size_t(j)] = mean;
  }
  return out;
}

}  // namespace quant
}  // namespace bitsmith
