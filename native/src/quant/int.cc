// Uniform integer grids int2..int8, per group / channel / tensor.
//
// Symmetric (the GPTQ / compressed-tensors convention, chosen over the restricted
// [-(2^(b-1)-1), 2^(b-1)-1] grid of methods.md so checkpoints round-trip through those
// tools): q in [-2^(b-1), 2^(b-1) - 1], s = a * absmax / ((2^b - 1) / 2) (int4: absmax / 7.5),
// q = clamp(round(w / s)), w' = s q; the stored code is q + 2^(b-1). +absmax maps to 7.5
// and clamps to 7, -absmax to -8 (ties round to even).
//
// Asymmetric: the range [lo, hi] = [a min(min w, 0), a max(max w, 0)] (zero kept in range,
// as GPTQ and compressed-tensors do, so the zero point is a valid code and a constant
// group is exact), s = (hi - lo) / (2^b - 1), and
//   `zero int` (GPTQ / compressed-tensors): z = clamp(round(-lo / s), 0, 2^b - 1), a b-bit
//             integer; q = clamp(round(w / s) + z, 0, 2^b - 1); w' = s (q - z).
//   `zero f16` (HQQ style, a real-valued zero point): z = f16(-lo / s), not rounded, so the
//             grid spans [lo, hi] exactly; q = clamp(round(w / s + z), 0, 2^b - 1);
//             w' = s (q - z).
// s and z are the stored values (the scale rounded to its storage type, common/fp.h) and
// round() is round-half-to-even. w / s is computed as w * (1 / s) with the reciprocal of
// the stored scale taken once per group, in the reference as in the fast path.
// clip mse: a in {1, 0.975, ..., 0.525}, the one with the smallest squared error (weighted
// per input column by QuantConfig::importance when given).
// method hqq (asymmetric grids): the zero point is then optimised by quant/hqq.h.
#include <cmath>
#include <cstring>

#include "common/cpu.h"
#include "common/fp.h"
#include "quant/driver.h"
#include "quant/gptq_driver.h"
#include "quant/hqq.h"
#include "quant/scale.h"

#if BITSMITH_X86
#include <immintrin.h>
#endif

namespace bitsmith {
namespace quant {

namespace {

enum Mode { kSym = 0, kAsymInt = 1, kAsymFloat = 2 };

struct IntParams {
  float s = 0, inv = 0, z = 0;  // stored scale, its reciprocal, zero point (0 symmetric)
  uint32_t zcode = 0;           // zero int
  uint16_t zh = 0;              // zero f16
  uint32_t sb = 0;              // stored scale bytes (little endian)
};

struct IntGrid {
  float lo, hi;  // clamp range of q
  float s, inv, z;
  int offset;
};

// One weight: the spec. Shared by the reference loop and the scalar fast-path tails.
template <int M>
inline int intQ(float w, float inv, float z, float lo, float hi) {
  float t = w * inv;
  if (M == kAsymFloat) t = t + z;
  float r = std::nearbyint(t);
  if (M == kAsymInt) r = r + z;
  r = std::min(std::max(r, lo), hi);
  return int(r);
}

#if BITSMITH_X86
template <int M>
BITSMITH_AVX2 inline __m256i intQ8(const float* x, __m256 vinv, __m256 vz, __m256 vlo, __m256 vhi,
                                   __m256 vs, __m256* dq) {
  __m256 t = _mm256_mul_ps(_mm256_loadu_ps(x), vinv);
  if (M == kAsymFloat) t = _mm256_add_ps(t, vz);
  __m256 r = _mm256_round_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  if (M == kAsymInt) r = _mm256_add_ps(r, vz);
  r = _mm256_min_ps(vhi, _mm256_max_ps(vlo, r));  // == std::min(std::max(r, lo), hi)
  const __m256i q = _mm256_cvttps_epi32(r);
  *dq = _mm256_mul_ps(_mm256_sub_ps(_mm256_cvtepi32_ps(q), vz), vs);
  return q;
}

template <int M>
BITSMITH_AVX2 void intQuantAvx2(const IntGrid& g, const float* x, int64_t n, float* dq,
                                uint8_t* codes, bool nt) {
  const __m256 vinv = _mm256_set1_ps(g.inv), vz = _mm256_set1_ps(g.z), vs = _mm256_set1_ps(g.s);
  const __m256 vlo = _mm256_set1_ps(g.lo), vhi = _mm256_set1_ps(g.hi);
  const __m256i voff = _mm256_set1_epi32(g.offset);
  const bool stream = nt && (reinterpret_cast<uintptr_t>(dq) & 15) == 0;
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m256 d0, d1, d2, d3;
    const __m256i q0 = _mm256_add_epi32(intQ8<M>(x + i, vinv, vz, vlo, vhi, vs, &d0), voff);
    const __m256i q1 = _mm256_add_epi32(intQ8<M>(x + i + 8, vinv, vz, vlo, vhi, vs, &d1), voff);
    const __m256i q2 = _mm256_add_epi32(intQ8<M>(x + i + 16, vinv, vz, vlo, vhi, vs, &d2), voff);
    const __m256i q3 = _mm256_add_epi32(intQ8<M>(x + i + 24, vinv, vz, vlo, vhi, vs, &d3), voff);
    if (stream) {
      stream8(dq + i, d0);
      stream8(dq + i + 8, d1);
      stream8(dq + i + 16, d2);
      stream8(dq + i + 24, d3);
    } else {
      _mm256_storeu_ps(dq + i, d0);
      _mm256_storeu_ps(dq + i + 8, d1);
      _mm256_storeu_ps(dq + i + 16, d2);
      _mm256_storeu_ps(dq + i + 24, d3);
    }
    storeCodes32(codes + i, q0, q1, q2, q3);
  }
  for (; i + 8 <= n; i += 8) {
    __m256 d;
    const __m256i q = _mm256_add_epi32(intQ8<M>(x + i, vinv, vz, vlo, vhi, vs, &d), voff);
    if (stream)
      stream8(dq + i, d);
    else
      _mm256_storeu_ps(dq + i, d);
    storeCodes8(codes + i, q);
  }
  for (; i < n; ++i) {
    const int q = intQ<M>(x[i], g.inv, g.z, g.lo, g.hi);
    dq[i] = (float(q) - g.z) * g.s;
    codes[i] = uint8_t(q + g.offset);
  }
}

template <int M>
BITSMITH_AVX2 void intErrAvx2(const IntGrid& g, const float* x, int64_t n, Lanes& lanes) {
  const __m256 vinv = _mm256_set1_ps(g.inv), vz = _mm256_set1_ps(g.z), vs = _mm256_set1_ps(g.s);
  const __m256 vlo = _mm256_set1_ps(g.lo), vhi = _mm256_set1_ps(g.hi);
  __m256d acc[4];
  for (int k = 0; k < 4; ++k) acc[k] = _mm256_loadu_pd(lanes.l + 4 * k);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int h = 0; h < 2; ++h) {
      __m256 d;
      intQ8<M>(x + i + 8 * h, vinv, vz, vlo, vhi, vs, &d);
      const __m256 e = _mm256_sub_ps(_mm256_loadu_ps(x + i + 8 * h), d);
      const __m256d e0 = _mm256_cvtps_pd(_mm256_castps256_ps128(e));
      const __m256d e1 = _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1));
      acc[2 * h] = _mm256_add_pd(acc[2 * h], _mm256_mul_pd(e0, e0));
      acc[2 * h + 1] = _mm256_add_pd(acc[2 * h + 1], _mm256_mul_pd(e1, e1));
    }
  }
  for (int k = 0; k < 4; ++k) _mm256_storeu_pd(lanes.l + 4 * k, acc[k]);
  for (; i < n; ++i) {
    const int q = intQ<M>(x[i], g.inv, g.z, g.lo, g.hi);
    const float e = x[i] - (float(q) - g.z) * g.s;
    lanes.l[i & Lanes::kMask] += double(e) * double(e);
  }
}

// Importance-weighted squared errors: element i adds (e * e) * w[i] (in double) to lane
// i & 15, as weightedGroupError's scalar loop does.
template <int M>
BITSMITH_AVX2 void intErrWeightedAvx2(const IntGrid& g, const float* x, const float* w, int64_t n,
                                      Lanes& lanes) {
  const __m256 vinv = _mm256_set1_ps(g.inv), vz = _mm256_set1_ps(g.z), vs = _mm256_set1_ps(g.s);
  const __m256 vlo = _mm256_set1_ps(g.lo), vhi = _mm256_set1_ps(g.hi);
  __m256d acc[4];
  for (int k = 0; k < 4; ++k) acc[k] = _mm256_loadu_pd(lanes.l + 4 * k);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int h = 0; h < 2; ++h) {
      __m256 d;
      intQ8<M>(x + i + 8 * h, vinv, vz, vlo, vhi, vs, &d);
      const __m256 e = _mm256_sub_ps(_mm256_loadu_ps(x + i + 8 * h), d);
      const __m256 wv = _mm256_loadu_ps(w + i + 8 * h);
      const __m256d e0 = _mm256_cvtps_pd(_mm256_castps256_ps128(e));
      const __m256d e1 = _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1));
      const __m256d w0 = _mm256_cvtps_pd(_mm256_castps256_ps128(wv));
      const __m256d w1 = _mm256_cvtps_pd(_mm256_extractf128_ps(wv, 1));
      acc[2 * h] = _mm256_add_pd(acc[2 * h], _mm256_mul_pd(_mm256_mul_pd(e0, e0), w0));
      acc[2 * h + 1] = _mm256_add_pd(acc[2 * h + 1], _mm256_mul_pd(_mm256_mul_pd(e1, e1), w1));
    }
  }
  for (int k = 0; k < 4; ++k) _mm256_storeu_pd(lanes.l + 4 * k, acc[k]);
  for (; i < n; ++i) {
    const int q = intQ<M>(x[i], g.inv, g.z, g.lo, g.hi);
    const float e = x[i] - (float(q) - g.z) * g.s;
    lanes.l[i & Lanes::kMask] += (double(e) * double(e)) * double(w[i]);
  }
}

constexpr int64_t kPrefetch = 8192;  // = the fused kernel's batch

// Squared errors of several candidate grids over one group (n <= one reduction chunk), in
// the lane order of common/reduce.h, each returned as its lane total.
template <int M>
BITSMITH_AVX2 void intErrManyAvx2(const IntGrid* grids, int count, const float* x, int64_t n,
                                  double* out) {
  for (int c = 0; c < count; ++c) {
    const IntGrid& g = grids[c];
    const __m256 vinv = _mm256_set1_ps(g.inv), vz = _mm256_set1_ps(g.z), vs = _mm256_set1_ps(g.s);
    const __m256 vlo = _mm256_set1_ps(g.lo), vhi = _mm256_set1_ps(g.hi);
    __m256d acc[4] = {_mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd(),
                      _mm256_setzero_pd()};
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
      for (int h = 0; h < 2; ++h) {
        __m256 d;
        intQ8<M>(x + i + 8 * h, vinv, vz, vlo, vhi, vs, &d);
        const __m256 e = _mm256_sub_ps(_mm256_loadu_ps(x + i + 8 * h), d);
        const __m256d e0 = _mm256_cvtps_pd(_mm256_castps256_ps128(e));
        const __m256d e1 = _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1));
        acc[2 * h] = _mm256_add_pd(acc[2 * h], _mm256_mul_pd(e0, e0));
        acc[2 * h + 1] = _mm256_add_pd(acc[2 * h + 1], _mm256_mul_pd(e1, e1));
      }
    }
    Lanes lanes;
    for (int k = 0; k < 4; ++k) _mm256_storeu_pd(lanes.l + 4 * k, acc[k]);
    for (; i < n; ++i) {
      const int q = intQ<M>(x[i], g.inv, g.z, g.lo, g.hi);
      const float e = x[i] - (float(q) - g.z) * g.s;
      lanes.l[i & Lanes::kMask] += double(e) * double(e);
    }
    out[c] = lanes.total();
  }
}

// 4-bit codes straight into a byte-aligned stream: n % 32 == 0.
template <int M>
BITSMITH_AVX2 void intQuantPack4Avx2(const IntGrid& g, const float* x, int64_t n, float* dq,
                                     uint8_t* out, bool nt) {
  const __m256 vinv = _mm256_set1_ps(g.inv), vz = _mm256_set1_ps(g.z), vs = _mm256_set1_ps(g.s);
  const __m256 vlo = _mm256_set1_ps(g.lo), vhi = _mm256_set1_ps(g.hi);
  const __m256i voff = _mm256_set1_epi32(g.offset);
  const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  const __m256i nib = _mm256_set1_epi16(0x1001);
  const bool stream = nt && (reinterpret_cast<uintptr_t>(dq) & 15) == 0;
  for (int64_t i = 0; i < n; i += 32) {
    // Pull the next batch (kPrefetch floats ahead) in while this one computes.
    _mm_prefetch(reinterpret_cast<const char*>(x + i + kPrefetch), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(x + i + kPrefetch + 16), _MM_HINT_T0);
    __m256 d0, d1, d2, d3;
    const __m256i q0 = _mm256_add_epi32(intQ8<M>(x + i, vinv, vz, vlo, vhi, vs, &d0), voff);
    const __m256i q1 = _mm256_add_epi32(intQ8<M>(x + i + 8, vinv, vz, vlo, vhi, vs, &d1), voff);
    const __m256i q2 = _mm256_add_epi32(intQ8<M>(x + i + 16, vinv, vz, vlo, vhi, vs, &d2), voff);
    const __m256i q3 = _mm256_add_epi32(intQ8<M>(x + i + 24, vinv, vz, vlo, vhi, vs, &d3), voff);
    if (stream) {
      stream8(dq + i, d0);
      stream8(dq + i + 8, d1);
      stream8(dq + i + 16, d2);
      stream8(dq + i + 24, d3);
    } else {
      _mm256_storeu_ps(dq + i, d0);
      _mm256_storeu_ps(dq + i + 8, d1);
      _mm256_storeu_ps(dq + i + 16, d2);
      _mm256_storeu_ps(dq + i + 24, d3);
    }
    const __m256i b = _mm256_permutevar8x32_epi32(
        _mm256_packus_epi16(_mm256_packs_epi32(q0, q1), _mm256_packs_epi32(q2, q3)), perm);
    const __m256i w = _mm256_maddubs_epi16(b, nib);  // lo + 16 hi per byte pair
    const __m256i p = _mm256_permute4x64_epi64(_mm256_packus_epi16(w, w), 0x08);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i / 2), _mm256_castsi256_si128(p));
  }
}
#endif

template <int M>
struct IntPolicy;

#if BITSMITH_X86
template <int M>
BITSMITH_AVX2 bool intRowAvx2(const IntPolicy<M>& pol, const float* row, const Layout& L,
                              float* drow, int64_t gi0, StoredTensor& st, BitWriter& cw,
                              BitWriter* zw, bool nt);
#endif

template <int M>
struct IntPolicy {
  static constexpr bool kTrits = false;
  using Stats = MinMax;
  using Params = IntParams;

  int bits;
  ScaleType scale;
  bool clipOn;
  float lo, hi, half, qmax;
  int offset;

  bool avx2;
  HqqOptions hqq;

  IntPolicy(int b, ScaleType st, bool clip, const HqqOptions& h = HqqOptions())
      : bits(b), scale(st), clipOn(clip), avx2(cpuHasAvx2()), hqq(h) {
    qmax = float((1 << b) - 1);
    half = qmax / 2;
    if (M == kSym) {
      lo = -float(1 << (b - 1));
      hi = float((1 << (b - 1)) - 1);
      offset = 1 << (b - 1);
    } else {
      lo = 0;
      hi = qmax;
      offset = 0;
    }
  }

  int codeBits() const { return bits; }
  int zeroBits() const { return M == kAsymInt ? bits : 0; }
  bool clip() const { return clipOn; }

  void allocate(StoredTensor& st, const Layout& L) const {
    st.codes.resize(size_t(packedBytes(L.size(), bits)));
    st.scales.resize(size_t(L.groups * scaleBytes(scale)));
    if (M == kAsymInt)
      st.zeros.resize(size_t(packedBytes(L.groups, bits)));
    else if (M == kAsymFloat)
      st.zeros.resize(size_t(L.groups * 2));
    else
      st.zeros.clear();
  }

  Stats stats(const float* x, int64_t n, ThreadPool* pool, bool fast) const {
    return minmaxRange(x, n, pool, fast);
  }
  bool finite(const Stats& s) const { return s.finite; }

  Params fit(const Stats& st, float a) const {
    Params p;
    const float mn = st.mn + 0.0f, mx = st.mx + 0.0f;  // canonical zeros (+0)
    if (M == kSym) {
      const float amax = std::max(0.0f - mn, mx) * a;
      p.s = storeScale(amax / half, scale, &p.sb);
      p.inv = p.s > 0 ? 1.0f / p.s : 0.0f;
      return p;
    }
    const float lo = std::min(mn, 0.0f) * a, hi = std::max(mx, 0.0f) * a;
    p.s = storeScale((hi - lo) / qmax, scale, &p.sb);
    p.inv = p.s > 0 ? 1.0f / p.s : 0.0f;
    if (p.s > 0) {
      const float zr = (0.0f - lo) / p.s;
      if (M == kAsymInt) {
        const float z = std::min(std::max(std::nearbyint(zr), 0.0f), qmax);
        p.zcode = uint32_t(z);
        p.z = float(p.zcode);
      } else {
        p.zh = f16FromF32Sat(zr);
        p.z = f16ToF32(p.zh) + 0.0f;
      }
    }
    return p;
  }

  void store(const Params& p, int64_t gi, StoredTensor& st, BitWriter* zw) const {
    const int sb = scaleBytes(scale);
    putBytes(st.scales.data() + gi * sb, p.sb, sb);
    if (M == kAsymInt) {
      zw->push(p.zcode);
    } else if (M == kAsymFloat) {
      st.zeros[size_t(gi * 2)] = uint8_t(p.zh);
      st.zeros[size_t(gi * 2 + 1)] = uint8_t(p.zh >> 8);
    }
  }

  IntGrid grid(const Params& p) const { return IntGrid{lo, hi, p.s, p.inv, p.z, offset}; }

  Params refine(const Params& p, const float* x, int64_t n, bool fast) const {
    if (M == kSym || hqq.iters <= 0 || !(p.s > 0)) return p;
    Params r = p;
    r.z = hqqZero(x, n, HqqGrid{p.s, p.inv, qmax, M == kAsymInt}, p.z, hqq, !fast).z;
    if (M == kAsymInt)
      r.zcode = uint32_t(r.z);
    else
      r.zh = f16FromF32Sat(r.z);
    return r;
  }

  bool errMany(const Params* cand, int count, const float* x, int64_t n, double* err) const {
#if BITSMITH_X86
    if (!avx2 || count > kClipSteps) return false;
    IntGrid g[kClipSteps];
    for (int i = 0; i < count; ++i) g[i] = grid(cand[i]);
    intErrManyAvx2<M>(g, count, x, n, err);
    return true;
#else
    (void)cand, (void)count, (void)x, (void)n, (void)err;
    return false;
#endif
  }

  bool errWeighted(const Params& p, const float* x, const float* w, int64_t n, Lanes& lanes) const {
#if BITSMITH_X86
    if (!avx2) return false;
    intErrWeightedAvx2<M>(grid(p), x, w, n, lanes);
    return true;
#else
    (void)p, (void)x, (void)w, (void)n, (void)lanes;
    return false;
#endif
  }

  bool useFastRow() const { return avx2 && !clipOn && hqq.iters <= 0; }
  bool fastRow(const float* row, const Layout& L, float* drow, int64_t gi0, StoredTensor& st,
               BitWriter& cw, BitWriter* zw, bool nt) const {
#if BITSMITH_X86
    return intRowAvx2<M>(*this, row, L, drow, gi0, st, cw, zw, nt);
#else
    (void)row, (void)L, (void)drow, (void)gi0, (void)st, (void)cw, (void)zw, (void)nt;
    return true;
#endif
  }

  uint32_t quantOne(const Params& p, float w, float* dq) const {
    const int q = intQ<M>(w, p.inv, p.z, lo, hi);
    *dq = (float(q) - p.z) * p.s;
    return uint32_t(q + offset);
  }

  void quantSeg(const Params& p, const float* x, int64_t n, float* dq, uint8_t* codes,
                bool nt) const {
#if BITSMITH_X86
    if (avx2) {
      intQuantAvx2<M>(grid(p), x, n, dq, codes, nt);
      return;
    }
#endif
    (void)nt;
    for (int64_t i = 0; i < n; ++i) codes[i] = uint8_t(quantOne(p, x[i], dq + i));
  }

  void errSeg(const Params& p, const float* x, int64_t n, Lanes& lanes, bool fast) const {
#if BITSMITH_X86
    if (fast && avx2) {
      intErrAvx2<M>(grid(p), x, n, lanes);
      return;
    }
#endif
    (void)fast;
    for (int64_t i = 0; i < n; ++i) {
      float d;
      quantOne(p, x[i], &d);
      const float e = x[i] - d;
      lanes.l[i & Lanes::kMask] += double(e) * double(e);
    }
  }
};

#if BITSMITH_X86
// One row of groups, fused and batched: min/max of a batch of groups (streaming from
// memory), then their fits (independent scalar work the CPU overlaps), then quantize and
// pack from L1 (4-bit codes go straight into the stream when it is byte aligned).
template <int M>
BITSMITH_AVX2 bool intRowAvx2(const IntPolicy<M>& pol, const float* row, const Layout& L,
                              float* drow, int64_t gi0, StoredTensor& st, BitWriter& cw,
                              BitWriter* zw, bool nt) {
  constexpr int kBatch = 64;
  constexpr int64_t kBatchElems = kPrefetch;  // 32 KB of input per batch
  alignas(64) uint8_t tmp[kSeg];
  MinMax mm[kBatch];
  IntParams ps[kBatch];
  const int64_t G = L.groupsPerRow;
  int64_t per = std::max<int64_t>(1, std::min<int64_t>(kBatch, kBatchElems / L.group));
  for (int64_t j0 = 0; j0 < G; j0 += per) {
    const int64_t j1 = std::min(G, j0 + per);
    for (int64_t j = j0; j < j1; ++j) {
      const int64_t off = j * L.group;
      mm[j - j0] = groupMinMax(row + off, std::min(L.group, L.cols - off));
    }
    for (int64_t j = j0; j < j1; ++j) {
      if (!mm[j - j0].finite) return false;
      ps[j - j0] = pol.fit(mm[j - j0], 1.0f);
      pol.store(ps[j - j0], gi0 + j, st, zw);
    }
    for (int64_t j = j0; j < j1; ++j) {
      const int64_t off = j * L.group;
      const float* g = row + off;
      const int64_t n = std::min(L.group, L.cols - off);
      const IntGrid gr = pol.grid(ps[j - j0]);
      if (pol.bits == 4 && cw.pendingBits() == 0 && n % 32 == 0) {
        intQuantPack4Avx2<M>(gr, g, n, drow + off, cw.position(), nt);
        cw.skipBytes(n / 2);
        continue;
      }
      for (int64_t o = 0; o < n; o += kSeg) {
        const int64_t m = std::min(kSeg, n - o);
        for (int64_t pf = 0; pf < m; pf += 16)  // the next batch, as intQuantPack4Avx2 does
          _mm_prefetch(reinterpret_cast<const char*>(g + o + pf + kPrefetch), _MM_HINT_T0);
        intQuantAvx2<M>(gr, g + o, m, drow + off + o, tmp, nt);
        cw.pushMany(tmp, m);
      }
    }
  }
  return true;
}
#endif

}  // namespace

void quantizeIntFamily(const float* x, const Layout& L, const QuantConfig& c, const FormatSpec& f,
                       const Ctx& ctx, float* dq, StoredTensor& st) {
  const ScaleType scale = f.hasFixedScale ? f.fixedScale : c.scale;
  if (c.symmetric)
    runGrouped(IntPolicy<kSym>(f.bits, scale, c.clipMse), x, L, ctx, dq, st);
  else if (c.zero == ZeroType::Int)
    runGrouped(IntPolicy<kAsymInt>(f.bits, scale, c.clipMse, c.hqq), x, L, ctx, dq, st);
  else
    runGrouped(IntPolicy<kAsymFloat>(f.bits, scale, c.clipMse, c.hqq), x, L, ctx, dq, st);
}

void gptqIntFamily(const GptqPlan& plan, const QuantConfig& c, const FormatSpec& f, float* dq,
                   StoredTensor& st) {
  const ScaleType scale = f.hasFixedScale ? f.fixedScale : c.scale;
  if (c.symmetric)
    runGptq(IntPolicy<kSym>(f.bits, scale, c.clipMse), plan, dq, st);
  else if (c.zero == ZeroType::Int)
    runGptq(IntPolicy<kAsymInt>(f.bits, scale, c.clipMse), plan, dq, st);
  else
    runGptq(IntPolicy<kAsymFloat>(f.bits, scale, c.clipMse), plan, dq, st);
}

}  // namespace quant
}  // namespace bitsmith
