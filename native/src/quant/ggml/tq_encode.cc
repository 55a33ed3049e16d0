// Reference encoders of the ternary blocks tq1_0 and tq2_0 (one f16 d per 256 weights,
// w = d t, t in {-1, 0, 1}). llama.cpp takes d = the largest magnitude, right for weights
// trained ternary (BitNet b1.58, TriLM) and poor for any others; here d is the exact
// weighted least-squares optimum: for a scale d the best ternary codes are the weights
// with |x| > d / 2, so the optimum is one of the 256 "k largest magnitudes" sets, and for
// a set K the error is sum w x^2 - (sum_K w |x|)^2 / sum_K w at d = sum_K w |x| / sum_K w.
// On exactly ternary weights that is their magnitude, as llama.cpp's. The codes are then
// the nearest levels under the stored (f16) d.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "common/fp.h"
#include "quant/ggml/blocks.h"
#include "quant/ggml/internal.h"
#include "quant/ggml/search.h"

namespace bitsmith {
namespace ggml {

void encodeTernaryBlock(GgmlType t, const float* x, const float* w, uint8_t* out) {
  // Largest magnitude first (the first index of equal ones): |x|'s bits order as integers.
  uint64_t key[256];
  for (int i = 0; i < 256; ++i)
    key[i] = (uint64_t(0x7fffffffu - (f32Bits(x[i]) & 0x7fffffffu)) << 32) | uint64_t(i);
  std::sort(key, key + 256);
  float d = 0;
  if (std::fabs(x[key[0] & 255]) >= kTiny) {
    double s = 0, sw = 0, best = -1;
    for (int k = 0; k < 256; ++k) {
      const int i = int(key[k] & 255);
      s += double(w[i]) * std::fabs(x[i]);
      sw += double(w[i]);
      if (sw > 0 && s * s / sw > best) {
        best = s * s / sw;
        d = float(s / sw);
      }
    }
  }
  const uint16_t dh = f16FromF32Sat(d);
  const float dq = f16ToF32(dh), inv = dq > 0 ? 1.0f / dq : 0.0f;
  int q[256];  // t + 1
  for (int i = 0; i < 256; ++i) q[i] = int(roundClamp(x[i] * inv, -1.0f, 1.0f)) + 1;
  packTernary(t, q, dh, out);
}

void packTernary(GgmlType t, const int* q, uint16_t dh, uint8_t* out) {
  if (t == GgmlType::TQ2_0) {
    BlockTQ2_0 b{};
    for (int e = 0; e < 256; ++e)
      b.qs[32 * (e / 128) + e % 32] |= uint8_t(q[e] << (2 * ((e % 128) / 32)));
    b.d = dh;
    std::memcpy(out, &b, sizeof b);
    return;
  }
  if (t != GgmlType::TQ1_0) throw std::invalid_argument("not a ternary ggml type");
  // Each byte's trits, most significant first (qh bytes hold 4, then a 0 trit).
  int v[52] = {};
  for (int e = 0; e < 256; ++e) {
    int byte, n;
    tq1Place(e, byte, n);
    int p = 1;
    for (int k = n + 1; k < 5; ++k) p *= 3;
    v[byte] += q[e] * p;
  }
  BlockTQ1_0 b{};
  auto packed = [&](int k) { return uint8_t((v[k] * 256 + 242) / 243); };  // ceil(256 v / 243)
  for (int k = 0; k < 48; ++k) b.qs[k] = packed(k);
  for (int k = 0; k < 4; ++k) b.qh[k] = packed(48 + k);
  b.d = dh;
  std::memcpy(out, &b, sizeof b);
}

}  // namespace ggml
}  // namespace bitsmith
