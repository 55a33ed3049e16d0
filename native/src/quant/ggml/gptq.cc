// GPTQ into the 32-weight ggml blocks with a per-block scale (q8_0, q4_0, q5_0) or scale
// and min (q4_1, q5_1): a policy of quant/gptq_driver.h. When GPTQ reaches a block's first
// column, the block is encoded by the RTN encoder (encode.cc: its scale search, unit
// weights) on the error-compensated weights then current, which fixes the stored d (and
// m); every column of the block then takes the level nearest to its own compensated
// weight under that d (and m), exactly as the encoder rounds (roundClamp(x / d) or
// roundClamp((x - m) / d)), and its value is the decoder's (decode.cc) for that level. The
// blocks are assembled from the encoded header and these levels, so they decode to the
// reconstruction bit for bit.
#include <cstring>
#include <stdexcept>
#include <string>

#include "common/fp.h"
#include "quant/ggml/blocks.h"
#include "quant/ggml/internal.h"
#include "quant/ggml/search.h"
#include "quant/gptq_driver.h"

namespace bitsmith {
namespace quant {

namespace {

struct Block32Stats {
  float x[32];
  bool finite = true;
};

struct Block32Params {
  float d = 0, m = 0, inv = 0;
  uint8_t header[4] = {0, 0, 0, 0};  // d (and m) as stored, f16 little endian
};

struct Block32Policy {
  static constexpr bool kTrits = false;
  using Stats = Block32Stats;
  using Params = Block32Params;
  GgmlType type;
  int blockBytes;

  int codeBits() const { return 8; }
  int zeroBits() const { return 0; }
  bool clip() const { return false; }
  bool withMin() const { return type == GgmlType::Q4_1 || type == GgmlType::Q5_1; }

  Stats stats(const float* x, int64_t n, ThreadPool*, bool) const {
    if (n != 32) throw std::logic_error("gptq: a ggml block of " + std::to_string(n) + " weights");
    Stats s;
    for (int i = 0; i < 32; ++i) {
      s.x[i] = x[i];
      if (!std::isfinite(x[i])) s.finite = false;
    }
    return s;
  }
  bool finite(const Stats& s) const { return s.finite; }
  Params fit(const Stats& s, float) const {
    static const float ones[32] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                                   1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    uint8_t block[34];
    ggml::encodeBlock(type, s.x, ones, block, false);
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
  void assemble(const Params* params, const uint8_t* codes, const Layout& L, StoredTensor& st) const {
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

}  // namespace

bool gptqGgmlSupported(const std::string& format) {
  return format == "q8_0" || format == "q4_0" || format == "q4_1" || format == "q5_0" || format == "q5_1";
}

void gptqGgmlFamily(const GptqPlan& plan, const FormatSpec& f, float* dq, StoredTensor& st) {
  const GgmlTypeInfo* t = findGgmlType(f.name);
  if (!t || !gptqGgmlSupported(f.name)) throw std::invalid_argument(std::string("method gptq does not produce ") + f.name + " blocks here");
  runGptq(Block32Policy{t->type, t->blockBytes}, plan, dq, st);
}

}  // namespace quant
}  // namespace bitsmith
