// GPTQ into the ggml blocks: policies of quant/gptq_driver.h for every ggml type.
//   - the 32-weight blocks with a per-block scale (q8_0, q4_0, q5_0, iq4_nl) or scale and
//     min (q4_1, q5_1);
//   - the super-blocks with sub-block scales (q2_k, q3_k, q4_k, q5_k, q6_k, iq4_xs) and the
//     ternary ones (tq1_0, tq2_0, one d);
//   - the i-quants of 1 to 3 bits (iq1_s, iq1_m, iq2_xxs, iq2_xs, iq2_s, iq3_xxs, iq3_s),
//     whose groups of 8 weights are one lattice point: quantized jointly (below).
// When GPTQ reaches a block's first column, the block is encoded by the RTN encoder
// (encode.cc: its scale search; unit weights, but the i-quants' weigh by the Hessian
// diagonal of the block's columns, as their imatrix) on the error-compensated weights then
// current, which fixes the stored d (and m, and the sub-block scales); every column of the
// block then takes the level nearest to its own compensated weight under those scales,
// exactly as the encoder rounds (roundClamp(x / d), roundClamp((x + m) / d), iq4Index(x /
// d)), and its value is the decoder's (decode.cc) for that level. The blocks are assembled
// from the encoded header and these levels, so they decode to the reconstruction bit for
// bit.
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/fp.h"
#include "quant/ggml/blocks.h"
#include "quant/ggml/internal.h"
#include "quant/ggml/iq_codec.h"
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
      case GgmlType::IQ4_NL: {
        const int l = ggml::iq4Index(w * p.inv);
        *dq = p.d * float(ggml::kIq4nl[l]);
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
      if (type == GgmlType::Q4_0 || type == GgmlType::IQ4_NL) {  // the same layout
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

// The super-blocks with sub-block scales: q2_k (16 x 16, 4-bit scale and min), q3_k (16 x 16,
// 6-bit signed scales), q4_k, q5_k (8 x 32, 6-bit scales and mins), q6_k (16 x 16, int8
// scales), iq4_xs (8 x 32, 6-bit signed scales, the non-linear grid). The super-block is
// encoded by the RTN encoder when GPTQ reaches its first column, which fixes d (dmin) and
// every sub-block's scale (and min); each column then takes the level nearest to it under
// its sub-block's scale A = d * sc (and M = dmin * m), valued as the decoder does.
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
  int sub() const {
    return type == GgmlType::Q6_K || type == GgmlType::Q2_K || type == GgmlType::Q3_K ? 16 : 32;
  }
  Stats stats(const float* x, int64_t n, ThreadPool*, bool) const {
    return Stats::copy(x, n, "k-quant super-block");
  }
  bool finite(const Stats& s) const { return s.finite; }
  Params fit(const Stats& s, float) const {
    static const std::vector<float> ones(256, 1.0f);
    Params p;
    std::memset(&p, 0, sizeof p);
    ggml::encodeBlock(type, s.x, ones.data(), p.block, fast);
    uint16_t dh, mh;
    switch (type) {
      case GgmlType::Q6_K: {
        ggml::BlockQ6_K b;
        std::memcpy(&b, p.block, sizeof b);
        const float d = f16ToF32(b.d);
        for (int j = 0; j < 16; ++j) p.a[j] = d * float(b.scales[j]);
        break;
      }
      case GgmlType::Q2_K: {
        ggml::BlockQ2_K b;
        std::memcpy(&b, p.block, sizeof b);
        const float d = f16ToF32(b.d), dmin = f16ToF32(b.dmin);
        for (int j = 0; j < 16; ++j) {
          p.a[j] = d * float(b.scales[j] & 15);
          p.m[j] = dmin * float(b.scales[j] >> 4);
        }
        break;
      }
      case GgmlType::Q3_K: {
        ggml::BlockQ3_K b;
        std::memcpy(&b, p.block, sizeof b);
        const float d = f16ToF32(b.d);
        for (int j = 0; j < 16; ++j) p.a[j] = d * float(ggml::q3Scale(b.scales, j) - 32);
        break;
      }
      case GgmlType::IQ4_XS: {
        ggml::BlockIQ4_XS b;
        std::memcpy(&b, p.block, sizeof b);
        const float d = f16ToF32(b.d);
        for (int j = 0; j < 8; ++j) {
          const int ls =
              ((b.scales_l[j / 2] >> (4 * (j % 2))) & 15) | (((b.scales_h >> (2 * j)) & 3) << 4);
          p.a[j] = d * float(ls - 32);
        }
        break;
      }
      default: {  // q4_k, q5_k
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
    }
    for (int j = 0; j < 16; ++j) p.inv[j] = p.a[j] != 0.0f ? 1.0f / p.a[j] : 0.0f;
    return p;
  }
  uint32_t quantAt(const Params& p, int64_t e, float w, float* dq) const {
    const int j = int(e / sub());
    switch (type) {
      case GgmlType::Q6_K: {
        const int l = int(ggml::roundClamp(w * p.inv[j], -32.0f, 31.0f)) + 32;
        *dq = p.a[j] * float(l - 32);
        return uint32_t(l);
      }
      case GgmlType::Q3_K: {
        const int l = int(ggml::roundClamp(w * p.inv[j], -4.0f, 3.0f)) + 4;
        *dq = p.a[j] * float(l - 4);
        return uint32_t(l);
      }
      case GgmlType::IQ4_XS: {
        const int l = ggml::iq4Index(w * p.inv[j]);
        *dq = p.a[j] * float(ggml::kIq4nl[l]);
        return uint32_t(l);
      }
      default: {  // q2_k, q4_k, q5_k: A q - M
        const float top = type == GgmlType::Q2_K ? 3.0f : type == GgmlType::Q4_K ? 15.0f : 31.0f;
        const int l = int(ggml::roundClamp((w + p.m[j]) * p.inv[j], 0.0f, top));
        *dq = p.a[j] * float(l) - p.m[j];
        return uint32_t(l);
      }
    }
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
      switch (type) {
        case GgmlType::Q6_K: {
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
          break;
        }
        case GgmlType::Q2_K: {
          ggml::BlockQ2_K b;
          std::memcpy(&b, out, sizeof b);
          std::memset(b.qs, 0, sizeof b.qs);
          for (int e = 0; e < 256; ++e)
            b.qs[32 * (e / 128) + e % 32] |= uint8_t(c[e] << (2 * ((e % 128) / 32)));
          std::memcpy(out, &b, sizeof b);
          break;
        }
        case GgmlType::Q3_K: {
          ggml::BlockQ3_K b;
          std::memcpy(&b, out, sizeof b);
          std::memset(b.qs, 0, sizeof b.qs);
          std::memset(b.hmask, 0, sizeof b.hmask);
          for (int e = 0; e < 256; ++e) {
            const int h = e / 128, s2 = (e % 128) / 32, l = e % 32;
            b.qs[32 * h + l] |= uint8_t((c[e] & 3) << (2 * s2));
            b.hmask[l] |= uint8_t((c[e] >> 2) << (4 * h + s2));
          }
          std::memcpy(out, &b, sizeof b);
          break;
        }
        case GgmlType::IQ4_XS: {
          ggml::BlockIQ4_XS b;
          std::memcpy(&b, out, sizeof b);
          for (int j = 0; j < 8; ++j)
            for (int i = 0; i < 16; ++i)
              b.qs[16 * j + i] = uint8_t(c[32 * j + i] | (c[32 * j + i + 16] << 4));
          std::memcpy(out, &b, sizeof b);
          break;
        }
        case GgmlType::Q4_K: {
          ggml::BlockQ4_K b;
          std::memcpy(&b, out, sizeof b);
          std::memset(b.qs, 0, sizeof b.qs);
          for (int e = 0; e < 256; ++e)
            b.qs[32 * (e / 64) + e % 32] |= uint8_t((c[e] & 15) << (4 * ((e % 64) / 32)));
          std::memcpy(out, &b, sizeof b);
          break;
        }
        default: {  // q5_k
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
  }
};

// tq1_0 / tq2_0: one d per 256 (the RTN encoder's), each weight the nearest of -d, 0, d.
struct TernaryParams {
  float d = 0, inv = 0;
  uint16_t dh = 0;
};
struct TernaryPolicy {
  using Stats = KStats;
  using Params = TernaryParams;
  GgmlType type;
  bool fast;

  int codeBits() const { return 8; }
  int zeroBits() const { return 0; }
  bool clip() const { return false; }
  Stats stats(const float* x, int64_t n, ThreadPool*, bool) const {
    return Stats::copy(x, n, "ternary super-block");
  }
  bool finite(const Stats& s) const { return s.finite; }
  Params fit(const Stats& s, float) const {
    static const std::vector<float> ones(256, 1.0f);
    uint8_t block[66];
    ggml::encodeBlock(type, s.x, ones.data(), block, fast);
    Params p;
    std::memcpy(&p.dh, block + (type == GgmlType::TQ1_0 ? 52 : 64), 2);
    p.d = f16ToF32(p.dh);
    p.inv = p.d > 0 ? 1.0f / p.d : 0.0f;
    return p;
  }
  uint32_t quantOne(const Params& p, float w, float* dq) const {
    const int t = int(ggml::roundClamp(w * p.inv, -1.0f, 1.0f));
    *dq = float(t) * p.d;
    return uint32_t(t + 1);
  }
  void errSeg(const Params& p, const float* x, int64_t n, Lanes& lanes, bool) const {
    for (int64_t i = 0; i < n; ++i) {
      float d;
      quantOne(p, x[i], &d);
      const float e = x[i] - d;
      lanes.l[i & Lanes::kMask] += double(e) * double(e);
    }
  }
  void assemble(const Params* params, const uint8_t* codes, const Layout& L,
                StoredTensor& st) const {
    const int bytes = ggmlTypeInfo(type).blockBytes;
    st.codes.assign(size_t(L.groups * bytes), 0);
    int q[256];
    for (int64_t gi = 0; gi < L.groups; ++gi) {
      for (int e = 0; e < 256; ++e) q[e] = codes[gi * 256 + e];
      ggml::packTernary(type, q, params[gi].dh, st.codes.data() + gi * bytes);
    }
  }
};

// The i-quants of 1 to 3 bits: the super-block's d and sub-block scales (and iq1_s's deltas)
// come from the RTN encoder run on the compensated weights when GPTQ reaches its first
// column, weighted as the encoder weighs with an imatrix, by the Hessian diagonal of its
// columns. A group of 8 weights is one lattice point (two for iq3's points of 4), so its 8
// columns are quantized together at the group's first column (latticeGroup: the signs, then
// the grid point nearest the magnitudes under the sub-block's stored scale, each column's
// error weighted by 1 / U_jj^2), then their errors are propagated one by one. A column's
// code is its level, its sign (bit 3) and its group's delta sign (bit 4): the assembly looks
// the point up from the levels.
struct LatticeParams {
  uint16_t d = 0;
  uint8_t s[16] = {};
  float D[16] = {};
  uint8_t deltaNeg[32] = {};  // iq1_s: the encoder's, per group (one per sub-block)
};
struct LatticePolicy {
  using Stats = KStats;
  using Params = LatticeParams;
  GgmlType type;
  int blockBytes;
  bool fast;
  const float* hdiag;  // H_jj per column
  float floor;         // 1e-3 of the row's mean H_jj (as ggmlEncodeRows floors the importance)
  bool calibrated;     // some H_jj > 0

  int codeBits() const { return 8; }
  int zeroBits() const { return 0; }
  bool clip() const { return false; }
  int quantWidth() const { return 8; }
  Stats stats(const float* x, int64_t n, ThreadPool*, bool) const {
    return Stats::copy(x, n, "i-quant super-block");
  }
  bool finite(const Stats& s) const { return s.finite; }
  Params fitAt(const float* x, int64_t n, int64_t col0, bool) const {
    if (n != 256) throw std::logic_error("gptq: an i-quant super-block of " + std::to_string(n));
    float cw[256];
    for (int i = 0; i < 256; ++i) cw[i] = calibrated ? hdiag[col0 + i] + floor : 1.0f;
    ggml::setFastKernels(fast);
    ggml::LatticeCodes c;
    ggml::encodeLattice(type, x, cw, calibrated, c);
    Params p;
    p.d = c.d;
    const float d = f16ToF32(c.d);
    for (int j = 0; j < 16; ++j) {
      p.s[j] = c.s[j];
      p.D[j] = ggml::latticeSubScale(type, d, c.s[j]);
    }
    std::memcpy(p.deltaNeg, c.deltaNeg, 32);
    return p;
  }
  void quantGroup(const Params& p, int64_t i, const float* w, const float* h, float* dq,
                  uint8_t* codes) const {
    const ggml::Lattice& L = ggml::latticeOf(type);
    const int g = int(i / 8), j = int(i / ggml::latticeSubBlock(type));
    const int deltaNeg = type == GgmlType::IQ1_S ? p.deltaNeg[g] : type == GgmlType::IQ1_M ? -1 : 0;
    ggml::setFastKernels(fast);
    ggml::LatticeGroup lg;
    ggml::latticeGroup(type, L, w, h, p.D[j], deltaNeg, lg, dq);
    for (int e = 0; e < 8; ++e) {
      const int level = L.level[size_t(lg.point[e / L.dim]) * size_t(L.dim) + size_t(e % L.dim)];
      codes[e] = uint8_t(level | (((lg.neg >> e) & 1) << 3) | (lg.deltaNeg << 4));
    }
  }
  void assemble(const Params* params, const uint8_t* codes, const Layout& L,
                StoredTensor& st) const {
    const ggml::Lattice& lat = ggml::latticeOf(type);
    st.codes.assign(size_t(L.groups * blockBytes), 0);
    for (int64_t gi = 0; gi < L.groups; ++gi) {
      const Params& p = params[gi];
      const uint8_t* c = codes + gi * 256;
      ggml::LatticeCodes lc;
      lc.d = p.d;
      std::memcpy(lc.s, p.s, 16);
      for (int g = 0; g < 32; ++g) {
        uint8_t neg = 0;
        for (int e = 0; e < 8; ++e) neg = uint8_t(neg | (((c[8 * g + e] >> 3) & 1) << e));
        lc.neg[g] = neg;
        lc.deltaNeg[g] = uint8_t((c[8 * g] >> 4) & 1);
        for (int h = 0; h < 8 / lat.dim; ++h) {
          uint8_t lev[8];
          for (int e = 0; e < lat.dim; ++e) lev[e] = uint8_t(c[8 * g + lat.dim * h + e] & 7);
          const int32_t pt = lat.map[size_t(ggml::latticeCode(lat, lev))];
          if (pt < 0) throw std::logic_error("gptq: an i-quant group off its grid");
          lc.point[lat.dim == 8 ? g : 2 * g + h] = uint16_t(pt);
        }
      }
      ggml::packLattice(type, lc, st.codes.data() + gi * blockBytes);
    }
  }
};

}  // namespace

bool gptqGgmlSupported(const std::string& format) {
  return findGgmlType(format) != nullptr;
}

int gptqGgmlJointWidth(const std::string& format) {
  const GgmlTypeInfo* t = findGgmlType(format);
  return t && ggml::isLatticeType(t->type) ? 8 : 1;
}

void gptqGgmlFamily(const GptqPlan& plan, const FormatSpec& f, float* dq, StoredTensor& st) {
  const GgmlTypeInfo* t = findGgmlType(f.name);
  if (!t)
    throw std::invalid_argument(std::string("method gptq does not produce ") + f.name +
                                " blocks here");
  const bool fast = !plan.reference;
  if (ggml::isLatticeType(t->type)) {
    double sum = 0;
    for (float v : plan.hdiag) sum += v;
    const float floor = float(1e-3 * sum / double(plan.hdiag.size()));
    runGptq(LatticePolicy{t->type, t->blockBytes, fast, plan.hdiag.data(), floor, sum > 0}, plan,
            dq, st);
    return;
  }
  switch (t->type) {
    case GgmlType::TQ1_0:
    case GgmlType::TQ2_0:
      runGptq(TernaryPolicy{t->type, fast}, plan, dq, st);
      return;
    case GgmlType::Q2_K:
    case GgmlType::Q3_K:
    case GgmlType::Q4_K:
    case GgmlType::Q5_K:
    case GgmlType::Q6_K:
    case GgmlType::IQ4_XS:
      runGptq(KPolicy{t->type, t->blockBytes, fast}, plan, dq, st);
      return;
    default:  // the 32-weight blocks
      runGptq(Block32Policy{t->type, t->blockBytes, fast}, plan, dq, st);
  }
}

}  // namespace quant
}  // namespace bitsmith
