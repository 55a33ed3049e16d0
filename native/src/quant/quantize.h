// The contract between the runner and the quantizers. A tensor is a row-major f32
// matrix [rows, cols]; groups run along cols (the input dimension). The quantizer
// produces the stored form's exact byte counts (the layout is defined in
// core/src/analysis/bits.ts and docs/recipe-language.md, and must match it byte for byte)
// and the reconstruction from that stored form, from which the error metrics are taken.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace bitsmith {

class ThreadPool;

enum class GroupKind { Size, Channel, Tensor };
enum class ScaleType { F16, BF16, F32, E8M0, E4M3 };
enum class ZeroType { F16, Int };

// method hqq (quant/hqq.h): the zero point of each group of an asymmetric int grid is
// optimised by half-quadratic splitting; iters 0 is plain RTN.
struct HqqOptions {
  int iters = 0;        // zero-point updates (the method's default: 20)
  float lpNorm = 0.7f;  // p of the sparsity-promoting |e|^p loss, in [0.05, 1]
  float beta = 10.0f;   // initial penalty weight, multiplied by kappa after each update
  float kappa = 1.01f;
};

struct QuantConfig {
  std::string format;   // "int4", "nf4", "fp8_e4m3", "mxfp4", "nvfp4", "binary", "ternary", ...
  int64_t group = 128;  // resolved group size in elements (cols for channel; rows*cols for tensor)
  GroupKind groupKind = GroupKind::Size;
  bool symmetric = true;
  ScaleType scale = ScaleType::F16;
  ZeroType zero = ZeroType::F16;
  bool clipMse = false;  // search the scale shrink minimising squared error
  int64_t outliers = 0;  // number of weights kept exactly (sparse f16 value + u32 index)
  int lowrank = 0;       // rank of the f16 correction U V^T of the residual
  int lowrankIters = 1;  // >1: alternate re-quantization and SVD (LQ-LoRA)
  bool rotate = false;   // seeded random-sign Hadamard along cols before quantizing
  uint64_t seed = 0;
  // Per-input-channel search weights d_j (cols entries, finite, >= 0; null: unweighted), in
  // the original basis: calibration's diagonal of X^T X (an imatrix, or the forward-pass
  // Hessian's diagonal). The searches then minimise sum_j d_j (w - w')^2: the clip mse
  // shrink, the ggml encoders' scales, and outliers' choice (quant/importance.cc). Not owned.
  const float* importance = nullptr;
  HqqOptions hqq;  // method hqq (int2..int8, asymmetric)
};

struct QuantBytes {
  int64_t codes = 0, scales = 0, zeros = 0, outliers = 0, lowrank = 0, extra = 0;
  int64_t total() const { return codes + scales + zeros + outliers + lowrank + extra; }
};

struct QuantOutput {
  std::vector<float> dequant;  // [rows, cols], in the original basis
  QuantBytes bytes;            // of the stored form actually produced
  int64_t outlierCount = 0;
};

// Quantizes w[rows*cols]. `reference` selects the scalar reference path (the spec);
// the default is the fast path, which tests compare against the reference.
// Throws std::invalid_argument naming the problem for configs it cannot execute.
QuantOutput quantizeTensor(const float* w, int64_t rows, int64_t cols, const QuantConfig& config,
                           ThreadPool& pool, bool reference = false);

}  // namespace bitsmith
