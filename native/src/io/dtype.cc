#include "io/dtype.h"

#include "common/cpu.h"

#if BITSMITH_X86
#include <immintrin.h>
#endif

namespace bitsmith {

namespace {
struct DtypeInfo {
  DType t;
  const char* name;
  int size;
};
const DtypeInfo kDtypes[] = {
    {DType::F64, "F64", 8},   {DType::F32, "F32", 4},         {DType::F16, "F16", 2},
    {DType::BF16, "BF16", 2}, {DType::F8_E4M3, "F8_E4M3", 1}, {DType::F8_E5M2, "F8_E5M2", 1},
    {DType::I64, "I64", 8},   {DType::I32, "I32", 4},         {DType::I16, "I16", 2},
    {DType::I8, "I8", 1},     {DType::U8, "U8", 1},           {DType::BOOL, "BOOL", 1},
    {DType::U16, "U16", 2},   {DType::U32, "U32", 4},         {DType::U64, "U64", 8},
};

// ---- portable loops (the spec; the AVX2 versions below must give the same bits) --------

bool bf16ToF32Scalar(const uint8_t* src, int64_t n, float* dst) {
  uint32_t bad = 0;
  for (int64_t i = 0; i < n; i++) {
    uint16_t h;
    std::memcpy(&h, src + 2 * i, 2);
    bad |= uint32_t((h & 0x7f80u) == 0x7f80u);
    dst[i] = conv::bf16ToF32(h);
  }
  return bad == 0;
}

bool f32CopyScalar(const uint8_t* src, int64_t n, float* dst) {
  std::memcpy(dst, src, size_t(n) * 4);
  uint32_t bad = 0;
  for (int64_t i = 0; i < n; i++) {
    uint32_t u;
    std::memcpy(&u, dst + i, 4);
    bad |= uint32_t((u & 0x7f800000u) == 0x7f800000u);
  }
  return bad == 0;
}

bool allFiniteScalar(const float* v, int64_t n) {
  uint32_t bad = 0;
  for (int64_t i = 0; i < n; i++) {
    uint32_t u;
    std::memcpy(&u, v + i, 4);
    bad |= uint32_t((u & 0x7f800000u) == 0x7f800000u);
  }
  return bad == 0;
}

void f32ToBf16Scalar(const float* src, int64_t n, uint8_t* dst) {
  for (int64_t i = 0; i < n; i++) {
    uint16_t h = conv::f32ToBf16(src[i]);
    std::memcpy(dst + 2 * i, &h, 2);
  }
}

#if BITSMITH_X86
BITSMITH_AVX2 bool bf16ToF32Avx2(const uint8_t* src, int64_t n, float* dst) {
  const __m256i exp = _mm256_set1_epi32(0x7f800000);
  __m256i bad = _mm256_setzero_si256();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 2 * i));
    __m256i w = _mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), w);
    bad = _mm256_or_si256(bad, _mm256_cmpeq_epi32(_mm256_and_si256(w, exp), exp));
  }
  const bool ok = _mm256_testz_si256(bad, bad) != 0;
  return bf16ToF32Scalar(src + 2 * i, n - i, dst + i) && ok;
}

BITSMITH_AVX2 bool f32CopyAvx2(const uint8_t* src, int64_t n, float* dst) {
  const __m256i exp = _mm256_set1_epi32(0x7f800000);
  __m256i bad = _mm256_setzero_si256();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + 4 * i));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), w);
    bad = _mm256_or_si256(bad, _mm256_cmpeq_epi32(_mm256_and_si256(w, exp), exp));
  }
  const bool ok = _mm256_testz_si256(bad, bad) != 0;
  return f32CopyScalar(src + 4 * i, n - i, dst + i) && ok;
}

BITSMITH_AVX2 bool allFiniteAvx2(const float* v, int64_t n) {
  const __m256i exp = _mm256_set1_epi32(0x7f800000);
  __m256i bad = _mm256_setzero_si256();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(v + i));
    bad = _mm256_or_si256(bad, _mm256_cmpeq_epi32(_mm256_and_si256(w, exp), exp));
  }
  const bool ok = _mm256_testz_si256(bad, bad) != 0;
  return allFiniteScalar(v + i, n - i) && ok;
}

// Round to nearest even; NaN -> quiet NaN (as conv::f32ToBf16).
BITSMITH_AVX2 void f32ToBf16Avx2(const float* src, int64_t n, uint8_t* dst) {
  const __m256i one = _mm256_set1_epi32(1), bias = _mm256_set1_epi32(0x7fff);
  const __m256i absMask = _mm256_set1_epi32(0x7fffffff), inf = _mm256_set1_epi32(0x7f800000);
  const __m256i quiet = _mm256_set1_epi32(0x40);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256i u = _mm256_castps_si256(_mm256_loadu_ps(src + i));
    __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), one);
    __m256i r = _mm256_srli_epi32(_mm256_add_epi32(u, _mm256_add_epi32(bias, lsb)), 16);
    __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, absMask), inf);
    __m256i qn = _mm256_or_si256(_mm256_srli_epi32(u, 16), quiet);
    r = _mm256_blendv_epi8(r, qn, nan);
    __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(r, r), 0xD8);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 2 * i), _mm256_castsi256_si128(packed));
  }
  f32ToBf16Scalar(src + i, n - i, dst + 2 * i);
}
#endif

}  // namespace

int dtypeSize(DType t) {
  for (const auto& d : kDtypes)
    if (d.t == t) return d.size;
  return 0;
}

const char* dtypeName(DType t) {
  for (const auto& d : kDtypes)
    if (d.t == t) return d.name;
  return "GGML";
}

bool parseDtype(const std::string& name, DType& out) {
  for (const auto& d : kDtypes)
    if (name == d.name) {
      out = d.t;
      return true;
    }
  return false;
}

bool toF32(DType t, const uint8_t* src, int64_t n, float* dst) {
  switch (t) {
    case DType::F32:
#if BITSMITH_X86
      if (cpuHasAvx2()) return f32CopyAvx2(src, n, dst);
#endif
      return f32CopyScalar(src, n, dst);
    case DType::BF16:
#if BITSMITH_X86
      if (cpuHasAvx2()) return bf16ToF32Avx2(src, n, dst);
#endif
      return bf16ToF32Scalar(src, n, dst);
    case DType::F16: {
      uint32_t bad = 0;
      for (int64_t i = 0; i < n; i++) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        bad |= uint32_t((h & 0x7c00u) == 0x7c00u);
        dst[i] = conv::f16ToF32(h);
      }
      return bad == 0;
    }
    case DType::F64: {
      bool ok = true;
      for (int64_t i = 0; i < n; i++) {
        double d;
        std::memcpy(&d, src + 8 * i, 8);
        dst[i] = float(d);
        ok &= std::isfinite(dst[i]);
      }
      return ok;
    }
    default:
      return false;  // callers check isReadableFloat first
  }
}

bool allFinite(const float* v, int64_t n) {
#if BITSMITH_X86
  if (cpuHasAvx2()) return allFiniteAvx2(v, n);
#endif
  return allFiniteScalar(v, n);
}

void fromF32(DType t, const float* src, int64_t n, uint8_t* dst) {
  switch (t) {
    case DType::F32:
      std::memcpy(dst, src, size_t(n) * 4);
      break;
    case DType::BF16:
#if BITSMITH_X86
      if (cpuHasAvx2()) {
        f32ToBf16Avx2(src, n, dst);
        break;
      }
#endif
      f32ToBf16Scalar(src, n, dst);
      break;
    case DType::F16:
      for (int64_t i = 0; i < n; i++) {
        uint16_t h = conv::f32ToF16(src[i]);
        std::memcpy(dst + 2 * i, &h, 2);
      }
      break;
    case DType::F64:
      for (int64_t i = 0; i < n; i++) {
        double d = src[i];
        std::memcpy(dst + 8 * i, &d, 8);
      }
      break;
    default:
      break;
  }
}

}  // namespace bitsmith
