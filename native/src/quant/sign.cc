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

#include "common/cpu.h"
#include "common/fp.h"
#include "quant/driver.h"
#include "quant/scale.h"

#if BITSMITH_X86
#include <immintrin.h>
#endif

namespace bitsmith {
namespace quant {

namespace {

struct AbsMean {
  double sum;
  int64_t n;
};

double absSumChunk(const float* x, int64_t n) {
  Lanes lanes;
  int64_t i = 0;
  for (; i + Lanes::kCount <= n; i += Lanes::kCount)
    for (int l = 0; l < Lanes::kCount; ++l) lanes.l[l] += std::fabs(double(x[i + l]));
  for (; i < n; ++i) lanes.l[i & Lanes::kMask] += std::fabs(double(x[i]));
  return lanes.total();
}

struct MeanParams {
  float s = 0, inv = 0;
  uint32_t sb = 0;  // stored scale bytes (little endian)
};

#if BITSMITH_X86
// AVX2 segment kernels, bit for bit the scalar quantOne below.
BITSMITH_AVX2 void ternarySegAvx2(float s, float inv, const float* x, int64_t n, float* dq,
                                  uint8_t* codes) {
  const __m256 vinv = _mm256_set1_ps(inv), vs = _mm256_set1_ps(s);
  const __m256 lo = _mm256_set1_ps(-1.0f), hi = _mm256_set1_ps(1.0f);
  const __m256i one = _mm256_set1_epi32(1);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 r = _mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), vinv),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    r = _mm256_min_ps(hi, _mm256_max_ps(lo, r));
    const __m256i q = _mm256_cvttps_epi32(r);
    _mm256_storeu_ps(dq + i, _mm256_mul_ps(_mm256_cvtepi32_ps(q), vs));
    storeCodes8(codes + i, _mm256_add_epi32(q, one));
  }
  for (; i < n; ++i) {
    const int q = int(std::min(std::max(std::nearbyint(x[i] * inv), -1.0f), 1.0f));
    dq[i] = float(q) * s;
    codes[i] = uint8_t(q + 1);
  }
}

BITSMITH_AVX2 void binarySegAvx2(float s, const float* x, int64_t n, float* dq, uint8_t* codes) {
  const __m256 pos = _mm256_set1_ps(s == 0 ? 0.0f : s), neg = _mm256_set1_ps(s == 0 ? 0.0f : -s);
  const __m256 zero = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 isNeg = _mm256_cmp_ps(_mm256_loadu_ps(x + i), zero, _CMP_LT_OQ);
    _mm256_storeu_ps(dq + i, _mm256_blendv_ps(pos, neg, isNeg));
    storeCodes8(codes + i, _mm256_add_epi32(_mm256_castps_si256(isNeg), _mm256_set1_epi32(1)));
  }
  for (; i < n; ++i) {
    const bool p = !(x[i] < 0);
    dq[i] = s == 0 ? 0.0f : (p ? s : -s);
    codes[i] = p ? 1 : 0;
  }
}
#endif

template <bool Ternary>
struct SignPolicy {
  static constexpr bool kTrits = Ternary;
  using Stats = AbsMean;
  using Params = MeanParams;
  ScaleType scale;
  bool avx2 = cpuHasAvx2();

  int codeBits() const { return Ternary ? 2 : 1; }  // ternary: unused (trits)
  int zeroBits() const { return 0; }
  bool clip() const { return false; }
  void allocate(StoredTensor& st, const Layout& L) const {
    st.codes.resize(size_t(Ternary ? tritBytes(L.size()) : packedBytes(L.size(), 1)));
    st.scales.resize(size_t(L.groups * scaleBytes(scale)));
    st.zeros.clear();
  }
  Stats stats(const float* x, int64_t n, ThreadPool* pool, bool) const {
    return AbsMean{
        chunkedSum(n, pool, [&](int64_t b, int64_t e) { return absSumChunk(x + b, e - b); }), n};
  }
  // |w| summed in double cannot overflow for finite floats, so a non-finite sum means a
  // NaN or Inf weight.
  bool finite(const Stats& s) const { return std::isfinite(s.sum); }
  Params fit(const Stats& st, float) const {
    Params p;
    const float m = st.n > 0 ? float(st.sum / double(st.n)) : 0.0f;
    p.s = storeScale(m, scale, &p.sb);
    p.inv = p.s > 0 ? 1.0f / p.s : 0.0f;
    return p;
  }
  void store(const Params& p, int64_t gi, StoredTensor& st, BitWriter*) const {
    const int sb = scaleBytes(scale);
    putBytes(st.scales.data() + gi * sb, p.sb, sb);
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
#if BITSMITH_X86
    if (avx2) {
      if (Ternary)
        ternarySegAvx2(p.s, p.inv, x, n, dq, codes);
      else
        binarySegAvx2(p.s, x, n, dq, codes);
      return;
    }
#endif
    for (int64_t i = 0; i < n; ++i) codes[i] = uint8_t(quantOne(p, x[i], dq + i));
  }
  void errSeg(const Params& p, const float* x, int64_t n, Lanes& lanes, bool) const {
    for (int64_t i = 0; i < n; ++i) {
      float d;
      quantOne(p, x[i], &d);
      const float e = x[i] - d;
      lanes.l[i & Lanes::kMask] += double(e) * double(e);
    }
  }
};

}  // namespace

void quantizeSignFamily(const float* x, const Layout& L, const QuantConfig& c, const FormatSpec& f,
                        const Ctx& ctx, float* dq, StoredTensor& st) {
  const ScaleType scale = f.hasFixedScale ? f.fixedScale : c.scale;
  if (std::strcmp(f.name, "binary") == 0)
    runGrouped(SignPolicy<false>{scale, cpuHasAvx2()}, x, L, ctx, dq, st);
  else
    runGrouped(SignPolicy<true>{scale, cpuHasAvx2()}, x, L, ctx, dq, st);
}

}  // namespace quant
}  // namespace bitsmith
