// Shared internals of the quantizers: the format table (mirror of
// core/src/language/formats.ts), the resolved group layout, and the family entry points.
#pragma once
#include <atomic>
#include <cstdint>
#include <string>

#include "common/bitpack.h"
#include "common/reduce.h"
#include "quant/quantize.h"
#include "quant/stored.h"
#include "threads/pool.h"

namespace bitsmith {
namespace quant {

enum class Family { Int, Float, Micro, Sign, Ggml };

struct FormatSpec {
  const char* name;
  Family family;
  int bits;        // bits per code (ternary: 0, codes are trits)
  int fixedGroup;  // 0: from the config
  bool hasFixedScale;
  ScaleType fixedScale;
  int perTensorBytes;            // nvfp4: 4
  int blockWeights, blockBytes;  // ggml
};

const FormatSpec* findFormat(const std::string& name);

struct Layout {
  int64_t rows = 0, cols = 0;
  bool tensor = false;       // one group over the whole (flattened) tensor
  int64_t group = 0;         // elements per group along a row (tensor: rows*cols)
  int64_t groupsPerRow = 0;  // ceil(cols / group); tensor: 0 (not row-based)
  int64_t groups = 0;        // total groups
  int64_t size() const { return rows * cols; }
};
Layout makeLayout(int64_t rows, int64_t cols, const QuantConfig& c, const FormatSpec& f);

struct Ctx {
  ThreadPool* pool = nullptr;              // null: serial
  bool reference = false;                  // scalar spec loops, one group at a time
  bool ntStores = false;                   // fast path may write dequant with non-temporal stores
  std::atomic<bool>* nonFinite = nullptr;  // fast paths set it on NaN/Inf input and stop
  // Per-column search weights in the basis being quantized (QuantConfig::importance, or
  // its rotated form): null for the plain squared error.
  const float* importance = nullptr;
};

// Base quantizers (no outliers, low rank or rotation): write dq[rows*cols] and the codes,
// scales, zeros and extra of `st`.
void quantizeIntFamily(const float* x, const Layout& L, const QuantConfig& c, const FormatSpec& f,
                       const Ctx& ctx, float* dq, StoredTensor& st);
void quantizeFloatFamily(const float* x, const Layout& L, const QuantConfig& c, const FormatSpec& f,
                         const Ctx& ctx, float* dq, StoredTensor& st);
void quantizeMicroFamily(const float* x, const Layout& L, const QuantConfig& c, const FormatSpec& f,
                         const Ctx& ctx, float* dq, StoredTensor& st);
void quantizeSignFamily(const float* x, const Layout& L, const QuantConfig& c, const FormatSpec& f,
                        const Ctx& ctx, float* dq, StoredTensor& st);
void quantizeBase(const float* x, const Layout& L, const QuantConfig& c, const FormatSpec& f,
                  const Ctx& ctx, float* dq, StoredTensor& st);

// Outliers (outliers.cc): base quantization with the k largest-error weights kept exactly.
// `x` may be modified (its outliers zeroed in place) when `xScratch` is true.
int64_t quantizeWithOutliers(const float* x, bool xScratch, const Layout& L, const QuantConfig& c,
                             const FormatSpec& f, const Ctx& ctx, float* dq, StoredTensor& st);

// Rotation (rotate.cc): T = H D / sqrt(P) applied to each block of P columns of each row,
// P = the largest power of two dividing cols, D = seeded random signs (one per column).
struct Rotation {
  int64_t cols = 0, block = 1;
  std::vector<float> signs;  // +-1 per column
  float norm = 1;            // 1 / sqrt(block)
};
Rotation makeRotation(int64_t cols, uint64_t seed);
// `scalar`: the reference path's plain loops (else AVX2 when available; same bits).
void rotateRows(const Rotation& R, const float* in, float* out, int64_t rows, ThreadPool* pool,
                bool inverse, bool scalar);

// Low rank (lowrank.cc): rank-r approximation of R [m, n] by a seeded randomized SVD; writes
// the f16 factors (U [m, r] then V [r, n]) to `factors` and their product to L.
void lowrankFit(const float* R, int64_t m, int64_t n, int r, uint64_t seed, ThreadPool* pool,
                bool scalar, Bytes& factors, float* L);

// Clip search grid: shrink factors 1, 0.975, ..., 0.525 (20 steps over (0.5, 1]).
constexpr int kClipSteps = 20;
inline float clipShrink(int i) {
  return float(1.0 - 0.025 * i);
}

// Elements per piece the fast kernels stage codes for (a multiple of 64).
constexpr int64_t kSeg = 4096;

// Rows per block so that a block's codes (and per-group int zeros) start on a byte boundary.
int64_t rowAlignment(const Layout& L, int codeBits, bool trits, int zeroBits);

[[noreturn]] void throwNonFinite(const float* w, int64_t rows, int64_t cols);

// The seeded generator behind rotate's signs and lowrank's sketch (SplitMix64):
// cheap, and the same sequence on every platform for a given seed.
inline uint64_t splitmix64(uint64_t& s) {
  uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace quant
}  // namespace bitsmith
