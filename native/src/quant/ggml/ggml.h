// ggml block formats (q8_0 ... iq4_xs, the i-quants iq1_s ... iq3_s, tq1_0 / tq2_0): encoders and
// decoders of the exact public block layouts (blocks.h), for the runner, the GGUF writer and the
// allocator.
//
// A row of `cols` weights is cols / blockWeights blocks back to back; rows are back to back.
// The decoders are the spec. Every encoder has a scalar reference path (serial, one block
// at a time) and a fast path (AVX2 where it pays, threaded over rows) that writes the same
// bytes. Encoders search the scales by weighted least squares over a grid of candidate
// scales, then round every weight to the level nearest to it under the stored (f16 and
// sub-block-quantized) scales; see encode.cc.
#pragma once
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace bitsmith {

class ThreadPool;

enum class GgmlType {
  Q4_0,
  Q4_1,
  Q5_0,
  Q5_1,
  Q8_0,
  Q2_K,
  Q3_K,
  Q4_K,
  Q5_K,
  Q6_K,
  IQ4_NL,
  IQ4_XS,
  IQ2_XXS,
  IQ2_XS,
  IQ2_S,
  IQ3_XXS,
  IQ3_S,
  IQ1_S,
  IQ1_M,
  TQ1_0,
  TQ2_0
};

struct GgmlTypeInfo {
  GgmlType type;
  const char* name;  // as in the recipe language: "q4_k"
  int blockWeights;  // 32 or 256
  int blockBytes;
  int ggmlId;  // enum ggml_type value (GGUF tensor type)
};

// All types, in GgmlType order.
const std::vector<GgmlTypeInfo>& ggmlTypes();
const GgmlTypeInfo& ggmlTypeInfo(GgmlType type);
// nullptr for a name that is not one of these types.
const GgmlTypeInfo* findGgmlType(const std::string& name);

// Bytes of one row of `cols` weights. Throws std::invalid_argument when cols is not a
// positive multiple of the block size.
size_t ggmlRowBytes(GgmlType type, int64_t cols);

// A NaN or infinite weight given to ggmlEncodeRows: `index` is the first one (flat).
struct NonFiniteWeight : std::invalid_argument {
  NonFiniteWeight(int64_t index, const std::string& what)
      : std::invalid_argument(what), index(index) {}
  int64_t index;
};

// Encodes src [rows, cols] (row-major f32) into dst (rows * ggmlRowBytes bytes). Throws
// NonFiniteWeight (naming the first) if any weight is NaN or infinite (the rows are checked
// as they are encoded; dst is then incomplete).
// importance: nullable, `cols` non-negative per-column weights (an imatrix: mean squared
// activations); the scale searches then minimise sum importance[c] (w - w')^2 instead of
// the plain squared error. reference: the serial scalar spec path; else the fast path on
// `pool` (same bytes). Throws std::invalid_argument on a bad shape or importance.
void ggmlEncodeRows(GgmlType type, const float* src, int64_t rows, int64_t cols, uint8_t* dst,
                    const float* importance, ThreadPool& pool, bool reference);

// Decodes src (rows * ggmlRowBytes bytes) into dst [rows, cols].
void ggmlDecodeRows(GgmlType type, const uint8_t* src, int64_t rows, int64_t cols, float* dst);

// Same, on the pool (each row decoded by the reference decoder).
void ggmlDecodeRowsParallel(GgmlType type, const uint8_t* src, int64_t rows, int64_t cols,
                            float* dst, ThreadPool* pool);

}  // namespace bitsmith
