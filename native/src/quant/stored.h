// The stored form a quantizer produces, and the entry point that returns it (the runner's
// writers and the N-API layer use it; quantizeTensor in quantize.h wraps it). Layouts,
// byte for byte (all multi-byte values little endian):
//   codes    b-bit codes, LSB-first, rows back to back (common/bitpack.h); ternary: 5 trits
//            per byte. int symmetric: code = q + 2^(b-1); int asymmetric: code = q in
//            [0, 2^b - 1]; nf4: index into the ascending NF4 table; fp4/mxfp4/nvfp4: e2m1
//            (sign bit 3); fp8/mxfp8: the e4m3 / e5m2 byte; binary: 1 = +scale, 0 = -scale;
//            ternary: trit = q + 1.
//   scales   one per group in group order (row by row, then along the row); f16/bf16 2 bytes,
//            f32 4, e8m0/e4m3 1.
//   zeros    asymmetric int grids: `zero f16` the (real-valued) zero point as f16 per group;
//            `zero int` the integer zero point as a b-bit code per group, packed like codes.
//   outliers k f16 values followed by their k u32 flat indices (ascending index), 6k bytes.
//   lowrank  U [rows, r] then V [r, cols], f16, row-major: W ~ Q + U V.
//   extra    nvfp4: the f32 per-tensor global scale G (block scale = e4m3 scale / G).
#pragma once
#include <cstdint>

#include "common/bitpack.h"
#include "quant/quantize.h"

namespace bitsmith {

struct StoredTensor {
  Bytes codes, scales, zeros, outliers, lowrank, extra;
  QuantBytes bytes() const {
    QuantBytes b;
    b.codes = int64_t(codes.size());
    b.scales = int64_t(scales.size());
    b.zeros = int64_t(zeros.size());
    b.outliers = int64_t(outliers.size());
    b.lowrank = int64_t(lowrank.size());
    b.extra = int64_t(extra.size());
    return b;
  }
};

// Quantizes w into `dequant` (rows*cols floats, written in full) and `stored` (its buffers
// are cleared, keeping their capacity, so reusing one StoredTensor avoids page faults). Returns the
// number of outliers kept. Throws std::invalid_argument for configs it cannot execute and
// for non-finite weights (naming the first one).
int64_t quantizeTensorInto(const float* w, int64_t rows, int64_t cols, const QuantConfig& config,
                           ThreadPool& pool, bool reference, float* dequant, StoredTensor& stored);

// The byte counts of core/src/analysis/bits.ts for a config (the formula, for checks).
QuantBytes expectedBytes(int64_t rows, int64_t cols, const QuantConfig& config);

// Whether `name` is a format of the format table (executable or not), and whether this
// backend executes it.
bool isKnownFormat(const std::string& name);
bool isExecutableFormat(const std::string& name);

}  // namespace bitsmith
