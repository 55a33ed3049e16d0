// The lattice grids of the i-quants (iq_grids.cc: the point tables, part of the file
// format) and the rule of their 7-bit signs.
#pragma once
#include <cstdint>

namespace bitsmith {
namespace ggml {

extern const uint64_t kIq2xxsGrid[256];  // iq2_xxs: 8 magnitudes in {8, 25, 43} per point
extern const uint64_t kIq2xsGrid[512];   // iq2_xs
extern const uint64_t kIq2sGrid[1024];   // iq2_s
extern const uint32_t kIq3xxsGrid[256];  // iq3_xxs: 4 magnitudes in {4, 12, ..., 52, 62}
extern const uint32_t kIq3sGrid[512];    // iq3_s: 4 magnitudes in {1, 3, ..., 15}
extern const uint64_t kIq1sGrid[2048];   // iq1_s / iq1_m: 8 int8 values in {-1, 0, 1}

// A 7-bit sign index s (iq2_xxs, iq2_xs, iq3_xxs) as the 8 sign bits of its group: the
// 8th bit makes the count of negative weights even (ggml's ksigns_iq2xs table).
constexpr uint8_t signs7(unsigned s) {
  unsigned p = s & 127u;
  p ^= p >> 4;
  p ^= p >> 2;
  p ^= p >> 1;
  return uint8_t((s & 127u) | ((p & 1u) << 7));
}

}  // namespace ggml
}  // namespace bitsmith
