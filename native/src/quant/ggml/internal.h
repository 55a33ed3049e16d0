// Internals shared by the ggml codec files.
#pragma once
#include <cstdint>

#include "quant/ggml/ggml.h"

namespace bitsmith {
namespace ggml {

// Decodes `blocks` consecutive blocks (reference decoder).
void decodeBlocks(GgmlType t, const uint8_t* src, int64_t blocks, float* dst);

// Encodes one block: x and w hold blockWeights values (w: the search weights, never null),
// out receives blockBytes bytes. `fast`: the vectorised kernels where there are any (same
// bytes as the scalar spec).
void encodeBlock(GgmlType t, const float* x, const float* w, uint8_t* out, bool fast);

}  // namespace ggml
}  // namespace bitsmith
