// The ggml block formats as a quantizer family of quantizeTensor (quant/quantize.cc).
#pragma once
#include "quant/internal.h"

namespace bitsmith {
namespace quant {

// Encodes x [L.rows, L.cols] into st.codes (the blocks, rows back to back: exactly
// core/src/analysis/bits.ts's `codes` for a ggml type; no scales, zeros or extra: they live
// inside the blocks) and writes their decoding to dq. Throws std::invalid_argument when a
// row is not a whole number of blocks. Sets *ctx.nonFinite (and writes nothing) on NaN/Inf.
// ctx.importance (when set) is the encoders' quant_weights: their scale searches minimise
// the importance-weighted squared error (ggml.h).
void quantizeGgmlFamily(const float* x, const Layout& L, const FormatSpec& f, const Ctx& ctx,
                        float* dq, StoredTensor& st);

}  // namespace quant
}  // namespace bitsmith
