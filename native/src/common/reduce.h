// Deterministic floating-point reductions. A sum over a range is defined, whatever the
// thread count or vector width, as: split the range into chunks of kReduceChunk elements
// (from its start); within a chunk, element i is added in double to lane i % 16 (16 lanes:
// four independent 4-wide AVX2 accumulators, so the adds are not latency bound); a chunk's
// value is the pairwise tree over the lanes; chunk values are added in order. The
// scalar reference paths and the threaded AVX2 paths thus produce bit-identical sums.
#pragma once
#include <cstdint>
#include <vector>

#include "threads/pool.h"

namespace bitsmith {

constexpr int64_t kReduceChunk = 1 << 16;

struct Lanes {
  static constexpr int kCount = 16;
  static constexpr int kMask = kCount - 1;
  double l[kCount] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  double total() const {
    const double a = ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
    const double b = ((l[8] + l[9]) + (l[10] + l[11])) + ((l[12] + l[13]) + (l[14] + l[15]));
    return a + b;
  }
};

// chunkFn(begin, end) -> double: the lane-combined value of one chunk [begin, end).
template <class ChunkFn>
double chunkedSum(int64_t n, ThreadPool* pool, ChunkFn&& chunkFn) {
  const int64_t chunks = (n + kReduceChunk - 1) / kReduceChunk;
  if (chunks <= 1) return n > 0 ? chunkFn(int64_t(0), n) : 0.0;
  std::vector<double> part(size_t(chunks), 0.0);
  parallelFor(pool, chunks, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t b = c * kReduceChunk;
      const int64_t e = b + kReduceChunk < n ? b + kReduceChunk : n;
      part[size_t(c)] = chunkFn(b, e);
    }
  });
  double s = 0;
  for (double v : part) s += v;
  return s;
}

}  // namespace bitsmith
