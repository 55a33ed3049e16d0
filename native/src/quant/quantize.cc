// quantizeTensor: validation, format dispatch and the pipeline around the base grids:
//   X = rotate ? T(W) : W                       (rotate.cc)
//   Q = grid(X), with outliers kept exactly     (int.cc, float.cc, sign.cc, ggml/, outliers.cc)
//   W' = T^-1(Q)                                (error measured in the original basis)
//   lowrank r: L = SVD_r(W - W'); with lowrankIters t > 1 (LQ-LoRA) t - 1 more rounds of
//   W' = T^-1 grid(T(W - L)), L = SVD_r(W - W'); the result is W' + L.   (lowrank.cc)
// Outliers live in the basis the codes are stored in (the rotated one under rotate).
// The reference path runs every stage serially with the scalar loops; the fast path runs
// them on the pool with the vectorised kernels and must produce the same bytes.
#include "quant/quantize.h"

#include <cmath>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/fp.h"
#include "quant/ggml/family.h"
#include "quant/hqq.h"
#include "quant/importance.h"
#include "quant/internal.h"
#include "quant/scale.h"
#include "quant/stored.h"
#include "threads/pool.h"

namespace bitsmith {
namespace quant {

namespace {
constexpr ScaleType kF16 = ScaleType::F16;
// Mirror of core/src/language/formats.ts (name, family, bits, fixedGroup, fixedScale,
// perTensorBits / 8, ggml block).
const FormatSpec kFormats[] = {
    {"int2", Family::Int, 2, 0, false, kF16, 0, 0, 0},
    {"int3", Family::Int, 3, 0, false, kF16, 0, 0, 0},
    {"int4", Family::Int, 4, 0, false, kF16, 0, 0, 0},
    {"int5", Family::Int, 5, 0, false, kF16, 0, 0, 0},
    {"int6", Family::Int, 6, 0, false, kF16, 0, 0, 0},
    {"int7", Family::Int, 7, 0, false, kF16, 0, 0, 0},
    {"int8", Family::Int, 8, 0, false, kF16, 0, 0, 0},
    {"nf4", Family::Float, 4, 0, false, kF16, 0, 0, 0},
    {"fp4", Family::Float, 4, 0, false, kF16, 0, 0, 0},
    {"fp8_e4m3", Family::Float, 8, 0, false, kF16, 0, 0, 0},
    {"fp8_e5m2", Family::Float, 8, 0, false, kF16, 0, 0, 0},
    {"mxfp4", Family::Micro, 4, 32, true, ScaleType::E8M0, 0, 0, 0},
    {"mxfp8", Family::Micro, 8, 32, true, ScaleType::E8M0, 0, 0, 0},
    {"nvfp4", Family::Micro, 4, 16, true, ScaleType::E4M3, 4, 0, 0},
    {"binary", Family::Sign, 1, 0, false, kF16, 0, 0, 0},
    {"ternary", Family::Sign, 0, 0, false, kF16, 0, 0, 0},
    {"q4_0", Family::Ggml, 0, 0, false, kF16, 0, 32, 18},
    {"q4_1", Family::Ggml, 0, 0, false, kF16, 0, 32, 20},
    {"q5_0", Family::Ggml, 0, 0, false, kF16, 0, 32, 22},
    {"q5_1", Family::Ggml, 0, 0, false, kF16, 0, 32, 24},
    {"q8_0", Family::Ggml, 0, 0, false, kF16, 0, 32, 34},
    {"q2_k", Family::Ggml, 0, 0, false, kF16, 0, 256, 84},
    {"q3_k", Family::Ggml, 0, 0, false, kF16, 0, 256, 110},
    {"q4_k", Family::Ggml, 0, 0, false, kF16, 0, 256, 144},
    {"q5_k", Family::Ggml, 0, 0, false, kF16, 0, 256, 176},
    {"q6_k", Family::Ggml, 0, 0, false, kF16, 0, 256, 210},
    {"iq4_nl", Family::Ggml, 0, 0, false, kF16, 0, 32, 18},
    {"iq4_xs", Family::Ggml, 0, 0, false, kF16, 0, 256, 136},
    {"iq2_xxs", Family::Ggml, 0, 0, false, kF16, 0, 256, 66},
    {"iq2_xs", Family::Ggml, 0, 0, false, kF16, 0, 256, 74},
    {"iq2_s", Family::Ggml, 0, 0, false, kF16, 0, 256, 82},
    {"iq3_xxs", Family::Ggml, 0, 0, false, kF16, 0, 256, 98},
    {"iq3_s", Family::Ggml, 0, 0, false, kF16, 0, 256, 110},
    {"iq1_s", Family::Ggml, 0, 0, false, kF16, 0, 256, 50},
    {"iq1_m", Family::Ggml, 0, 0, false, kF16, 0, 256, 56},
    {"tq1_0", Family::Ggml, 0, 0, false, kF16, 0, 256, 54},
    {"tq2_0", Family::Ggml, 0, 0, false, kF16, 0, 256, 66},
};

int scaleBits(ScaleType t) {
  return 8 * scaleBytes(t);
}

void checkConfig(int64_t rows, int64_t cols, const QuantConfig& c, const FormatSpec& f) {
  if (rows < 1 || cols < 1)
    throw std::invalid_argument("tensor shape must be at least 1 x 1, got " + std::to_string(rows) +
                                " x " + std::to_string(cols));
  if (f.family == Family::Ggml && cols % f.blockWeights != 0)
    throw std::invalid_argument("format " + std::string(f.name) + " stores rows in blocks of " +
                                std::to_string(f.blockWeights) + " weights: a row of " +
                                std::to_string(cols) + " is not a multiple of " +
                                std::to_string(f.blockWeights));
  if (!f.fixedGroup && c.groupKind == GroupKind::Size && c.group < 1)
    throw std::invalid_argument("group size must be >= 1, got " + std::to_string(c.group));
  if (c.outliers < 0)
    throw std::invalid_argument("outliers must be >= 0, got " + std::to_string(c.outliers));
  if (c.outliers > rows * cols)
    throw std::invalid_argument("outliers: " + std::to_string(c.outliers) +
                                " is more than the tensor's " + std::to_string(rows * cols) +
                                " weights");
  if (c.outliers > 0 && rows * cols > int64_t(UINT32_MAX) + 1)
    throw std::invalid_argument(
        "outliers need u32 flat indices: the tensor has more than 2^32 weights");
  if (c.lowrank < 0)
    throw std::invalid_argument("lowrank must be >= 0, got " + std::to_string(c.lowrank));
  if (c.lowrankIters < 1)
    throw std::invalid_argument("lowrankIters must be >= 1, got " + std::to_string(c.lowrankIters));
  if (c.hqq.iters > 0) {
    checkHqqOptions(c.hqq);
    if (f.family != Family::Int)
      throw std::invalid_argument(
          "method hqq optimises the zero point of the int2..int8 grids, not " +
          std::string(f.name));
    if (c.symmetric)
      throw std::invalid_argument(
          "method hqq optimises the zero point, which a symmetric grid does not have: use "
          "symmetric false");
  }
}

// Uninitialised float scratch (the pipeline overwrites every element before reading).
struct FloatBuffer {
  explicit FloatBuffer(int64_t n) : p(n > 0 ? new float[size_t(n)] : nullptr) {}
  float* data() { return p.get(); }
  float& operator[](size_t i) { return p[i]; }
  std::unique_ptr<float[]> p;
};

void scanFinite(const float* w, int64_t rows, int64_t cols, ThreadPool* pool) {
  std::atomic<bool> bad{false};
  parallelFor(
      pool, rows * cols,
      [&](int64_t b, int64_t e) {
        uint32_t nonFinite = 0;  // integer test of the exponent field: vectorises
        for (int64_t i = b; i < e; ++i)
          nonFinite |= uint32_t((f32Bits(w[i]) & 0x7f800000u) == 0x7f800000u);
        if (nonFinite) bad.store(true);
      },
      1 << 16);
  if (bad.load()) throwNonFinite(w, rows, cols);
}
}  // namespace

const FormatSpec* findFormat(const std::string& name) {
  for (const FormatSpec& f : kFormats)
    if (name == f.name) return &f;
  return nullptr;
}

Layout makeLayout(int64_t rows, int64_t cols, const QuantConfig& c, const FormatSpec& f) {
  Layout L;
  L.rows = rows;
  L.cols = cols;
  if (f.fixedGroup) {
    L.group = f.fixedGroup;
  } else if (c.groupKind == GroupKind::Tensor) {
    L.tensor = true;
    L.group = rows * cols;
    L.groups = 1;
    return L;
  } else if (c.groupKind == GroupKind::Channel) {
    L.group = cols;
  } else {
    L.group = c.group;
  }
  L.groupsPerRow = (cols + L.group - 1) / L.group;
  L.groups = rows * L.groupsPerRow;
  return L;
}

int64_t rowAlignment(const Layout& L, int codeBits, bool trits, int zeroBits) {
  for (int64_t k = 1; k <= 40; ++k) {
    const bool codesOk = trits ? (k * L.cols) % 5 == 0 : (k * L.cols * codeBits) % 8 == 0;
    const bool zerosOk = zeroBits == 0 || (k * L.groupsPerRow * zeroBits) % 8 == 0;
    if (codesOk && zerosOk) return k;
  }
  return 40;  // unreachable: k = 40 satisfies both
}

void throwNonFinite(const float* w, int64_t rows, int64_t cols) {
  for (int64_t i = 0; i < rows * cols; ++i) {
    if (!std::isfinite(w[i])) {
      const char* what = std::isnan(w[i]) ? "NaN" : (w[i] > 0 ? "+Infinity" : "-Infinity");
      throw std::invalid_argument("non-finite weight: element [" + std::to_string(i / cols) + ", " +
                                  std::to_string(i % cols) + "] (flat index " + std::to_string(i) +
                                  ") is " + what + "; quantization needs finite weights");
    }
  }
  throw std::invalid_argument("non-finite weight in the input");
}

void quantizeBase(const float* x, const Layout& L, const QuantConfig& c, const FormatSpec& f,
                  const Ctx& ctx, float* dq, StoredTensor& st) {
  switch (f.family) {
    case Family::Int:
      quantizeIntFamily(x, L, c, f, ctx, dq, st);
      return;
    case Family::Float:
      quantizeFloatFamily(x, L, c, f, ctx, dq, st);
      return;
    case Family::Micro:
      quantizeMicroFamily(x, L, c, f, ctx, dq, st);
      return;
    case Family::Sign:
      quantizeSignFamily(x, L, c, f, ctx, dq, st);
      return;
    case Family::Ggml:
      quantizeGgmlFamily(x, L, f, ctx, dq, st);
      return;
  }
  throw std::invalid_argument("format " + std::string(f.name) + " is not executed yet");
}

}  // namespace quant

bool isKnownFormat(const std::string& name) {
  return quant::findFormat(name) != nullptr;
}
bool isExecutableFormat(const std::string& name) {
  const quant::FormatSpec* f = quant::findFormat(name);
  return f != nullptr;
}

QuantBytes expectedBytes(int64_t rows, int64_t cols, const QuantConfig& c) {
  using namespace quant;
  const FormatSpec* f = findFormat(c.format);
  if (!f) throw std::invalid_argument("unknown format '" + c.format + "'");
  QuantBytes b;
  const int64_t m = rows, n = cols;
  if (f->family == Family::Ggml) {
    b.codes = m * ((n + f->blockWeights - 1) / f->blockWeights) * f->blockBytes;
  } else {
    b.codes = f->bits == 0 ? (m * n + 4) / 5 : (m * n * f->bits + 7) / 8;
    int64_t groups;
    if (f->fixedGroup)
      groups = m * ((n + f->fixedGroup - 1) / f->fixedGroup);
    else if (c.groupKind == GroupKind::Tensor)
      groups = 1;
    else {
      const int64_t g = c.groupKind == GroupKind::Channel ? n : c.group;
      groups = m * ((n + g - 1) / g);
    }
    const ScaleType st = f->hasFixedScale ? f->fixedScale : c.scale;
    b.scales = (groups * scaleBits(st) + 7) / 8;
    if (f->family == Family::Int && !c.symmetric)
      b.zeros = c.zero == ZeroType::Int ? (groups * f->bits + 7) / 8 : groups * 2;
    b.extra = f->perTensorBytes;
  }
  b.outliers = c.outliers * 6;
  b.lowrank = c.lowrank > 0 ? 2 * int64_t(c.lowrank) * (m + n) : 0;
  return b;
}

int64_t quantizeTensorInto(const float* w, int64_t rows, int64_t cols, const QuantConfig& c,
                           ThreadPool& pool, bool reference, float* dequant, StoredTensor& stored) {
  using namespace quant;
  const FormatSpec* f = findFormat(c.format);
  if (!f) throw std::invalid_argument("unknown format '" + c.format + "'");
  checkConfig(rows, cols, c, *f);
  const Layout L = makeLayout(rows, cols, c, *f);
  const int64_t N = rows * cols;
  ThreadPool* tp = reference ? nullptr : &pool;
  // Emptied but not freed: a caller that reuses `stored` across tensors keeps its pages
  // (fresh pages cost a page fault each, as much time as packing the codes).
  for (Bytes* b : {&stored.codes, &stored.scales, &stored.zeros, &stored.outliers, &stored.lowrank,
                   &stored.extra})
    b->clear();

  std::atomic<bool> nonFinite{false};
  Ctx ctx;
  ctx.pool = tp;
  ctx.reference = reference;
  ctx.nonFinite = &nonFinite;
  // Importance lives in the basis the grid quantizes: under rotate, its rotated diagonal.
  std::vector<float> rotatedImp;
  if (c.importance) {
    checkImportance(c.importance, cols);
    if (c.rotate)
      rotatedImp = rotatedImportance(c.importance, cols, makeRotation(cols, c.seed).block);
    ctx.importance = c.rotate ? rotatedImp.data() : c.importance;
  }

  const bool simple = !c.rotate && c.outliers == 0 && c.lowrank == 0;
  if (reference || !simple) scanFinite(w, rows, cols, tp);

  int64_t count = 0;
  if (simple) {
    ctx.ntStores = !reference && N * int64_t(sizeof(float)) >= (int64_t(32) << 20);
    quantizeBase(w, L, c, *f, ctx, dequant, stored);
    if (nonFinite.load()) throwNonFinite(w, rows, cols);
  } else {
    Rotation rot;
    if (c.rotate) rot = makeRotation(cols, c.seed);
    FloatBuffer xr(c.rotate ? N : 0);
    // Q of `src` (original basis) into `out` (original basis). Under rotation the grid
    // works on our own rotated copy (which the outlier pass may then modify in place) and
    // writes `out`, which is rotated back in place.
    auto quantQ = [&](const float* src, float* out) {
      if (c.rotate) rotateRows(rot, src, xr.data(), rows, tp, false, reference);
      const int64_t k = c.rotate ? quantizeWithOutliers(xr.data(), true, L, c, *f, ctx, out, stored)
                                 : quantizeWithOutliers(src, false, L, c, *f, ctx, out, stored);
      if (nonFinite.load()) throwNonFinite(w, rows, cols);
      if (c.rotate) rotateRows(rot, out, out, rows, tp, true, reference);
      return k;
    };
    if (c.lowrank == 0) {
      count = quantQ(w, dequant);
    } else {
      FloatBuffer R(N), Lr(N);
      count = quantQ(w, dequant);
      const uint64_t lrSeed = c.seed * 0x9e3779b97f4a7c15ULL + 0x632be59bd9b4e019ULL;
      for (int it = 0; it < c.lowrankIters; ++it) {
        parallelFor(
            tp, N,
            [&](int64_t b, int64_t e) {
              for (int64_t i = b; i < e; ++i) R[size_t(i)] = w[i] - dequant[i];
            },
            1 << 16);
        lowrankFit(R.data(), rows, cols, c.lowrank, lrSeed, tp, reference, stored.lowrank,
                   Lr.data());
        if (it + 1 < c.lowrankIters) {
          parallelFor(
              tp, N,
              [&](int64_t b, int64_t e) {
                for (int64_t i = b; i < e; ++i) R[size_t(i)] = w[i] - Lr[size_t(i)];
              },
              1 << 16);
          count = quantQ(R.data(), dequant);
        }
      }
      parallelFor(
          tp, N,
          [&](int64_t b, int64_t e) {
            for (int64_t i = b; i < e; ++i) dequant[i] += Lr[size_t(i)];
          },
          1 << 16);
    }
  }

  const QuantBytes got = stored.bytes(), want = expectedBytes(rows, cols, c);
  if (got.codes != want.codes || got.scales != want.scales || got.zeros != want.zeros ||
      got.outliers != want.outliers || got.lowrank != want.lowrank || got.extra != want.extra)
    throw std::logic_error("internal error: stored form of " + c.format + " is " +
                           std::to_string(got.total()) + " bytes, the layout says " +
                           std::to_string(want.total()));
  return count;
}

QuantOutput quantizeTensor(const float* w, int64_t rows, int64_t cols, const QuantConfig& config,
                           ThreadPool& pool, bool reference) {
  QuantOutput out;
  if (rows > 0 && cols > 0) out.dequant.resize(size_t(rows * cols));
  StoredTensor stored;
  out.outlierCount =
      quantizeTensorInto(w, rows, cols, config, pool, reference, out.dequant.data(), stored);
  out.bytes = stored.bytes();
  return out;
}

}  // namespace bitsmith
