// Scale searches shared by the ggml encoders (encode.cc) and their fast kernels (fast.cc).
// All of them take n weights x with search weights w (never null), n a multiple of 8.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>

namespace bitsmith {
namespace ggml {

// Candidate scale offsets: a candidate maps the block's extreme value to (anchor + delta)
// levels (deltas < 0 leave headroom, > 0 clip the extreme).
struct Grid {
  const float* delta;
  int n;
};
extern const Grid kGridQ8, kGridQ4, kGridQ5, kGridQ3, kGridQ6, kGridIq4, kGridA4, kGridA5, kGridA2,
    kGridA4K, kGridA5K, kGridScale;

// Blocks whose largest magnitude is below this are all zero (no f16 scale can reach them).
constexpr float kTiny = 1e-30f;

inline float roundClamp(float t, float lo, float hi) {
  return std::min(std::max(std::nearbyint(t), lo), hi);
}

// The AVX2 horizontal-sum order of 8 lanes.
inline float hsum8(const float* a) {
  return ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]));
}

// Symmetric grid: levels lo..hi (lo < 0 < hi, or lo = 0 for non-negative data); value =
// d * L. The block's largest-magnitude value is anchored at the longer end of the range.
// Returns the least-squares d of the best candidate (0 for an all-zero block) and, in
// *l2, that candidate's sum of w L^2.
float symSearch(const float* x, const float* w, int n, int lo, int hi, const Grid& grid, float* l2);

// Asymmetric grid: levels 0..nmax, value = s L + m (minNonPos: m <= 0, as the k-quants
// store a subtracted min). *l2 as above.
void asymSearch(const float* x, const float* w, int n, int nmax, bool minNonPos, const Grid& grid,
                float& s, float& m, float* l2);

// The 32-weight blocks of q8_0 / q4_0 / q5_0 (sym32Search), q4_1 / q5_1 (asym32Search) and
// iq4_nl (iq4x32Search): the searches of symSearch / asymSearch / iq4Search for n = 32 with
// their own short grids (4 or 8 candidates), and these differences: lane j of a sum starts
// at element j's term (not at 0 + that term); asym32Search takes the first candidate of the
// smallest error (asymSearch: the last one after a negative error) and a zero minimum as
// +0 (so the order of the min does not matter). The fast path (fast32.cc) computes the same
// values with whole-block AVX2 kernels.
extern const Grid kGrid32Q4, kGrid32Q5, kGrid32A4, kGrid32A5, kGrid32Iq4;
float sym32Search(const float* x, const float* w, int lo, int hi, const Grid& grid);
float iq4x32Search(const float* x, const float* w, const Grid& grid);
void asym32Search(const float* x, const float* w, int nmax, const Grid& grid, float& s, float& m);

// IQ4_NL grid (blocks.h kIq4nl): value = d * kIq4nl[L]; *l2 = sum of w kIq4nl[L]^2.
float iq4Search(const float* x, const float* w, int n, const Grid& grid, float* l2);
// Index of the grid value nearest to t (a tie goes to the lower value).
int iq4Index(float t);

// The candidate evaluations of the three searches (the inner loops): lane-ordered sums
// of one candidate scale. Scalar spec in search.cc; AVX2 versions in fast.cc compute the
// same values bit for bit. The searches use the AVX2 ones when `useFast` (set per thread by
// the fast path, see encodeBlock) and the CPU has AVX2.
void setFastKernels(bool on);
bool fastKernels();  // this thread's setting (and the CPU has AVX2)
void symCandAvx2(const float* x, const float* w, int n, float iscale, float lo, float hi, float& lx,
                 float& ll);
void asymCandAvx2(const float* x, const float* w, int n, float iscale, float mn, float fmax,
                  float& sl, float& sl2, float& sxl);
void iq4CandAvx2(const float* x, const float* w, int n, float iscale, float& lx, float& ll);

}  // namespace ggml
}  // namespace bitsmith
