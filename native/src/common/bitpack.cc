#include "common/bitpack.h"

#include <cstring>

#include "common/cpu.h"

#if BITSMITH_X86
#include <immintrin.h>
#endif

namespace bitsmith {

namespace {
#if BITSMITH_X86
// 32 4-bit codes (one per byte, < 16) -> 16 bytes, low nibble first.
BITSMITH_AVX2 int64_t packNibblesAvx2(const uint8_t* c, int64_t n, uint8_t* out) {
  const __m256i mul = _mm256_set1_epi16(0x1001);  // bytes {1, 16}: lo + 16 * hi
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c + i));
    const __m256i w = _mm256_maddubs_epi16(v, mul);
    const __m256i p = _mm256_packus_epi16(w, w);
    const __m256i q = _mm256_permute4x64_epi64(p, 0x08);  // qwords 0 and 2
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i / 2), _mm256_castsi256_si128(q));
  }
  return i;
}

// 8 b-bit codes (one per byte) -> b bytes with one PEXT: the low b bits of each byte.
// Returns the number of codes consumed (a multiple of 8); advances out.
BITSMITH_BMI2 int64_t packPextImpl(const uint8_t* c, int64_t n, int b, uint8_t*& out) {
  const uint64_t mask = 0x0101010101010101ULL * ((1ULL << b) - 1);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t x;
    std::memcpy(&x, c + i, 8);
    const uint64_t v = _pext_u64(x, mask);
    switch (b) {  // fixed-size copies
      case 1:
        std::memcpy(out, &v, 1);
        break;
      case 2:
        std::memcpy(out, &v, 2);
        break;
      case 3:
        std::memcpy(out, &v, 3);
        break;
      case 5:
        std::memcpy(out, &v, 5);
        break;
      case 6:
        std::memcpy(out, &v, 6);
        break;
      case 7:
        std::memcpy(out, &v, 7);
        break;
      default:
        for (int k = 0; k < b; ++k) out[k] = uint8_t(v >> (8 * k));
    }
    out += b;
  }
  return i;
}
#endif
}  // namespace

#if BITSMITH_X86
int64_t BitWriter::packPext(const uint8_t* c, int64_t n, int b, uint8_t*& out) {
  return packPextImpl(c, n, b, out);
}
#endif

void BitWriter::pushMany(const uint8_t* c, int64_t n) {
  int64_t i = 0;
  while (i < n && nacc_ != 0) push(c[i++]);  // at most 7 codes re-align the stream
  if (nacc_ == 0 && i < n) {
    if (bits_ == 8) {
      std::memcpy(out_, c + i, size_t(n - i));
      out_ += n - i;
      i = n;
    } else if (bits_ == 4) {
#if BITSMITH_X86
      if (cpuHasAvx2()) {
        const int64_t done = packNibblesAvx2(c + i, n - i, out_);
        out_ += done / 2;
        i += done;
      }
#endif
      for (; i + 2 <= n; i += 2) *out_++ = uint8_t(c[i] | (c[i + 1] << 4));
    } else {
      const int b = bits_;
#if BITSMITH_X86
      if (cpuHasBmi2()) i += packPext(c + i, n - i, b, out_);
#endif
      for (; i + 8 <= n; i += 8) {
        uint64_t v = 0;
        for (int k = 0; k < 8; ++k) v |= uint64_t(c[i + k]) << (k * b);
        for (int k = 0; k < b; ++k) out_[k] = uint8_t(v >> (8 * k));
        out_ += b;
      }
    }
  }
  while (i < n) push(c[i++]);
}

uint32_t readCode(const uint8_t* stream, int64_t index, int bits) {
  const int64_t bit = index * bits;
  const int64_t byte = bit / 8;
  const int off = int(bit % 8);
  uint32_t v = stream[byte];
  if (off + bits > 8) v |= uint32_t(stream[byte + 1]) << 8;
  return (v >> off) & ((1u << bits) - 1u);
}

uint32_t readTrit(const uint8_t* stream, int64_t index) {
  static const uint32_t pow3[5] = {1, 3, 9, 27, 81};
  return (stream[index / 5] / pow3[index % 5]) % 3;
}

}  // namespace bitsmith
