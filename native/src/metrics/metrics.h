// Per-tensor error metrics of a reconstruction q of w, accumulated in double, computed in
// parallel with deterministic reductions (the same figures for any thread count).
#pragma once
#include <array>
#include <cstdint>

namespace bitsmith {

class ThreadPool;

constexpr int kHistBins = 64;

struct Histogram {
  double min = 0, max = 0;  // range of the values; bin i covers [min + i w, min + (i+1) w)
  std::array<int64_t, kHistBins> counts{};  // the maximum falls in the last bin
};

struct TensorMetrics {
  double relError = 0;      // ||w - q|| / ||w|| (0 when both are 0; inf when only w is 0)
  double squaredError = 0;  // ||w - q||^2: additive across tensors (the allocator sums it)
  double sqnrDb = 0;        // 10 log10(||w||^2 / ||w - q||^2); +inf when exact
  double maxAbsError = 0;   // max |w - q|
  double cosine = 1;        // <w, q> / (||w|| ||q||); 1 when both are 0, 0 when one is
  Histogram weightHist;     // of w
  Histogram errorHist;      // of the signed error q - w
  Histogram dequantHist;    // of q over weightHist's range and bins (q outside it lands in the end
                            // bins): the quantization grid as the tensor uses it
};

TensorMetrics computeMetrics(const float* w, const float* q, int64_t n, ThreadPool* pool);

}  // namespace bitsmith
