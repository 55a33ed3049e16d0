// The i-quants' grids (iq_grids.h) as lattices to search: a group of `dim` weights takes
// one grid point, each coordinate of which is one of a few values (iq2: 8, 25, 43). A
// point of the full lattice (any combination of values) that is not on the grid has a
// list of the grid points nearest to it (built on first use, as llama.cpp builds its own).
#pragma once
#include <cstdint>
#include <vector>

#include "common/cpu.h"
#include "quant/ggml/ggml.h"

// The AVX2 twin of nearestPoint is built with GCC / Clang on x86 (lattice_fast.cc).
#if BITSMITH_X86 && (defined(__GNUC__) || defined(__clang__))
#define BITSMITH_LATTICE_AVX2 1
#else
#define BITSMITH_LATTICE_AVX2 0
#endif

namespace bitsmith {
namespace ggml {

struct Lattice {
  int dim = 8;                                // values per point: 8, or 4 (iq3)
  int levels = 3;                             // distinct coordinate values
  int bits = 2;                               // bits per coordinate in a lattice code
  int points = 0;                             // grid size
  float value[8] = {0, 0, 0, 0, 0, 0, 0, 0};  // the coordinate values, ascending
  float mid[7] = {0, 0, 0, 0, 0, 0, 0};       // midpoints between consecutive values
  std::vector<uint8_t> level;  // [points][dim]: level (index into value) of each coordinate
  std::vector<float> val;      // [points][dim]: value[level]
  // Lattice code (sum of level_i << (bits * i)) -> grid index, or -1 - the offset in nbr
  // of the code's neighbour list (a count, then grid indices).
  std::vector<int32_t> map;
  std::vector<uint16_t> nbr;
  // nbrCode[k]: the lattice code of grid point nbr[k] (the count entries hold 0), then 8
  // spare zeros (the vectorised search reads whole steps of 8).
  std::vector<uint16_t> nbrCode;
};

// The lattice of an i-quant type (iq1_s and iq1_m share one grid). Throws for other types.
const Lattice& latticeOf(GgmlType t);

// The lattice code of dim levels.
inline int latticeCode(const Lattice& L, const uint8_t* lev) {
  int c = 0;
  for (int i = 0; i < L.dim; ++i) c |= int(lev[i]) << (L.bits * i);
  return c;
}

// The grid point for target t (dim values) under scale D (id = 1 / D) and value offset
// `off` (iq1's delta): each coordinate's nearest level, level_i = the count of midpoints
// below t_i id - off; if that lattice point is on the grid (then it minimises the error
// below over every point) it is the answer, else the member of its neighbour list with the
// smallest weighted error (pointError, whose terms w_i r_i^2 depend only on each
// coordinate's level: they are tabulated once per call; the first of equal errors wins).
// *err (when not null)
// receives the chosen point's error. The fast path (setFastKernels, search.h) runs the AVX2
// twin in lattice_fast.cc, which returns the same point and error.
int nearestPoint(const Lattice& L, const float* t, const float* w, float D, float id, float off,
                 float* err);
int nearestPointAvx2(const Lattice& L, const float* t, const float* w, float D, float id, float off,
                     float* err);

// The weighted error sum_i w_i (D (v_i + off) - t_i)^2 of point p, each term (w r) r,
// summed in the order of an AVX2 horizontal sum: ((e0 + e4) + (e2 + e6)) + ((e1 + e5) +
// (e3 + e7)) for 8 values, (e0 + e2) + (e1 + e3) for 4.
inline float pointError(const Lattice& L, int p, const float* t, const float* w, float D,
                        float off) {
  const float* v = L.val.data() + size_t(p) * size_t(L.dim);
  float e[8];
  for (int i = 0; i < L.dim; ++i) {
    const float r = D * (v[i] + off) - t[i];
    e[i] = w[i] * r * r;
  }
  if (L.dim == 4) return (e[0] + e[2]) + (e[1] + e[3]);
  return ((e[0] + e[4]) + (e[2] + e[6])) + ((e[1] + e[5]) + (e[3] + e[7]));
}

}  // namespace ggml
}  // namespace bitsmith
