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
// bytes as the scalar spec). calibrated: w came from an importance vector (the i-quants
// then weight as llama.cpp's imatrix path, else as its fallback; iq_encode.cc).
void encodeBlock(GgmlType t, const float* x, const float* w, uint8_t* out, bool fast,
                 bool calibrated = false);

// tq1_0 / tq2_0 (tq_encode.cc): the encoder, and the block of codes q (t + 1, 0..2) and d.
void encodeTernaryBlock(GgmlType t, const float* x, const float* w, uint8_t* out);
void packTernary(GgmlType t, const int* q, uint16_t dh, uint8_t* out);

// The fast path of a row of `blocks` 32-weight blocks (q8_0, q4_0, q5_0, q4_1, q5_1, iq4_nl;
// AVX2 + F16C kernels, fast32.cc): the reference path's bytes. unit: every w is 1. Returns
// false (and writes nothing) for other types or without AVX2 and F16C. finite: false when a
// weight of the row is NaN or infinite (the row's bytes are then meaningless).
bool encodeRowFast32(GgmlType t, const float* x, const float* w, bool unit, int64_t blocks,
                     uint8_t* out, bool& finite);

}  // namespace ggml
}  // namespace bitsmith
