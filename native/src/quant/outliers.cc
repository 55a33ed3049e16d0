// Outliers (SpQR-style dense + sparse): quantize once, pick exactly the k weights with the
// largest |x - Q(x)| (ties: lower flat index first), quantize again with those weights set
// to 0 so they no longer stretch their groups' scales (for absmax and min/max fits a 0
// never widens the range, as int asymmetric ranges include 0 anyway; for binary/ternary it
// counts in the group's mean), then overwrite them with their f16 value (saturated to
// +-65504). Stored: k f16 values then k u32 flat indices, ascending. The stored codes at
// those positions are the quantization of 0 (a decoder overwrites them).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/fp.h"
#include "quant/internal.h"

namespace bitsmith {
namespace quant {

int64_t quantizeWithOutliers(const float* x, const Layout& L, const QuantConfig& c, const FormatSpec& f,
                             const Ctx& ctx, float* dq, StoredTensor& st) {
  const int64_t n = L.size();
  const int64_t k = c.outliers;
  if (k <= 0) {
    quantizeBase(x, L, c, f, ctx, dq, st);
    return 0;
  }
  if (k > n) throw std::invalid_argument("outliers: " + std::to_string(k) + " is more than the tensor's " +
                                         std::to_string(n) + " weights");
  if (n > int64_t(UINT32_MAX) + 1) throw std::invalid_argument("outliers: flat indices are u32, tensor too large");
  ThreadPool* pool = ctx.reference ? nullptr : ctx.pool;

  quantizeBase(x, L, c, f, ctx, dq, st);
  if (ctx.nonFinite && ctx.nonFinite->load()) return 0;

  std::vector<float> err(static_cast<size_t>(n));
  parallelFor(pool, n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) err[size_t(i)] = std::fabs(x[i] - dq[i]);
  }, 1 << 16);
  std::vector<uint32_t> idx(static_cast<size_t>(n));
  std::iota(idx.begin(), idx.end(), 0u);
  auto before = [&](uint32_t a, uint32_t b) {
    const float ea = err[a], eb = err[b];
    return ea > eb || (ea == eb && a < b);
  };
  if (k < n) std::nth_element(idx.begin(), idx.begin() + (k - 1), idx.end(), before);
  idx.resize(size_t(k));
  std::sort(idx.begin(), idx.end());
  err.clear();
  err.shrink_to_fit();

  std::vector<float> x0(x, x + n);
  for (uint32_t i : idx) x0[i] = 0.0f;
  quantizeBase(x0.data(), L, c, f, ctx, dq, st);

  st.outliers.resize(size_t(6 * k));
  uint8_t* vals = st.outliers.data();
  uint8_t* inds = vals + 2 * k;
  for (int64_t j = 0; j < k; ++j) {
    const uint32_t i = idx[size_t(j)];
    const uint16_t h = f16FromF32Sat(x[i]);
    dq[i] = f16ToF32(h);
    vals[2 * j] = uint8_t(h);
    vals[2 * j + 1] = uint8_t(h >> 8);
    for (int b = 0; b < 4; ++b) inds[4 * j + b] = uint8_t(i >> (8 * b));
  }
  return k;
}

}  // namespace quant
}  // namespace bitsmith
