// The lattices of lattice.h, built from the grid tables on first use.
#include "quant/ggml/lattice.h"

#include <algorithm>
#include <stdexcept>

#include "quant/ggml/iq_grids.h"
#include "quant/ggml/search.h"

namespace bitsmith {
namespace ggml {

namespace {

// A grid as `points` points of `dim` bytes (signedBytes: iq1's int8 values), and how many
// shells of neighbours an off-grid lattice point lists: every grid point at the `shells`
// smallest distinct distances (squared, in level steps) from it, as llama.cpp's lists
// (its counts, but iq1's 2 instead of 3: the same error on Gaussian and Student-t weights,
// shorter lists).
template <class Word>
Lattice build(const Word* grid, int points, int dim, bool signedBytes, int shells) {
  Lattice L;
  L.dim = dim;
  L.points = points;
  auto byteOf = [&](int p, int i) {
    const int b = int((uint64_t(grid[p]) >> (8 * i)) & 255);
    return signedBytes ? int(int8_t(b)) : b;
  };
  std::vector<int> vals;
  for (int p = 0; p < points; ++p)
    for (int i = 0; i < dim; ++i) vals.push_back(byteOf(p, i));
  std::sort(vals.begin(), vals.end());
  vals.erase(std::unique(vals.begin(), vals.end()), vals.end());
  if (vals.size() > 8) throw std::logic_error("lattice: more than 8 coordinate values");
  L.levels = int(vals.size());
  L.bits = L.levels <= 4 ? 2 : 3;
  for (int k = 0; k < L.levels; ++k) L.value[k] = float(vals[size_t(k)]);
  for (int k = 0; k + 1 < L.levels; ++k) L.mid[k] = 0.5f * (L.value[k] + L.value[k + 1]);
  L.level.resize(size_t(points * dim));
  L.val.resize(size_t(points * dim));
  L.map.assign(size_t(1) << (L.bits * dim), -1);
  for (int p = 0; p < points; ++p) {
    for (int i = 0; i < dim; ++i) {
      const int lv = int(std::lower_bound(vals.begin(), vals.end(), byteOf(p, i)) - vals.begin());
      L.level[size_t(p * dim + i)] = uint8_t(lv);
      L.val[size_t(p * dim + i)] = L.value[lv];
    }
    L.map[size_t(latticeCode(L, L.level.data() + p * dim))] = p;
  }
  // Every lattice point with all levels in range that is not on the grid gets its list.
  std::vector<int> dist(static_cast<size_t>(points));
  uint8_t lev[8];
  int total = 1;
  for (int i = 0; i < dim; ++i) total *= L.levels;
  for (int n = 0; n < total; ++n) {
    for (int i = 0, r = n; i < dim; ++i, r /= L.levels) lev[i] = uint8_t(r % L.levels);
    const int code = latticeCode(L, lev);
    if (L.map[size_t(code)] >= 0) continue;
    for (int p = 0; p < points; ++p) {
      int d2 = 0;
      for (int i = 0; i < dim; ++i) {
        const int e = int(L.level[size_t(p * dim + i)]) - int(lev[i]);
        d2 += e * e;
      }
      dist[size_t(p)] = d2;
    }
    // The `shells` smallest distinct distances; the list is every point within the last.
    int limit = -1;
    for (int s = 0, below = -1; s < shells; ++s) {
      int next = -1;
      for (int p = 0; p < points; ++p)
        if (dist[size_t(p)] > below && (next < 0 || dist[size_t(p)] < next)) next = dist[size_t(p)];
      if (next < 0) break;
      limit = below = next;
    }
    const size_t at = L.nbr.size();
    L.nbr.push_back(0);
    for (int p = 0; p < points; ++p)
      if (dist[size_t(p)] <= limit) L.nbr.push_back(uint16_t(p));
    L.nbr[at] = uint16_t(L.nbr.size() - at - 1);
    L.map[size_t(code)] = -1 - int32_t(at);
  }
  L.nbrCode.assign(L.nbr.size() + 8, 0);
  for (size_t at = 0; at < L.nbr.size(); at += size_t(L.nbr[at]) + 1)
    for (size_t k = 1; k <= L.nbr[at]; ++k)
      L.nbrCode[at + k] =
          uint16_t(latticeCode(L, L.level.data() + size_t(L.nbr[at + k]) * size_t(dim)));
  return L;
}

}  // namespace

const Lattice& latticeOf(GgmlType t) {
  switch (t) {
    case GgmlType::IQ2_XXS: {
      static const Lattice L = build(kIq2xxsGrid, 256, 8, false, 2);
      return L;
    }
    case GgmlType::IQ2_XS: {
      static const Lattice L = build(kIq2xsGrid, 512, 8, false, 2);
      return L;
    }
    case GgmlType::IQ2_S: {
      static const Lattice L = build(kIq2sGrid, 1024, 8, false, 1);
      return L;
    }
    case GgmlType::IQ3_XXS: {
      static const Lattice L = build(kIq3xxsGrid, 256, 4, false, 2);
      return L;
    }
    case GgmlType::IQ3_S: {
      static const Lattice L = build(kIq3sGrid, 512, 4, false, 3);
      return L;
    }
    case GgmlType::IQ1_S:
    case GgmlType::IQ1_M: {
      static const Lattice L = build(kIq1sGrid, 2048, 8, true, 2);
      return L;
    }
    default:
      throw std::invalid_argument("not a lattice (i-quant) type");
  }
}

int nearestPoint(const Lattice& L, const float* t, const float* w, float D, float id, float off,
                 float* err) {
  if (BITSMITH_LATTICE_AVX2 && fastKernels()) return nearestPointAvx2(L, t, w, D, id, off, err);
  uint8_t lev[8];
  for (int i = 0; i < L.dim; ++i) {
    const float u = t[i] * id - off;
    int k = 0;
    for (int m = 0; m + 1 < L.levels; ++m) k += u > L.mid[m];
    lev[i] = uint8_t(k);
  }
  const int32_t hit = L.map[size_t(latticeCode(L, lev))];
  if (hit >= 0) {
    if (err) *err = pointError(L, hit, t, w, D, off);
    return hit;
  }
  // pointError's terms by coordinate and level, then each neighbour's sum of its own.
  float term[8][8];
  for (int i = 0; i < L.dim; ++i)
    for (int l = 0; l < L.levels; ++l) {
      const float r = D * (L.value[l] + off) - t[i];
      term[i][l] = w[i] * r * r;
    }
  const int at = -1 - hit, mask = (1 << L.bits) - 1;
  const uint16_t* list = L.nbr.data() + at;
  const uint16_t* codes = L.nbrCode.data() + at;
  int best = -1;
  float bestErr = 0;
  for (int j = 1; j <= list[0]; ++j) {
    float e[8];
    for (int i = 0; i < L.dim; ++i) e[i] = term[i][(codes[j] >> (L.bits * i)) & mask];
    const float sum = L.dim == 4
                          ? (e[0] + e[2]) + (e[1] + e[3])
                          : ((e[0] + e[4]) + (e[2] + e[6])) + ((e[1] + e[5]) + (e[3] + e[7]));
    if (best < 0 || sum < bestErr) {
      bestErr = sum;
      best = list[j];
    }
  }
  if (err) *err = bestErr;
  return best;
}

}  // namespace ggml
}  // namespace bitsmith
