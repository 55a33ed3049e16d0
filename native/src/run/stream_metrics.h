// Error metrics of a tensor that is quantized in row chunks (so that the whole tensor and
// its reconstruction never sit in memory together). Same definitions and conventions as
// metrics/metrics.h (TensorMetrics): rel error, SQNR dB, max |error|, cosine, 64-bin
// histograms of w and of the signed error q - w over their [min, max] ranges. The ranges
// are only known at the end, so values are first counted per bf16 value (65536 keys,
// rounded to nearest) and binned at the end: a bin count can differ from exact binning
// only for values within bf16 rounding (2^-9 relative) of a bin edge; for bf16 weights the
// weight histogram is exact. When a tensor is processed in one piece the runner uses
// computeMetrics from metrics/ instead.
#pragma once
#include <cstdint>
#include <vector>

#include "metrics/metrics.h"

namespace bitsmith {

class ThreadPool;

class StreamMetrics {
 public:
  /** slots: the number of independent accumulators (one per parallel block). */
  explicit StreamMetrics(int slots);
  void reset();
  /** Adds n elements (w, q) to accumulator `slot`; slots may be used concurrently. */
  void add(int slot, const float* w, const float* q, int64_t n);
  TensorMetrics finish() const;

 private:
  struct Slot {
    double ww = 0, ee = 0, wq = 0, qq = 0;
    double maxAbs = 0;
    float wMin, wMax, eMin, eMax;
    // Counts per bf16 key, two interleaved tables per histogram (even / odd elements) so
    // that runs of equal keys do not serialise on one counter.
    std::vector<uint32_t> wKeys, eKeys;  // 2 x 65536 each
    int64_t count = 0;
  };
  std::vector<Slot> slots_;
};

}  // namespace bitsmith
