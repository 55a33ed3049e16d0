// Floating-point grids.
//
// nf4, fp4, fp8_e4m3, fp8_e5m2: a scale per group (group / channel / tensor, any scale
// type): s = a * absmax / gridMax (gridMax = 1 for nf4, 6 for fp4, 448 for e4m3, 57344 for
// e5m2) rounded to its storage type; each weight becomes the nearest grid value of w / s
// (computed as w * (1/s)): NF4 ties go to the lower code, e2m1 and fp8 round half to even,
// fp8 saturating to the largest finite value ("satfinite"); w' = value * s.
//
// mxfp4 / mxfp8 (OCP Microscaling spec v1.0): blocks of 32 along the row (the last block of
// a row may be partial); shared scale X = 2^(floor(log2(absmax)) - emax_elem), emax_elem = 2
// for e2m1 (max 6 = 1.5 * 2^2) and 8 for e4m3 (max 448 = 1.75 * 2^8), stored as e8m0
// (exponent clamped to [-127, 127]; an all-zero block stores 2^-127); elements are
// e2m1 / e4m3 of w / X, round half to even, saturating (values above the element maximum,
// up to 2x for this choice of X, clamp to it, as the spec prescribes); w' = element * X.
//
// nvfp4 (NVIDIA's recipe, in compressed-tensors' convention): one f32 global scale
// G = (448 * 6) / tensor absmax (stored in `extra`, compressed-tensors' weight_global_scale;
// 1 for an all-zero tensor); blocks of 16 with an e4m3 scale sb = e4m3(absmax_block * (G / 6))
// (RNE, saturating; G / 6 is taken once per tensor); the block's effective scale is
// S = sb / G (one f32 division, as compressed-tensors' dequantize computes it, so its
// decompression of output compressed_tensors gives exactly these values); elements are
// e2m1 of w * (1/S); w' = element * S.
// clip mse applies to nf4, fp4 and fp8 (shrinking absmax); the microscaled formats fix
// their scales by rule and ignore it.
#include <cfloat>
#include <cmath>
#include <cstring>

#include "common/cpu.h"
#include "common/fp.h"
#include "quant/driver.h"
#include "quant/gptq_driver.h"
#include "quant/scale.h"

#if BITSMITH_X86
#include <immintrin.h>
#endif

namespace bitsmith {
namespace quant {

namespace {

enum GridKind { kNf4 = 0, kFp4 = 1, kE4M3 = 2, kE5M2 = 3 };

template <int K>
inline uint8_t encodeElem(float t) {
  if (K == kNf4) return nf4Encode(t);
  if (K == kFp4) return fp4Encode(t);
  if (K == kE4M3) return fp8Encode(Fp8Kind::E4M3, t, true);
  return fp8Encode(Fp8Kind::E5M2, t, true);
}

template <int K>
inline const float* gridTable() {
  if (K == kNf4) return kNf4Grid;
  if (K == kFp4) return kFp4Grid;
  if (K == kE4M3) return fp8Table(Fp8Kind::E4M3);
  return fp8Table(Fp8Kind::E5M2);
}

template <int K>
constexpr float gridMax() {
  return K == kNf4 ? 1.0f : K == kFp4 ? kFp4Max : K == kE4M3 ? kE4M3Max : kE5M2Max;
}

template <int K>
constexpr int gridBits() {
  return K == kNf4 || K == kFp4 ? 4 : 8;
}

// 2^e for e in [-127, 127], exactly.
inline float pow2(int e) {
  return e >= -126 ? f32FromBits(uint32_t(e + 127) << 23) : f32FromBits(0x00400000u);
}

struct ScaledParams {
  float s = 0, inv = 0;
  uint32_t sb = 0;  // stored scale bytes (little endian)
};

// Element loop shared by all scaled-grid policies: code = encode(w * inv), w' = grid * s.
template <int K>
inline uint32_t scaledOne(const float* table, float s, float inv, float w, float* dq) {
  const uint8_t code = encodeElem<K>(w * inv);
  *dq = table[code] * s;
  return code;
}

template <int K>
inline void scaledSeg(float s, float inv, const float* x, int64_t n, float* dq, uint8_t* codes) {
  const float* table = gridTable<K>();
  for (int64_t i = 0; i < n; ++i) codes[i] = uint8_t(scaledOne<K>(table, s, inv, x[i], dq + i));
}

template <int K>
inline void scaledErr(float s, float inv, const float* x, int64_t n, Lanes& lanes) {
  const float* table = gridTable<K>();
  for (int64_t i = 0; i < n; ++i) {
    float d;
    scaledOne<K>(table, s, inv, x[i], &d);
    const float e = x[i] - d;
    lanes.l[i & Lanes::kMask] += double(e) * double(e);
  }
}

#if BITSMITH_X86
// AVX2 element kernels: the code and the grid value of 8 scaled weights t = w * (1/s),
// equal to encodeElem / gridTable bit for bit.
struct Elem8 {
  __m256i code;
  __m256 value;
};

BITSMITH_AVX2 inline Elem8 nf4Elem8(__m256 t) {
  __m256i k = _mm256_setzero_si256();
  for (int i = 0; i < 15; ++i)
    k = _mm256_sub_epi32(
        k, _mm256_castps_si256(_mm256_cmp_ps(t, _mm256_set1_ps(kNf4Mid[i]), _CMP_GT_OQ)));
  const __m256 lo = _mm256_permutevar8x32_ps(_mm256_loadu_ps(kNf4Grid), k);
  const __m256 hi = _mm256_permutevar8x32_ps(_mm256_loadu_ps(kNf4Grid + 8), k);
  return {k, _mm256_blendv_ps(lo, hi, _mm256_castsi256_ps(_mm256_slli_epi32(k, 28)))};
}

BITSMITH_AVX2 inline __m256i step(__m256i acc, __m256 mask) {
  return _mm256_sub_epi32(acc, _mm256_castps_si256(mask));
}

BITSMITH_AVX2 inline Elem8 fp4Elem8(__m256 t) {
  const __m256 signMask = _mm256_set1_ps(-0.0f);
  const __m256 sign = _mm256_and_ps(t, signMask);
  const __m256 a = _mm256_andnot_ps(signMask, t);
  __m256i k = _mm256_setzero_si256();
  k = step(k, _mm256_cmp_ps(a, _mm256_set1_ps(0.25f), _CMP_GT_OQ));
  k = step(k, _mm256_cmp_ps(a, _mm256_set1_ps(0.75f), _CMP_GE_OQ));
  k = step(k, _mm256_cmp_ps(a, _mm256_set1_ps(1.25f), _CMP_GT_OQ));
  k = step(k, _mm256_cmp_ps(a, _mm256_set1_ps(1.75f), _CMP_GE_OQ));
  k = step(k, _mm256_cmp_ps(a, _mm256_set1_ps(2.5f), _CMP_GT_OQ));
  k = step(k, _mm256_cmp_ps(a, _mm256_set1_ps(3.5f), _CMP_GE_OQ));
  k = step(k, _mm256_cmp_ps(a, _mm256_set1_ps(5.0f), _CMP_GT_OQ));
  const __m256 mag = _mm256_permutevar8x32_ps(_mm256_loadu_ps(kFp4Grid), k);
  return {_mm256_or_si256(k, _mm256_srli_epi32(_mm256_castps_si256(sign), 28)),
          _mm256_or_ps(mag, sign)};
}

// fp8 with saturation (satfinite), as fp8Encode(kind, t, true); the value is rebuilt from
// the rounded bits (normal) or the subnormal count, which is exactly fp8Decode(code).
template <int K>
BITSMITH_AVX2 inline Elem8 fp8Elem8(__m256 t) {
  constexpr int mbits = K == kE4M3 ? 3 : 2;
  constexpr int bias = K == kE4M3 ? 7 : 15;
  constexpr int shift = 23 - mbits;
  constexpr int maxCode = K == kE4M3 ? 0x7e : 0x7b;
  constexpr int rebias = (127 - bias) << mbits;
  const float subScale = K == kE4M3 ? 512.0f : 65536.0f;
  const uint32_t minNormalBits = uint32_t(127 + 1 - bias) << 23;
  const __m256i u = _mm256_castps_si256(t);
  const __m256i sign = _mm256_and_si256(u, _mm256_set1_epi32(int(0x80000000u)));
  const __m256i a = _mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff));
  const __m256 af = _mm256_castsi256_ps(a);
  const __m256i sub = _mm256_cvttps_epi32(_mm256_round_ps(
      _mm256_mul_ps(af, _mm256_set1_ps(subScale)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  __m256i r = _mm256_add_epi32(a, _mm256_set1_epi32((1 << (shift - 1)) - 1));
  r = _mm256_add_epi32(r, _mm256_and_si256(_mm256_srli_epi32(a, shift), _mm256_set1_epi32(1)));
  r = _mm256_sub_epi32(_mm256_srli_epi32(r, shift), _mm256_set1_epi32(rebias));
  r = _mm256_min_epu32(r, _mm256_set1_epi32(maxCode));
  const __m256i isSub = _mm256_cmpgt_epi32(_mm256_set1_epi32(int(minNormalBits)), a);
  const __m256i k = _mm256_blendv_epi8(r, sub, isSub);
  const __m256 normalValue =
      _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k, _mm256_set1_epi32(rebias)), shift));
  const __m256 subValue = _mm256_mul_ps(_mm256_cvtepi32_ps(k), _mm256_set1_ps(1.0f / subScale));
  const __m256 v = _mm256_blendv_ps(normalValue, subValue, _mm256_castsi256_ps(isSub));
  return {_mm256_or_si256(k, _mm256_srli_epi32(sign, 24)),
          _mm256_or_ps(v, _mm256_castsi256_ps(sign))};
}

template <int K>
BITSMITH_AVX2 inline Elem8 elem8(__m256 t) {
  if constexpr (K == kNf4)
    return nf4Elem8(t);
  else if constexpr (K == kFp4)
    return fp4Elem8(t);
  else
    return fp8Elem8<K>(t);
}

template <int K>
BITSMITH_AVX2 void scaledSegAvx2(float s, float inv, const float* x, int64_t n, float* dq,
                                 uint8_t* codes, bool nt) {
  const __m256 vinv = _mm256_set1_ps(inv), vs = _mm256_set1_ps(s);
  const bool stream = nt && (reinterpret_cast<uintptr_t>(dq) & 15) == 0;
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m256i c[4];
    for (int q = 0; q < 4; ++q) {
      const Elem8 e = elem8<K>(_mm256_mul_ps(_mm256_loadu_ps(x + i + 8 * q), vinv));
      const __m256 d = _mm256_mul_ps(e.value, vs);
      if (stream)
        stream8(dq + i + 8 * q, d);
      else
        _mm256_storeu_ps(dq + i + 8 * q, d);
      c[q] = e.code;
    }
    storeCodes32(codes + i, c[0], c[1], c[2], c[3]);
  }
  for (; i + 8 <= n; i += 8) {
    const Elem8 e = elem8<K>(_mm256_mul_ps(_mm256_loadu_ps(x + i), vinv));
    const __m256 d = _mm256_mul_ps(e.value, vs);
    if (stream)
      stream8(dq + i, d);
    else
      _mm256_storeu_ps(dq + i, d);
    storeCodes8(codes + i, e.code);
  }
  const float* table = gridTable<K>();
  for (; i < n; ++i) codes[i] = uint8_t(scaledOne<K>(table, s, inv, x[i], dq + i));
}

template <int K>
BITSMITH_AVX2 void scaledErrAvx2(float s, float inv, const float* x, int64_t n, Lanes& lanes) {
  const __m256 vinv = _mm256_set1_ps(inv), vs = _mm256_set1_ps(s);
  __m256d acc[4];
  for (int k = 0; k < 4; ++k) acc[k] = _mm256_loadu_pd(lanes.l + 4 * k);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int h = 0; h < 2; ++h) {
      const __m256 w = _mm256_loadu_ps(x + i + 8 * h);
      const __m256 e = _mm256_sub_ps(w, _mm256_mul_ps(elem8<K>(_mm256_mul_ps(w, vinv)).value, vs));
      const __m256d e0 = _mm256_cvtps_pd(_mm256_castps256_ps128(e));
      const __m256d e1 = _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1));
      acc[2 * h] = _mm256_add_pd(acc[2 * h], _mm256_mul_pd(e0, e0));
      acc[2 * h + 1] = _mm256_add_pd(acc[2 * h + 1], _mm256_mul_pd(e1, e1));
    }
  }
  for (int k = 0; k < 4; ++k) _mm256_storeu_pd(lanes.l + 4 * k, acc[k]);
  const float* table = gridTable<K>();
  for (; i < n; ++i) {
    float d;
    scaledOne<K>(table, s, inv, x[i], &d);
    const float e = x[i] - d;
    lanes.l[i & Lanes::kMask] += double(e) * double(e);
  }
}

// Importance-weighted: element i adds (e * e) * w[i] to lane i & 15 (weightedGroupError's order).
template <int K>
BITSMITH_AVX2 void scaledErrWeightedAvx2(float s, float inv, const float* x, const float* wt,
                                         int64_t n, Lanes& lanes) {
  const __m256 vinv = _mm256_set1_ps(inv), vs = _mm256_set1_ps(s);
  __m256d acc[4];
  for (int k = 0; k < 4; ++k) acc[k] = _mm256_loadu_pd(lanes.l + 4 * k);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int h = 0; h < 2; ++h) {
      const __m256 w = _mm256_loadu_ps(x + i + 8 * h);
      const __m256 e = _mm256_sub_ps(w, _mm256_mul_ps(elem8<K>(_mm256_mul_ps(w, vinv)).value, vs));
      const __m256 d = _mm256_loadu_ps(wt + i + 8 * h);
      const __m256d e0 = _mm256_cvtps_pd(_mm256_castps256_ps128(e));
      const __m256d e1 = _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1));
      const __m256d d0 = _mm256_cvtps_pd(_mm256_castps256_ps128(d));
      const __m256d d1 = _mm256_cvtps_pd(_mm256_extractf128_ps(d, 1));
      acc[2 * h] = _mm256_add_pd(acc[2 * h], _mm256_mul_pd(_mm256_mul_pd(e0, e0), d0));
      acc[2 * h + 1] = _mm256_add_pd(acc[2 * h + 1], _mm256_mul_pd(_mm256_mul_pd(e1, e1), d1));
    }
  }
  for (int k = 0; k < 4; ++k) _mm256_storeu_pd(lanes.l + 4 * k, acc[k]);
  const float* table = gridTable<K>();
  for (; i < n; ++i) {
    float d;
    scaledOne<K>(table, s, inv, x[i], &d);
    const float e = x[i] - d;
    lanes.l[i & Lanes::kMask] += (double(e) * double(e)) * double(wt[i]);
  }
}
#endif

// The members every scaled-grid policy shares: segment kernels and the fused row.
template <int K, class Self>
struct ScaledKernels {
  bool avx2 = cpuHasAvx2();
  void quantSeg(const ScaledParams& p, const float* x, int64_t n, float* dq, uint8_t* codes,
                bool nt) const {
#if BITSMITH_X86
    if (avx2) {
      scaledSegAvx2<K>(p.s, p.inv, x, n, dq, codes, nt);
      return;
    }
#endif
    (void)nt;
    scaledSeg<K>(p.s, p.inv, x, n, dq, codes);
  }
  void quantSegAvx2(const ScaledParams& p, const float* x, int64_t n, float* dq, uint8_t* codes,
                    bool nt) const {
    quantSeg(p, x, n, dq, codes, nt);
  }
  void errSeg(const ScaledParams& p, const float* x, int64_t n, Lanes& lanes, bool fast) const {
#if BITSMITH_X86
    if (fast && avx2) {
      scaledErrAvx2<K>(p.s, p.inv, x, n, lanes);
      return;
    }
#endif
    (void)fast;
    scaledErr<K>(p.s, p.inv, x, n, lanes);
  }
  bool errWeighted(const ScaledParams& p, const float* x, const float* w, int64_t n,
                   Lanes& lanes) const {
#if BITSMITH_X86
    if (!avx2) return false;
    scaledErrWeightedAvx2<K>(p.s, p.inv, x, w, n, lanes);
    return true;
#else
    (void)p, (void)x, (void)w, (void)n, (void)lanes;
    return false;
#endif
  }
  bool useFastRow() const { return avx2 && !static_cast<const Self*>(this)->clip(); }
  bool fastRow(const float* row, const Layout& L, float* drow, int64_t gi0, StoredTensor& st,
               BitWriter& cw, BitWriter* zw, bool nt) const {
#if BITSMITH_X86
    return fusedRowAvx2(*static_cast<const Self*>(this), row, L, drow, gi0, st, cw, zw, nt);
#else
    (void)row, (void)L, (void)drow, (void)gi0, (void)st, (void)cw, (void)zw, (void)nt;
    return true;
#endif
  }
};

template <int K>
struct ScaledPolicy : ScaledKernels<K, ScaledPolicy<K>> {
  static constexpr bool kTrits = false;
  using Stats = MinMax;
  using Params = ScaledParams;
  ScaleType scale;
  bool clipOn;
  ScaledPolicy(ScaleType st, bool clip) : scale(st), clipOn(clip) {}

  int codeBits() const { return gridBits<K>(); }
  int zeroBits() const { return 0; }
  bool clip() const { return clipOn; }
  void allocate(StoredTensor& st, const Layout& L) const {
    st.codes.resize(size_t(packedBytes(L.size(), gridBits<K>())));
    st.scales.resize(size_t(L.groups * scaleBytes(scale)));
    st.zeros.clear();
  }
  Stats stats(const float* x, int64_t n, ThreadPool* pool, bool fast) const {
    return minmaxRange(x, n, pool, fast);
  }
  bool finite(const Stats& s) const { return s.finite; }
  Params fit(const Stats& st, float a) const {
    Params p;
    const float amax = std::max(0.0f - (st.mn + 0.0f), st.mx + 0.0f) * a;
    p.s = storeScale(amax / gridMax<K>(), scale, &p.sb);
    p.inv = p.s > 0 ? 1.0f / p.s : 0.0f;
    return p;
  }
  void store(const Params& p, int64_t gi, StoredTensor& st, BitWriter*) const {
    const int sb = scaleBytes(scale);
    putBytes(st.scales.data() + gi * sb, p.sb, sb);
  }
  uint32_t quantOne(const Params& p, float w, float* dq) const {
    return scaledOne<K>(gridTable<K>(), p.s, p.inv, w, dq);
  }
};

// mxfp4 (K = kFp4) / mxfp8 (K = kE4M3): power-of-two scales by the MX rule.
template <int K>
struct MxPolicy : ScaledKernels<K, MxPolicy<K>> {
  static constexpr bool kTrits = false;
  using Stats = MinMax;
  using Params = ScaledParams;  // sb: the e8m0 code
  static constexpr int kEmaxElem = K == kFp4 ? 2 : 8;

  int codeBits() const { return gridBits<K>(); }
  int zeroBits() const { return 0; }
  bool clip() const { return false; }
  void allocate(StoredTensor& st, const Layout& L) const {
    st.codes.resize(size_t(packedBytes(L.size(), gridBits<K>())));
    st.scales.resize(size_t(L.groups));
    st.zeros.clear();
  }
  Stats stats(const float* x, int64_t n, ThreadPool* pool, bool fast) const {
    return minmaxRange(x, n, pool, fast);
  }
  bool finite(const Stats& s) const { return s.finite; }
  Params fit(const Stats& st, float) const {
    Params p;
    const float amax = std::max(0.0f - (st.mn + 0.0f), st.mx + 0.0f);
    int e = -127;
    if (amax > 0) {
      int floorLog2;
      const uint32_t bits = f32Bits(amax);
      if (bits >= 0x00800000u) {
        floorLog2 = int(bits >> 23) - 127;  // normal: the exponent field
      } else {
        int ex;
        std::frexp(amax, &ex);  // denormal: amax = m 2^ex, m in [0.5, 1)
        floorLog2 = ex - 1;
      }
      e = std::min(127, std::max(-127, floorLog2 - kEmaxElem));
    }
    p.sb = uint32_t(e + 127);
    p.s = pow2(e);     // exact (2^-127 is an f32 denormal)
    p.inv = pow2(-e);  // exact: w * inv is w / X
    return p;
  }
  void store(const Params& p, int64_t gi, StoredTensor& st, BitWriter*) const {
    st.scales[size_t(gi)] = uint8_t(p.sb);
  }
  uint32_t quantOne(const Params& p, float w, float* dq) const {
    return scaledOne<K>(gridTable<K>(), p.s, p.inv, w, dq);
  }
};

struct NvPolicy : ScaledKernels<kFp4, NvPolicy> {
  static constexpr bool kTrits = false;
  using Stats = MinMax;
  using Params = ScaledParams;    // sb: the e4m3 block scale code
  float g = 1;                    // the global scale G
  float gOver6 = 1.0f / kFp4Max;  // G / 6

  int codeBits() const { return 4; }
  int zeroBits() const { return 0; }
  bool clip() const { return false; }
  void allocate(StoredTensor& st, const Layout& L) const {
    st.codes.resize(size_t(packedBytes(L.size(), 4)));
    st.scales.resize(size_t(L.groups));
    st.zeros.clear();
  }
  Stats stats(const float* x, int64_t n, ThreadPool* pool, bool fast) const {
    return minmaxRange(x, n, pool, fast);
  }
  bool finite(const Stats& s) const { return s.finite; }
  Params fit(const Stats& st, float) const {
    Params p;
    const float amax = std::max(0.0f - (st.mn + 0.0f), st.mx + 0.0f);
    p.sb = fp8Encode(Fp8Kind::E4M3, amax * gOver6, true);
    p.s = fp8Table(Fp8Kind::E4M3)[p.sb] / g;
    if (!(p.s >= FLT_MIN)) p.s = 0;
    p.inv = p.s > 0 ? 1.0f / p.s : 0.0f;
    return p;
  }
  void store(const Params& p, int64_t gi, StoredTensor& st, BitWriter*) const {
    st.scales[size_t(gi)] = uint8_t(p.sb);
  }
  uint32_t quantOne(const Params& p, float w, float* dq) const {
    return scaledOne<kFp4>(kFp4Grid, p.s, p.inv, w, dq);
  }
};

// nvfp4's per-tensor scale, in compressed-tensors' convention: G = 448 * 6 / amax, stored
// (as f32 bytes in st.extra) and divided by. amax >= FLT_MIN keeps G finite (at most
// 2688 / 2^-126); an all-zero tensor gets G = 1.
NvPolicy nvPolicy(float mn, float mx, StoredTensor& st) {
  NvPolicy pol;
  const float amax = std::max(0.0f - (mn + 0.0f), mx + 0.0f);
  pol.g = amax >= FLT_MIN ? (kE4M3Max * kFp4Max) / amax : 1.0f;
  pol.gOver6 = pol.g / kFp4Max;
  const uint32_t u = f32Bits(pol.g);
  const uint8_t gBytes[4] = {uint8_t(u), uint8_t(u >> 8), uint8_t(u >> 16), uint8_t(u >> 24)};
  st.extra.assign(gBytes, gBytes + 4);
  return pol;
}

}  // namespace

void quantizeFloatFamily(const float* x, const Layout& L, const QuantConfig& c, const FormatSpec& f,
                         const Ctx& ctx, float* dq, StoredTensor& st) {
  const ScaleType scale = f.hasFixedScale ? f.fixedScale : c.scale;
  const std::string name = f.name;
  if (name == "nf4")
    runGrouped(ScaledPolicy<kNf4>(scale, c.clipMse), x, L, ctx, dq, st);
  else if (name == "fp4")
    runGrouped(ScaledPolicy<kFp4>(scale, c.clipMse), x, L, ctx, dq, st);
  else if (name == "fp8_e4m3")
    runGrouped(ScaledPolicy<kE4M3>(scale, c.clipMse), x, L, ctx, dq, st);
  else if (name == "fp8_e5m2")
    runGrouped(ScaledPolicy<kE5M2>(scale, c.clipMse), x, L, ctx, dq, st);
  else
    throw std::invalid_argument("format " + name + " is not a float grid");
}

void quantizeMicroFamily(const float* x, const Layout& L, const QuantConfig&, const FormatSpec& f,
                         const Ctx& ctx, float* dq, StoredTensor& st) {
  const std::string name = f.name;
  if (name == "mxfp4") {
    runGrouped(MxPolicy<kFp4>{}, x, L, ctx, dq, st);
  } else if (name == "mxfp8") {
    runGrouped(MxPolicy<kE4M3>{}, x, L, ctx, dq, st);
  } else if (name == "nvfp4") {
    const MinMax t =
        ctx.reference ? minmaxScalar(x, L.size()) : minmaxRange(x, L.size(), ctx.pool, true);
    if (!t.finite && ctx.nonFinite) {
      ctx.nonFinite->store(true);
      return;
    }
    const NvPolicy pol = nvPolicy(t.mn, t.mx, st);
    runGrouped(pol, x, L, ctx, dq, st);
  } else {
    throw std::invalid_argument("format " + name + " is not a microscaled grid");
  }
}

void gptqFloatFamily(const GptqPlan& plan, const QuantConfig& c, const FormatSpec& f, float* dq,
                     StoredTensor& st) {
  const ScaleType scale = f.hasFixedScale ? f.fixedScale : c.scale;
  const std::string name = f.name;
  if (name == "nf4")
    runGptq(ScaledPolicy<kNf4>(scale, c.clipMse), plan, dq, st);
  else if (name == "fp4")
    runGptq(ScaledPolicy<kFp4>(scale, c.clipMse), plan, dq, st);
  else if (name == "fp8_e4m3")
    runGptq(ScaledPolicy<kE4M3>(scale, c.clipMse), plan, dq, st);
  else if (name == "fp8_e5m2")
    runGptq(ScaledPolicy<kE5M2>(scale, c.clipMse), plan, dq, st);
  else
    throw std::invalid_argument("format " + name + " is not a float grid");
}

void gptqMicroFamily(const GptqPlan& plan, const QuantConfig&, const FormatSpec& f, float* dq,
                     StoredTensor& st) {
  const std::string name = f.name;
  if (name == "mxfp4") {
    runGptq(MxPolicy<kFp4>{}, plan, dq, st);
  } else if (name == "mxfp8") {
    runGptq(MxPolicy<kE4M3>{}, plan, dq, st);
  } else if (name == "nvfp4") {
    // The per-tensor scale as RTN fits it, on the weights GPTQ starts from.
    float mn = INFINITY, mx = -INFINITY;
    for (int64_t r = 0; r < plan.L.rows; ++r)
      for (int64_t c = 0; c < plan.L.cols; ++c) {
        const float v = plan.weight(r, c);
        mn = std::min(mn, v);
        mx = std::max(mx, v);
      }
    const NvPolicy pol = nvPolicy(mn, mx, st);
    runGptq(pol, plan, dq, st);
  } else {
    throw std::invalid_argument("format " + name + " is not a microscaled grid");
  }
}

}  // namespace quant
}  // namespace bitsmith
