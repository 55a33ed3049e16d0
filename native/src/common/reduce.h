// Deterministic floating-point reductions. A sum over a range is defined, whatever the
// thread count or vector width, as: split the range into chunks of kReduceChunk elements
// (from its start); within a chunk, element i is added in double to lane i % 8; a chunk's
// value is ((l0+l1)+(l2+l3))+((l4+l5)+(l6+l7)); chunk values are added in order. The
// scalar reference paths and the threaded AVX2 paths thus produce bit-identical sums.
#pragma once
#include <cstdint>
#include <vector>

#include "threads/pool.h"

namespace bitsmith {

constexpr int64_t kReduceChunk = 1 << 16;

struct Lanes8 {
  double l[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  double total() const { return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7])); }
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
