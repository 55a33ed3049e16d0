#include "run/tensor_io.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "io/error.h"
#include "run/describe.h"

namespace fs = std::filesystem;

namespace bitsmith {

bool sameFile(const std::string& a, const std::string& b) {
  std::error_code ec;
  if (fs::exists(a, ec) && fs::exists(b, ec) && fs::equivalent(a, b, ec)) return true;
  return fs::absolute(a, ec).lexically_normal() == fs::absolute(b, ec).lexically_normal();
}

DType writtenDtype(const TensorRef& t) {
  return t.dtype == DType::Ggml ? DType::F32 : t.dtype;
}
int64_t writtenBytes(const TensorRef& t) {
  return t.dtype == DType::Ggml ? t.elements * 4 : t.bytes;
}

void readChunk(const Model& m, const TensorRef& t, int64_t r0, int64_t r1, float* out,
               ThreadPool& pool) {
  const int64_t cols = t.cols();
  const int64_t minRows = std::max<int64_t>(1, (int64_t(1) << 16) / std::max<int64_t>(1, cols));
  std::atomic<bool> bad{false};
  parallelFor(
      &pool, r1 - r0,
      [&](int64_t a, int64_t b) {
        if (!m.readRowsF32(t, r0 + a, r0 + b, out + a * cols))
          bad.store(true, std::memory_order_relaxed);
      },
      minRows);
  if (bad.load()) throwNonFinite(m, t, r0, out, (r1 - r0) * cols);
}

void fromF32Parallel(DType dt, const float* src, int64_t n, uint8_t* dst, ThreadPool& pool) {
  const int es = dtypeSize(dt);
  parallelFor(
      &pool, n, [&](int64_t a, int64_t b) { fromF32(dt, src + a, b - a, dst + a * es); },
      int64_t(1) << 16);
}

[[noreturn]] void throwNonFinite(const Model& m, const TensorRef& t, int64_t r0, const float* out,
                                 int64_t n) {
  const int64_t cols = t.cols();
  for (int64_t i = 0; i < n; i++) {
    if (!std::isfinite(out[i])) {
      const int64_t row = r0 + i / cols, col = i % cols;
      throw ModelError("run/non-finite",
                       m.fileOf(t).path() + ": tensor \"" + t.name + "\" has a " +
                           (std::isnan(out[i]) ? "NaN" : "infinite") + " weight at [" +
                           std::to_string(row) + ", " + std::to_string(col) +
                           "]; quantizing it would poison its group's scale. Repair the "
                           "checkpoint, or keep this tensor.",
                       t.name);
    }
  }
  throw ModelError("run/non-finite",
                   m.fileOf(t).path() + ": tensor \"" + t.name + "\" has a NaN or infinite weight",
                   t.name);
}

QuantOutput quantizeChecked(const TensorRef& ref, const float* in, int64_t rows, int64_t cols,
                            const QuantConfig& cfg, ThreadPool& pool, bool reference,
                            StoredTensor* stored) {
  QuantOutput q;
  try {
    if (stored) {
      if (rows > 0 && cols > 0) q.dequant.resize(size_t(rows * cols));
      q.outlierCount =
          quantizeTensorInto(in, rows, cols, cfg, pool, reference, q.dequant.data(), *stored);
      q.bytes = stored->bytes();
    } else {
      q = quantizeTensor(in, rows, cols, cfg, pool, reference);
    }
  } catch (const ModelError&) {
    throw;
  } catch (const std::invalid_argument& e) {
    throw ModelError("run/unsupported", "tensor \"" + ref.name + "\": " + e.what(), ref.name);
  } catch (const std::bad_alloc&) {
    throw ModelError(
        "run/out-of-memory",
        "tensor \"" + ref.name + "\" " + shapeText(ref.shape) + ": out of memory while quantizing",
        ref.name);
  } catch (const std::exception& e) {
    throw ModelError("run/quantize-failed", "tensor \"" + ref.name + "\": " + e.what(), ref.name);
  }
  if (int64_t(q.dequant.size()) != rows * cols)
    throw ModelError("run/internal",
                     "tensor \"" + ref.name + "\": the quantizer returned " +
                         std::to_string(q.dequant.size()) + " values for " +
                         std::to_string(rows * cols),
                     ref.name);
  return q;
}

OutputErr outputError(const float* w, const float* q, int64_t rows, int64_t n,
                      const linalg::PackedB& h, ThreadPool* pool) {
  std::vector<float> d(size_t(rows * n)), e(size_t(rows * n));
  for (int64_t i = 0; i < rows * n; i++) d[size_t(i)] = q[i] - w[i];
  OutputErr r;
  linalg::gemmPacked(d.data(), n, rows, h, e.data(), n, pool);
  for (int64_t i = 0; i < rows * n; i++) r.num += double(e[size_t(i)]) * double(d[size_t(i)]);
  linalg::gemmPacked(w, n, rows, h, e.data(), n, pool);
  for (int64_t i = 0; i < rows * n; i++) r.den += double(e[size_t(i)]) * double(w[i]);
  return r;
}

int64_t interleavedRow(int64_t r, int64_t rows, int64_t heads) {
  const int64_t hd = rows / heads, half = hd / 2;
  const int64_t h = r / hd, j = r % hd;
  return h * hd + 2 * (j % half) + j / half;
}

void permuteRows(const uint8_t* src, uint8_t* dst, int64_t rows, int64_t rowBytes, int64_t heads,
                 bool forward) {
  for (int64_t r = 0; r < rows; r++) {
    const int64_t g = interleavedRow(r, rows, heads);
    if (forward)
      std::memcpy(dst + g * rowBytes, src + r * rowBytes, size_t(rowBytes));
    else
      std::memcpy(dst + r * rowBytes, src + g * rowBytes, size_t(rowBytes));
  }
}

}  // namespace bitsmith
