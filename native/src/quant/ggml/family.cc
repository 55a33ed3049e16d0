#include "quant/ggml/family.h"

#include <atomic>
#include <stdexcept>
#include <string>

#include "common/fp.h"
#include "quant/ggml/ggml.h"

namespace bitsmith {
namespace quant {

void quantizeGgmlFamily(const float* x, const Layout& L, const FormatSpec& f, const Ctx& ctx,
                        float* dq, StoredTensor& st) {
  const GgmlTypeInfo* t = findGgmlType(f.name);
  if (!t)
    throw std::invalid_argument(std::string("format ") + f.name + " is not a ggml block type");
  const size_t rb = ggmlRowBytes(t->type, L.cols);  // throws on a partial block
  const int64_t n = L.rows * L.cols;
  if (!ctx.reference) {  // the reference path scanned already (quantizeTensorInto)
    std::atomic<bool> bad{false};
    parallelFor(
        ctx.pool, n,
        [&](int64_t b, int64_t e) {
          uint32_t nonFinite = 0;
          for (int64_t i = b; i < e; ++i)
            nonFinite |= uint32_t((f32Bits(x[i]) & 0x7f800000u) == 0x7f800000u);
          if (nonFinite) bad.store(true);
        },
        1 << 16);
    if (bad.load()) {
      if (ctx.nonFinite)
        ctx.nonFinite->store(true);
      else
        throwNonFinite(x, L.rows, L.cols);
      return;
    }
  }
  st.codes.resize(size_t(L.rows) * rb);
  ThreadPool serial(1);
  ThreadPool& pool = ctx.pool ? *ctx.pool : serial;
  ggmlEncodeRows(t->type, x, L.rows, L.cols, st.codes.data(), ctx.importance, pool, ctx.reference);
  ggmlDecodeRowsParallel(t->type, st.codes.data(), L.rows, L.cols, dq, ctx.pool);
}

}  // namespace quant
}  // namespace bitsmith
