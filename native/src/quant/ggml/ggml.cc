// The ggml codec API (ggml.h): type table, validation, rows over the thread pool.
#include "quant/ggml/ggml.h"

#include <algorithm>
#include <atomic>
#include <climits>
#include <cmath>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>

#include "quant/ggml/internal.h"
#include "threads/pool.h"

namespace bitsmith {

namespace {

// Index of the first NaN or infinity in x[0, n), or -1: an OR over exponent tests, then a
// search only when one hit.
int64_t firstNonFiniteIn(const float* x, int64_t n) {
  uint32_t any = 0;
  for (int64_t i = 0; i < n; ++i) {
    uint32_t v;
    std::memcpy(&v, x + i, 4);
    any |= uint32_t((v & 0x7f800000u) == 0x7f800000u);
  }
  if (!any) return -1;
  for (int64_t i = 0; i < n; ++i)
    if (!std::isfinite(x[i])) return i;
  return -1;
}

}  // namespace

const std::vector<GgmlTypeInfo>& ggmlTypes() {
  static const std::vector<GgmlTypeInfo> types = {
      {GgmlType::Q4_0, "q4_0", 32, 18, 2},         {GgmlType::Q4_1, "q4_1", 32, 20, 3},
      {GgmlType::Q5_0, "q5_0", 32, 22, 6},         {GgmlType::Q5_1, "q5_1", 32, 24, 7},
      {GgmlType::Q8_0, "q8_0", 32, 34, 8},         {GgmlType::Q2_K, "q2_k", 256, 84, 10},
      {GgmlType::Q3_K, "q3_k", 256, 110, 11},      {GgmlType::Q4_K, "q4_k", 256, 144, 12},
      {GgmlType::Q5_K, "q5_k", 256, 176, 13},      {GgmlType::Q6_K, "q6_k", 256, 210, 14},
      {GgmlType::IQ4_NL, "iq4_nl", 32, 18, 20},    {GgmlType::IQ4_XS, "iq4_xs", 256, 136, 23},
      {GgmlType::IQ2_XXS, "iq2_xxs", 256, 66, 16}, {GgmlType::IQ2_XS, "iq2_xs", 256, 74, 17},
      {GgmlType::IQ2_S, "iq2_s", 256, 82, 22},     {GgmlType::IQ3_XXS, "iq3_xxs", 256, 98, 18},
      {GgmlType::IQ3_S, "iq3_s", 256, 110, 21},    {GgmlType::IQ1_S, "iq1_s", 256, 50, 19},
      {GgmlType::IQ1_M, "iq1_m", 256, 56, 29},     {GgmlType::TQ1_0, "tq1_0", 256, 54, 34},
      {GgmlType::TQ2_0, "tq2_0", 256, 66, 35},
  };
  return types;
}

const GgmlTypeInfo& ggmlTypeInfo(GgmlType type) {
  const auto& t = ggmlTypes();
  const size_t i = size_t(type);
  if (i >= t.size()) throw std::invalid_argument("unknown ggml type");
  return t[i];
}

const GgmlTypeInfo* findGgmlType(const std::string& name) {
  for (const GgmlTypeInfo& t : ggmlTypes())
    if (name == t.name) return &t;
  return nullptr;
}

size_t ggmlRowBytes(GgmlType type, int64_t cols) {
  const GgmlTypeInfo& t = ggmlTypeInfo(type);
  if (cols < 1 || cols % t.blockWeights != 0)
    throw std::invalid_argument(std::string(t.name) + " stores rows in blocks of " +
                                std::to_string(t.blockWeights) + " weights: a row of " +
                                std::to_string(cols) + " is not a positive multiple of " +
                                std::to_string(t.blockWeights));
  return size_t(cols / t.blockWeights) * size_t(t.blockBytes);
}

void ggmlEncodeRows(GgmlType type, const float* src, int64_t rows, int64_t cols, uint8_t* dst,
                    const float* importance, ThreadPool& pool, bool reference) {
  const size_t rb = ggmlRowBytes(type, cols);
  if (rows < 0) throw std::invalid_argument("rows must be >= 0, got " + std::to_string(rows));
  const int bw = ggmlTypeInfo(type).blockWeights;
  // Search weights per column: 1, or the importance plus 1e-3 of its mean (so a block whose
  // columns all have importance 0 still gets a sensible scale).
  std::unique_ptr<float[]> w(new float[size_t(cols)]);
  bool unit = true;  // every search weight is 1
  if (importance) {
    double sum = 0;
    for (int64_t c = 0; c < cols; ++c) {
      const float v = importance[c];
      if (!std::isfinite(v) || v < 0)
        throw std::invalid_argument("importance[" + std::to_string(c) +
                                    "] must be finite and >= 0, got " + std::to_string(v));
      sum += v;
    }
    const float floor = float(1e-3 * sum / double(cols));
    for (int64_t c = 0; c < cols; ++c) w[size_t(c)] = importance[c] + floor;
    unit = !(sum > 0);
    if (unit) std::fill(w.get(), w.get() + cols, 1.0f);
  } else {
    std::fill(w.get(), w.get() + cols, 1.0f);
  }
  const int64_t bpr = cols / bw;
  // Non-finite weights are found row by row while encoding, not in a pass of their own (a
  // separate scan of the matrix cost ~40% of q4_0's time, all of it waiting on memory):
  // the 32-weight fast kernels test the values they load anyway; other paths scan the row
  // just before encoding it (it is then in the cache). A bad row's bytes are meaningless;
  // the first bad element over all rows is reported after the pass.
  std::atomic<int64_t> firstBad{INT64_MAX};
  auto noteBad = [&](int64_t r, int64_t c) {
    const int64_t at = r * cols + c;
    int64_t cur = firstBad.load(std::memory_order_relaxed);
    while (at < cur && !firstBad.compare_exchange_weak(cur, at, std::memory_order_relaxed)) {
    }
  };
  auto work = [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* x = src + r * cols;
      uint8_t* out = dst + size_t(r) * rb;
      bool finite = true;
      if (!reference && ggml::encodeRowFast32(type, x, w.get(), unit, bpr, out, finite)) {
        if (!finite) noteBad(r, firstNonFiniteIn(x, cols));
        continue;
      }
      if (const int64_t c = firstNonFiniteIn(x, cols); c >= 0) {
        noteBad(r, c);
        continue;
      }
      for (int64_t b = 0; b < bpr; ++b)
        ggml::encodeBlock(type, x + b * bw, w.get() + b * bw,
                          out + size_t(b) * size_t(ggmlTypeInfo(type).blockBytes), !reference,
                          !unit);
    }
  };
  if (reference)
    work(0, rows);
  else
    parallelFor(&pool, rows, work, std::max<int64_t>(1, 16384 / cols));
  if (const int64_t bad = firstBad.load(); bad != INT64_MAX)
    throw NonFiniteWeight(
        bad, "data[" + std::to_string(bad) + "] is not finite: ggml encoders need finite weights");
}

}  // namespace bitsmith
