// Error metrics of a tensor that is quantized in row chunks (so that the whole tensor and
// its reconstruction never sit in memory together). Same definitions and conventions as
// metrics/metrics.h (TensorMetrics): rel error, SQNR dB, max |error|, cosine, 64-bin
// histograms of w and of the signed error q - w over their [min, max] ranges, and of q
// over w's bins. The ranges
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
  /** slots: independent histogram accumulators (one per concurrent worker). */
  explicit StreamMetrics(int slots);
  /** Starts a tensor of `chunks` chunks. */
  void reset(int64_t chunks);
  /** Adds chunk `chunk` (n elements of w and its reconstruction q), counting into the
   *  histograms of `slot`. Each chunk is added once; distinct slots may run concurrently.
   *  Sums are kept per chunk and combined in chunk order: the figures do not depend on
   *  the thread count or on which worker took which chunk. */
  void add(int slot, int64_t chunk, const float* w, const float* q, int64_t n);
  TensorMetrics finish() const;

  struct Partial {
    double ww = 0, ee = 0, wq = 0, qq = 0;
    float wMin, wMax, eMin, eMax;
    int64_t count = 0;
  };

 private:
  struct Slot {
    // Counts per bf16 key, two interleaved tables per histogram (even / odd elements) so
    // that runs of equal keys do not serialise on one counter.
    std::vector<uint32_t> wKeys, eKeys, qKeys;  // 2 x 65536 each (weights, errors, reconstructions)
    bool used = false;
  };
  std::vector<Slot> slots_;
  std::vector<Partial> chunks_;
};

}  // namespace bitsmith
