// The i-quant codecs of 1 to 3 bits (iq2_xxs, iq2_xs, iq2_s, iq3_xxs, iq3_s, iq1_s, iq1_m):
// a super-block's choices before packing, the encoder that makes them (iq_encode.cc) and
// the group step GPTQ shares with it.
#pragma once
#include <cstdint>

#include "quant/ggml/ggml.h"
#include "quant/ggml/lattice.h"

namespace bitsmith {
namespace ggml {

bool isLatticeType(GgmlType t);

// A super-block's choices: the f16 d, the 4-bit (iq2, iq3) or 3-bit (iq1) scale of each
// sub-block, the grid point of each group of 8 (iq2, iq1) or 4 (iq3) weights, and per group
// of 8 the signs (bit i: weight i negative; iq2 / iq3) or iq1's delta sign.
struct LatticeCodes {
  uint16_t d = 0;
  uint8_t s[16] = {};
  uint16_t point[64] = {};
  uint8_t neg[32] = {};
  uint8_t deltaNeg[32] = {};
};

// Weights per sub-block scale (32, or 16 for iq2_xs, iq2_s, iq1_m), and the largest scale.
int latticeSubBlock(GgmlType t);
int latticeMaxScale(GgmlType t);
// A sub-block's scale as the decoder computes it from d and the stored s (decode.cc).
float latticeSubScale(GgmlType t, float d, int s);

// Encodes one super-block: x [256], cw [256] the column weights of ggmlEncodeRows (the
// importance plus its floor, or all 1); calibrated: cw came from an importance vector.
void encodeLattice(GgmlType t, const float* x, const float* cw, bool calibrated, LatticeCodes& c);
// The block bytes of c (blocks.h layouts).
void packLattice(GgmlType t, const LatticeCodes& c, uint8_t* out);

// One group of 8 weights x (search weights w) quantized under its sub-block's stored scale
// D: the signs (the 8th of a 7-bit-sign group to the weight that costs least to flip,
// smallest w x^2), the grid point(s) nearest the magnitudes; for iq1 the points for the
// values x and the delta `deltaNeg` (0 / 1; -1: the better of the two, iq1_m). Writes the
// decoder's values to dq and returns the weighted squared error.
struct LatticeGroup {
  uint16_t point[2] = {0, 0};  // one point (8 values) or two (iq3: 4 + 4)
  uint8_t neg = 0;
  uint8_t deltaNeg = 0;
};
float latticeGroup(GgmlType t, const Lattice& L, const float* x, const float* w, float D,
                   int deltaNeg, LatticeGroup& g, float* dq);

}  // namespace ggml
}  // namespace bitsmith
