// GPTQ into the ggml blocks: the 32-weight blocks with a per-block scale (q8_0, q4_0, q5_0)
// or scale and min (q4_1, q5_1), and the k-quants q4_k, q5_k, q6_k (below): policies of
// quant/gptq_driver.h. When GPTQ reaches a block's first
// column, the block is encoded by the RTN encoder (encode.cc: its scale search, unit
// weights) on the error-compensated weights then current, which fixes the stored d (and
// m); every column of the block then takes the level nearest to its own compensated
// weight under that d (and m), exactly as the encoder rounds (roundClamp(x / d) or
// roundClamp((x - m) / d)), and its value is the decoder's (decode.cc) for that level. The
// blocks are assembled from the encoded header and these levels, so they decode to the
// reconstruction bit for bit.
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/fp.h"
#include "quant/ggml/blocks.h"
#include "quant/ggml/internal.h"
#include "quant/ggml/search.h"
#include "quant/gptq_driver.h"

namespace bitsmith {
namespace quant {

namespace {

// A block's weights as GPTQ hands them over (the encoder fits the block on them).
template <int N>
struct BlockStats {
  float x[N];
  bool finite = true;

  static BlockStats copy(const float* w, int64_t n, const char* what) {
    if (n != N)
      throw std::logic_error(std::string("gptq: a ") + what + " of " + std::to_string(n) +
                             " weights");
    BlockStats s;
    for (int i = 0; i < N; ++i) {
      s.x[i] = w[i];
      if (!std::isfinite(w[i])) s.finite = false;
    }
    return s;
  }
};
using Block32Stats = BlockStats<32>;

struct Block32Params {
  float d = 0, m = 0, inv = 0;
  uint8_t header[4] = {0, 0, 0, 0};  // d (and m) as stored, f16 little endian
};

struct Block32Policy {
  using Stats = Block32Stats;
  using Params = Block32Params;
  GgmlType type;
  int blockBytes;
  bool fast;  // the encoder's vectorised search (the same bytes as its scalar spec)

  int codeBits() const { return 8; }
  int zeroBits() const { return 0; }
  bool clip() const { return false; }
  bool withMin() const { return type == GgmlType::Q4_1 || type == GgmlType::Q5_1; }

  Stats stats(const float* x, int64_t n, ThreadPool*, bool) const {
    return Stats::copy(x, n, "ggml block");
  }
  bool finite(const Stats& s) const { return s.finite; }
  Params fit(const Stats& s, float) const {
    static const float ones[32] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                                   1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    uint8_t block[34];
    ggml::encodeBlock(type, s.x, ones, block, fast);
    Params p;
    std::memcpy(p.header, block, withMin() ? 4 : 2);
    uint16_t h;
    std::memcpy(&h, block, 2);
    p.d = f16ToF32(h);
    if (withMin()) {
      std::memcpy(&h, block + 2, 2);
      p.m = f16ToF32(h);
    }
    p.inv = p.d != 0.0f ? 1.0f / p.d : 0.0f;
    return p;
  }
  // The level (code) of one weight and the decoder's value for it.
  uint32_t quantOne(const Params& p, float w, float* dq) const {
    switch (type) {
      case GgmlType::Q8_0: {
        const int l = int(ggml::roundClamp(w * p.inv, -128.0f, 127.0f));
        *dq = p.d * float(l);
        return uint32_t(l + 128);
      }
      case GgmlType::Q4_0: {
        const int l = int(ggml::roundClamp(w * p.inv, -8.0f, 7.0f)) + 8;
        *dq = p.d * float(l - 8);
        return uint32_t(l);
      }
      case GgmlType::Q5_0: {
        const int l = int(ggml::roundClamp(w * p.inv, -16.0f, 15.0f)) + 16;
        *dq = p.d * float(l - 16);
        return uint32_t(l);
      }
      default: {  // q4_1, q5_1
        const float top = type == GgmlType::Q4_1 ? 15.0f : 31.0f;
        const int l = int(ggml::roundClamp((w - p.m) * p.inv, 0.0f, top));
        *dq = p.d * float(l) + p.m;
        return uint32_t(l);
      }
    }
  }
  // Squared error under p (the driver's interface; no clip search runs on these blocks).
  void errSeg(const Params& p, const float* x, int64_t n, Lanes& lanes, bool) const {
    for (int64_t i = 0; i < n; ++i) {
      float d;
      quantOne(p, x[i], &d);
      const float e = x[i] - d;
      lanes.l[i & Lanes::kMask] += double(e) * double(e);
    }
  }
  // The blocks, row by row: the encoded header and GPTQ's levels.
  void assemble(const Params* params, const uint8_t* codes, const Layout& L,
                StoredTensor& st) const {
    st.codes.assign(size_t(L.groups * blockBytes), 0);
    for (int64_t gi = 0; gi < L.groups; ++gi) {
      uint8_t* out = st.codes.data() + gi * blockBytes;
      const uint8_t* c = codes + gi * 32;  // a row's blocks are consecutive, rows back to back
      const Params& p = params[gi];
      if (type == GgmlType::Q8_0) {
        ggml::BlockQ8_0 b;
        std::memcpy(&b.d, p.header, 2);
        for (int i = 0; i < 32; ++i) b.qs[i] = int8_t(int(c[i]) - 128);
        std::memcpy(out, &b, sizeof b);
        continue;
      }
      uint8_t qs[16];
      uint32_t qh = 0;
      for (int i = 0; i < 16; ++i) qs[i] = uint8_t((c[i] & 15) | ((c[i + 16] & 15) << 4));
      for (int i = 0; i < 32; ++i) qh |= uint32_t(c[i] >> 4) << i;
      if (type == GgmlType::Q4_0) {
        ggml::BlockQ4_0 b;
        std::memcpy(&b.d, p.header, 2);
        std::memcpy(b.qs, qs, 16);
        std::memcpy(out, &b, sizeof b);
      } else if (type == GgmlType::Q4_1) {
        ggml::BlockQ4_1 b;
        std::memcpy(&b.d, p.header, 2);
        std::memcpy(&b.m, p.header + 2, 2);
        std::memcpy(b.qs, qs, 16);
        std::memcpy(out, &b, sizeof b);
      } else if (type == GgmlType::Q5_0) {
        ggml::BlockQ5_0 b;
        std::memcpy(&b.d, p.header, 2);
        std::memcpy(b.qh, &qh, 4);
        std::memcpy(b.qs, qs, 16);
        std::memcpy(out, &b, sizeof b);
      } else {
        ggml::BlockQ5_1 b;
        std::memcpy(&b.d, p.header, 2);
        std::memcpy(&b.m, p.header + 2, 2);
        std::memcpy(b.qh, &qh, 4);
        std::memcpy(b.qs, qs, 16);
        std::memcpy(out, &b, sizeof b);
      }
    }
  }
};

// The k-quants q4_k, q5_k (8 sub-blocks of 32 with 6-bit scales and mins) and q6_k (16
// sub-blocks of 16 with int8 scales): the super-block is encoded by the RTN encoder when
// GPTQ reaches its first column, which fixes d (dmin) and every sub-block's scale (and
// min); each column then takes the level nearest to it under its sub-block's scale,
// A = d * sc (and M = dmin * m), valued as the decoder does: A * q - M, or A * (q - 32).
using KStats = BlockStats<256>;

struct KParams {
  uint8_t block[210];  // the encoded super-block (header and scales kept; codes replaced)
  float a[16], m[16], inv[16];
};

struct KPolicy {
  using Stats = KStats;
  using Params = KParams;
  GgmlType type;
  int blockBytes;
  bool fast;

  int codeBits() const { return 8; }
  int zeroBits() const { return 0; }
  bool clip() const { return false; }
  Stats stats(const float* x, int64_t n, ThreadPool*, bool) const {
    return Stats::copy(x, n, "k-quant super-block");
  }
  bool finite(const Stats& s) const { return s.finite; }
  Params fit(const Stats& s, float) const {
    static const std::vector<float> ones(256, 1.0f);
    Params p;
    std::memset(&p, 0, sizeof p);
    ggml::encodeBlock(type, s.x, ones.data(), p.block, fast);
    if (type == GgmlType::Q6_K) {
      ggml::BlockQ6_K b;
      std::memcpy(&b, p.block, sizeof b);
      const float d = f16ToF32(b.d);
      for (int j = 0; j < 16; ++j) p.a[j] = d * float(b.scales[j]);
    } else {
      uint16_t dh, mh;
      std::memcpy(&dh, p.block, 2);
      std::memcpy(&mh, p.block + 2, 2);
      const float d = f16ToF32(dh), dmin = f16ToF32(mh);
      for (int j = 0; j < 8; ++j) {
        int sc, mn;
        ggml::kScaleMin(p.block + 4, j, sc, mn);
        p.a[j] = d * float(sc);
        p.m[j] = dmin * float(mn);
      }
    }
    for (int j = 0; j < 16; ++j) p.inv[j] = p.a[j] != 0.0f ? 1.0f / p.a[j] : 0.0f;
    return p;
  }
  uint32_t quantAt(const Params& p, int64_t e, float w, float* dq) const {
    if (type == GgmlType::Q6_K) {
      const int j = int(e / 16);
      const int l = int(ggml::roundClamp(w * p.inv[j], -32.0f, 31.0f)) + 32;
      *dq = p.a[j] * float(l - 32);
      return uint32_t(l);
    }
    const int j = int(e / 32);
    const float top = type == GgmlType::Q4_K ? 15.0f : 31.0f;
    const int l = int(ggml::roundClamp((w + p.m[j]) * p.inv[j], 0.0f, top));
    *dq = p.a[j] * float(l) - p.m[j];
    return uint32_t(l);
  }
  uint32_t quantOne(const Params& p, float w, float* dq) const { return quantAt(p, 0, w, dq); }
  void errSeg(const Params& p, const float* x, int64_t n, Lanes& lanes, bool) const {
    for (int64_t i = 0; i < n; ++i) {
      float d;
      quantAt(p, i, x[i], &d);
      const float e = x[i] - d;
      lanes.l[i & Lanes::kMask] += double(e) * double(e);
    }
  }
  // The super-blocks: the encoded header and scales, GPTQ's levels in the decoder's places.
  void assemble(const Params* params, const uint8_t* codes, const Layout& L,
                StoredTensor& st) const {
    st.codes.assign(size_t(L.groups * blockBytes), 0);
    for (int64_t gi = 0; gi < L.groups; ++gi) {
      uint8_t* out = st.codes.data() + gi * blockBytes;
      const uint8_t* c = codes + gi * 256;
      std::memcpy(out, params[gi].block, size_t(blockBytes));
      if (type == GgmlType::Q6_K) {
        ggml::BlockQ6_K b;
        std::memcpy(&b, out, sizeof b);
        std::memset(b.ql, 0, sizeof b.ql);
        std::memset(b.qh, 0, sizeof b.qh);
        for (int e = 0; e < 256; ++e) {
          const int h = e / 128, t = (e % 128) / 32, l = e % 32;
          b.ql[64 * h + 32 * (t & 1) + l] |= uint8_t((c[e] & 15) << (4 * (t >> 1)));
          b.qh[32 * h + l] |= uint8_t((c[e] >> 4) << (2 * t));
        }
        std::memcpy(out, &b, sizeof b);
      } else if (type == GgmlType::Q4_K) {
        ggml::BlockQ4_K b;
        std::memcpy(&b, out, sizeof b);
        std::memset(b.qs, 0, sizeof b.qs);
        for (int e = 0; e < 256; ++e)
          b.qs[32 * (e / 64) + e % 32] |= uint8_t((c[e] & 15) << (4 * ((e % 64) / 32)));
        std::memcpy(out, &b, sizeof b);
      } else {
        ggml::BlockQ5_K b;
        std::memcpy(&b, out, sizeof b);
        std::memset(b.qs, 0, sizeof b.qs);
        std::memset(b.qh, 0, sizeof b.qh);
        for (int e = 0; e < 256; ++e) {
          const int ch = e / 64, l = e % 32, hi = (e % 64) / 32;
          b.qs[32 * ch + l] |= uint8_t((c[e] & 15) << (4 * hi));
          b.qh[l] |= uint8_t((c[e] >> 4) << (2 * ch + hi));
        }
        std::memcpy(out, &b, sizeof b);
      }
    }
  }
};

bool isKQuant(const std::string& f) {
  return f == "q4_k" || f == "q5_k" || f == "q6_k";
}

}  // namespace

bool gptqGgmlSupported(const std::string& format) {
  return format == "q8_0" || format == "q4_0" || format == "q4_1" || format == "q5_0" ||
         format == "q5_1" || isKQuant(format);
}

void gptqGgmlFamily(const GptqPlan& plan, const FormatSpec& f, float* dq, StoredTensor& st) {
  const GgmlTypeInfo* t = findGgmlType(f.name);
  if (!t || !gptqGgmlSupported(f.name))
    throw std::invalid_argument(std::string("method gptq does not produce ") + f.name +
                                " blocks here");
  if (isKQuant(f.name))
    runGptq(KPolicy{t->type, t->blockBytes, !plan.reference}, plan, dq, st);
  else
    runGptq(Block32Policy{t->type, t->blockBytes, !plan.reference}, plan, dq, st);
}

}  // namespace quant
}  // namespace bitsmith
