// Sign grids.
//   binary:  w' = sign(w) * m, m = mean |w| of the group (sign(0) = +1; -0 counts as 0);
//            code 1 = +m, 0 = -m.
//   ternary: BitNet b1.58 absmean: m = mean |w| of the group, q = clamp(round(w / m), -1, 1)
//            (w / m as w * (1/m), round half to even), w' = q m; trit q + 1, 5 per byte.
// m is the stored scale (rounded to its type); the mean is accumulated in double in the
// deterministic order of common/reduce.h. A group whose stored m is 0 reconstructs to 0.
// clip does not apply.
#include <cmath>
#include <cstring>

#include "common/fp.h"
#include "quant/driver.h"

namespace bitsmith {
namespace quant {

namespace {

struct AbsMean {
  double sum;
  int64_t n;
};

double absSumChunk(const float* x, int64_t n) {
  Lanes8 lanes;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l) lanes.l[l] += std::fabs(double(x[i + l]));
  for (; i < n; ++i) lanes.l[i & 7] += std::fabs(double(x[i]));
  return lanes.total();
}

struct MeanParams {
  float s = 0, inv = 0;
  uint8_t sb[4] = {0, 0, 0, 0};
};

template <bool Ternary>
struct SignPolicy {
  static constexpr bool kTrits = Ternary;
  using Stats = AbsMean;
  using Params = MeanParams;
  ScaleType scale;

  int codeBits() const { return Ternary ? 2 : 1; }  // ternary: unused (trits)
  int zeroBits() const { return 0; }
  bool clip() const { return false; }
  void allocate(StoredTensor& st, const Layout& L) const {
    st.codes.resize(size_t(Ternary ? tritBytes(L.size()) : packedBytes(L.size(), 1)));
    st.scales.resize(size_t(L.groups * scaleBytes(scale)));
    st.zeros.clear();
  }
  Stats stats(const float* x, int64_t n, ThreadPool* pool, bool) const {
    return AbsMean{chunkedSum(n, pool, [&](int64_t b, int64_t e) { return absSumChunk(x + b, e - b); }), n};
  }
  // |w| summed in double cannot overflow for finite floats, so a non-finite sum means a
  // NaN or Inf weight.
  bool finite(const Stats& s) const { return std::isfinite(s.sum); }
  Params fit(const Stats& st, float) const {
    Params p;
    const float m = st.n > 0 ? float(st.sum / double(st.n)) : 0.0f;
    p.s = storeScale(m, scale, p.sb);
    p.inv = p.s > 0 ? 1.0f / p.s : 0.0f;
    return p;
  }
  void store(const Params& p, int64_t gi, StoredTensor& st, BitWriter*) const {
    const int sb = scaleBytes(scale);
    std::memcpy(st.scales.data() + gi * sb, p.sb, size_t(sb));
  }
  uint32_t quantOne(const Params& p, float w, float* dq) const {
    if (Ternary) {
      const float r = std::min(std::max(std::nearbyint(w * p.inv), -1.0f), 1.0f);
      const int q = int(r);
      *dq = float(q) * p.s;
      return uint32_t(q + 1);
    }
    const bool pos = !(w < 0);
    *dq = p.s == 0 ? 0.0f : (pos ? p.s : -p.s);
    return pos ? 1u : 0u;
  }
  void quantSeg(const Params& p, const float* x, int64_t n, float* dq, uint8_t* codes, bool) const {
    for (int64_t i = 0; i < n; ++i) codes[i] = uint8_t(quantOne(p, x[i], dq + i));
  }
  void errSeg(const Params& p, const float* x, int64_t n, Lanes8& lanes, bool) const {
    for (int64_t i = 0; i < n; ++i) {
      float d;
      quantOne(p, x[i], &d);
      const float e = x[i] - d;
      lanes.l[i & 7] += double(e) * double(e);
    }
  }
};

}  // namespace

void quantizeSignFamily(const float* x, const Layout& L, const QuantConfig& c, const FormatSpec& f, const Ctx& ctx,
                        float* dq, StoredTensor& st) {
  const ScaleType scale = f.hasFixedScale ? f.fixedScale : c.scale;
  if (std::strcmp(f.name, "binary") == 0) runGrouped(SignPolicy<false>{scale}, x, L, ctx, dq, st);
  else runGrouped(SignPolicy<true>{scale}, x, L, ctx, dq, st);
}

}  // namespace quant
}  // namespace bitsmith
