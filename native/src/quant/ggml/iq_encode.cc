// Reference encoders of the i-quants of 1 to 3 bits (iq_codec.h). The layouts and grids are
// ggml's (blocks.h, iq_grids.h); the search is this file's:
//   0. search weights: with an importance vector, llama.cpp's imatrix weighting
//      w_i = importance_i sqrt(sigma^2 + x_i^2) (sigma^2 = k mean x^2 over the super-block);
//      without one, llama.cpp's fallbacks: 0.25 sigma^2 + x_i^2 (iq2), x_i^2 (iq3, iq1) plus
//      sigma^2 / 100, so that a zero weight still counts (its nearest magnitude is kept;
//      0.2 to 1.4 dB better on weights with many zeros, 0.2 dB on Gaussian ones).
//   1. per sub-block, its best scale alone. iq2 / iq3: the signs are fixed first (a
//      7-bit-sign group with an odd count of negatives keeps one weight on the wrong side:
//      the one of smallest w x^2, as llama.cpp); then a few candidate scales around
//      "largest magnitude on the top value" (5 or 7: step 3 re-chooses the stored scale by
//      the error itself, so llama.cpp's 13 to 31 candidates changed no figure by more than
//      0.01 dB), each candidate taking the nearest grid point of every group (lattice.h)
//      and the least-squares scale for those points; the best candidate's points then fix
//      the scale again. iq1: the exact weighted least-squares
//      split of the sorted weights into the three values -1, 0, 1 (+- delta), then the
//      nearest grid points for that scale and the scale refitted to them.
//   2. the super-block's d: the candidate (and its least-squares refit) whose quantized
//      sub-block scales d m(s) best match those scales, each weighted by how much its error
//      costs (sum w v^2).
//   3. every sub-block takes, of the stored scales s - 1, s, s + 1 (exactly as decoded), the
//      one whose groups, each at its nearest grid point under it, have the smallest
//      weighted error; those are the codes.
// Unlike llama.cpp's searches, every distance is measured on the decoder's values (the grid
// bytes and the decoded scales), not on an idealised 1, 3, 5 ... lattice.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "common/fp.h"
#include "quant/ggml/blocks.h"
#include "quant/ggml/iq_codec.h"
#include "quant/ggml/search.h"

namespace bitsmith {
namespace ggml {

namespace {

struct Spec {
  int sub;         // weights per sub-block scale
  int smax;        // largest stored scale
  float m0, step;  // a scale s means d (m0 + step s)
  bool signs7;     // 7 stored signs per group of 8 (the 8th by parity)
  int cand;        // candidate scales -cand .. cand
  float rel;       // their relative spacing
  float sigmaK;    // sigma^2 = sigmaK mean x^2
  bool iq1;
};

const Spec& specOf(GgmlType t) {
  static const Spec iq2xxs{32, 15, 0.125f, 0.25f, true, 3, 0.04f, 1.0f, false};
  static const Spec iq2xs{16, 15, 0.125f, 0.25f, true, 2, 0.09f, 1.0f, false};
  static const Spec iq2s{16, 15, 0.125f, 0.25f, false, 2, 0.09f, 2.0f, false};
  static const Spec iq3xxs{32, 15, 0.25f, 0.5f, true, 3, 0.2f / 3.0f, 2.0f, false};
  static const Spec iq3s{32, 15, 1.0f, 2.0f, false, 3, 0.2f / 3.0f, 2.0f, false};
  static const Spec iq1s{32, 7, 1.0f, 2.0f, false, 0, 0.0f, 2.0f, true};
  static const Spec iq1m{16, 7, 1.0f, 2.0f, false, 0, 0.0f, 2.0f, true};
  switch (t) {
    case GgmlType::IQ2_XXS:
      return iq2xxs;
    case GgmlType::IQ2_XS:
      return iq2xs;
    case GgmlType::IQ2_S:
      return iq2s;
    case GgmlType::IQ3_XXS:
      return iq3xxs;
    case GgmlType::IQ3_S:
      return iq3s;
    case GgmlType::IQ1_S:
      return iq1s;
    case GgmlType::IQ1_M:
      return iq1m;
    default:
      throw std::invalid_argument("not an i-quant of 1 to 3 bits");
  }
}

inline float inverse(float d) {
  return d != 0.0f ? 1.0f / d : 0.0f;
}

void searchWeights(GgmlType t, const Spec& S, const float* x, const float* cw, bool calibrated,
                   float* w) {
  float sumx2 = 0;
  for (int i = 0; i < 256; ++i) sumx2 += x[i] * x[i];
  const float sigma2 = S.sigmaK * sumx2 / 256.0f;
  const bool iq2 = t == GgmlType::IQ2_XXS || t == GgmlType::IQ2_XS || t == GgmlType::IQ2_S;
  for (int i = 0; i < 256; ++i) {
    const float x2 = x[i] * x[i];
    if (calibrated)
      w[i] = cw[i] * std::sqrt(sigma2 + x2);
    else
      w[i] = iq2 ? 0.25f * sigma2 + x2 : x2 + 1e-2f * sigma2;
  }
}

// Signs of a group of 8 and its magnitudes t (one of them negative when a 7-bit-sign group
// had an odd count of negatives).
uint8_t signedTargets(bool signs7, const float* x, const float* w, float* t) {
  uint8_t neg = 0;
  for (int i = 0; i < 8; ++i) {
    t[i] = std::fabs(x[i]);
    if (x[i] < 0) neg = uint8_t(neg | (1u << i));
  }
  int odd = 0;
  for (int i = 0; i < 8; ++i) odd ^= (neg >> i) & 1;
  if (signs7 && odd) {
    int imin = 0;
    float mn = w[0] * x[0] * x[0];
    for (int i = 1; i < 8; ++i) {
      const float a = w[i] * x[i] * x[i];
      if (a < mn) {
        mn = a;
        imin = i;
      }
    }
    t[imin] = -t[imin];
    neg = uint8_t(neg ^ (1u << imin));
  }
  return neg;
}

// Step 1 for iq2 / iq3: the sub-block's scale for magnitudes t; *sens = sum w v^2 at it.
float signedSubScale(const Spec& S, const Lattice& L, const float* t, const float* w, float* sens) {
  const int n = S.sub, dim = L.dim, ng = n / dim;
  *sens = 0;
  float amax = 0;
  for (int i = 0; i < n; ++i) amax = std::max(amax, t[i]);
  if (!(amax >= kTiny)) return 0.0f;
  const float top = L.value[L.levels - 1];
  auto sums = [&](float D, float id, float& sqx, float& sq2) {
    sqx = sq2 = 0;
    for (int g = 0; g < ng; ++g) {
      const int p = nearestPoint(L, t + dim * g, w + dim * g, D, id, 0.0f, nullptr);
      const float* v = L.val.data() + size_t(p) * size_t(dim);
      for (int i = 0; i < dim; ++i) {
        const float wv = w[dim * g + i] * v[i];
        sqx += wv * t[dim * g + i];
        sq2 += wv * v[i];
      }
    }
  };
  float best = 0, D = 0;
  for (int k = -S.cand; k <= S.cand; ++k) {
    const float id = top * (1.0f + S.rel * float(k)) / amax;
    float sqx, sq2;
    sums(1.0f / id, id, sqx, sq2);
    if (sq2 > 0 && sqx > 0 && sqx * sqx > best * sq2) {
      D = sqx / sq2;
      best = D * sqx;
    }
  }
  if (!(D > 0)) return 0.0f;
  float sqx, sq2;
  sums(D, 1.0f / D, sqx, sq2);
  if (sq2 > 0 && sqx > 0) D = sqx / sq2;
  *sens = sq2;
  return D;
}

// Step 1 for iq1: the sub-block's scale for values x, and the delta of each group of 8
// (perGroup: iq1_m) or of the sub-block (iq1_s: deltaNeg[0] for all).
template <int N, bool perGroup>  // N: the sub-block (32 for iq1_s, 16 for iq1_m)
float iq1SubScale(const Lattice& L, const float* x, const float* w, uint8_t* deltaNeg,
                  float* sens) {
  constexpr int n = N, ng = N / 8, G = perGroup ? ng : 1;
  *sens = 0;
  for (int g = 0; g < ng; ++g) deltaNeg[g] = 0;
  float amax = 0;
  for (int i = 0; i < n; ++i) amax = std::max(amax, std::fabs(x[i]));
  if (!(amax >= kTiny)) return 0.0f;
  int order[32];
  for (int i = 0; i < n; ++i) order[i] = i;
  std::sort(order, order + n, [&](int a, int b) { return x[a] < x[b] || (x[a] == x[b] && a < b); });
  // Prefix sums over the sorted order, per delta group: SW[g][k], SX[g][k].
  float SW[2][33], SX[2][33];
  for (int g = 0; g < G; ++g) SW[g][0] = SX[g][0] = 0;
  for (int k = 0; k < n; ++k) {
    const int i = order[k], gi = perGroup ? i / 8 : 0;
    for (int g = 0; g < G; ++g) {
      SW[g][k + 1] = SW[g][k] + (g == gi ? w[i] : 0.0f);
      SX[g][k + 1] = SX[g][k] + (g == gi ? w[i] * x[i] : 0.0f);
    }
  }
  // Split at i1 <= i2: levels -1, 0, 1 (shifted by delta_g) for the sorted weights before
  // i1, between, from i2. Per group, with X0 / X2 and W0 / W2 the sums below i1 and from i2
  // and T the group's totals: sum w q x = (X2 - X0) + delta T_x, sum w q^2 = (W0 + W2) +
  // 2 delta (W2 - W0) + delta^2 T_w. Every split and delta combination scores
  // (sum w q x)^2 / sum w q^2 (the error it removes); the first of the highest wins. At the
  // optimum (D > 0; the mirrored split is the other delta) every weight is at its nearest
  // level, and |delta| < 1/2 puts x >= 0 above level -1 and x <= 0 below level 1: so
  // i1 <= #(x < 0) and i2 >= #(x <= 0), the only splits scored. The scores of one i1 are
  // computed as arrays (loops the compiler vectorises, lane by lane the same IEEE
  // operations), then scanned in order.
  int neg = 0, nonPos = 0;
  for (int k = 0; k < n; ++k) {
    neg += x[order[k]] < 0;
    nonPos += x[order[k]] <= 0;
  }
  const int combos = 1 << G;  // delta signs: bit g set = group g's delta negative
  float bestScore = 0, D = 0;
  int bestCombo = 0;
  const float dd = kIq1Delta * kIq1Delta;
  float deltas[4][2], tx[2], tw[2];
  for (int k = 0; k < combos; ++k)
    for (int g = 0; g < G; ++g) deltas[k][g] = (k >> g) & 1 ? -kIq1Delta : kIq1Delta;
  for (int g = 0; g < G; ++g) {
    tx[g] = SX[g][n];
    tw[g] = SW[g][n];
  }
  float qx[4][33], q2[4][33], score[4][33];
  for (int i1 = 0; i1 <= neg; ++i1) {
    const int m = n - nonPos + 1;  // i2 = nonPos .. n
    for (int k = 0; k < combos; ++k) {
      for (int j = 0; j < m; ++j) {
        float sqx = 0, sq2 = 0;
        for (int g = 0; g < G; ++g) {
          const float w2 = tw[g] - SW[g][nonPos + j], w0 = SW[g][i1];
          sqx += ((tx[g] - SX[g][nonPos + j]) - SX[g][i1]) + deltas[k][g] * tx[g];
          sq2 += (w0 + w2) + 2.0f * deltas[k][g] * (w2 - w0) + dd * tw[g];
        }
        qx[k][j] = sqx;
        q2[k][j] = sq2;
        score[k][j] = sq2 > 0 ? sqx * sqx / sq2 : 0.0f;
      }
    }
    for (int j = 0; j < m; ++j)
      for (int k = 0; k < combos; ++k)
        if (score[k][j] > bestScore) {
          bestScore = score[k][j];
          D = qx[k][j] / q2[k][j];
          bestCombo = k;
        }
  }
  if (D == 0.0f) return 0.0f;
  if (D < 0) {  // D (v + delta) = (-D) (-v - delta): the grid is symmetric, deltas flip
    D = -D;
    bestCombo = ~bestCombo & (combos - 1);
  }
  for (int g = 0; g < ng; ++g) deltaNeg[g] = uint8_t((bestCombo >> (perGroup ? g : 0)) & 1);
  float sqx = 0, sq2 = 0;
  const float id = 1.0f / D;
  for (int g = 0; g < ng; ++g) {
    const float delta = deltaNeg[g] ? -kIq1Delta : kIq1Delta;
    const int p = nearestPoint(L, x + 8 * g, w + 8 * g, D, id, delta, nullptr);
    const float* v = L.val.data() + size_t(p) * 8;
    for (int i = 0; i < 8; ++i) {
      const float q = v[i] + delta, wq = w[8 * g + i] * q;
      sqx += wq * x[8 * g + i];
      sq2 += wq * q;
    }
  }
  if (sq2 > 0 && sqx > 0) D = sqx / sq2;
  *sens = sq2;
  return D;
}

inline int nearestScale(const Spec& S, float d, float D) {
  return int(roundClamp((D / d - S.m0) / S.step, 0.0f, float(S.smax)));
}

// Step 2: d for the sub-block scales D (0 when they all are).
float superScale(const Spec& S, const float* D, const float* sens, int ns) {
  float maxD = 0;
  for (int j = 0; j < ns; ++j) maxD = std::max(maxD, D[j]);
  if (!(maxD > 0)) return 0.0f;
  auto error = [&](float d) {
    double e = 0;
    for (int j = 0; j < ns; ++j) {
      const float r = D[j] - d * (S.m0 + S.step * float(nearestScale(S, d, D[j])));
      e += double(sens[j]) * double(r) * double(r);
    }
    return e;
  };
  const float d0 = maxD / (S.m0 + S.step * float(S.smax));
  float best = d0;
  double bestErr = error(d0);
  for (int k = -8; k <= 4; ++k) {
    const float d = d0 * (1.0f + 0.025f * float(k));
    const double e = error(d);
    if (e < bestErr) {
      bestErr = e;
      best = d;
    }
  }
  // Least squares for d with the best candidate's scales fixed.
  double num = 0, den = 0;
  for (int j = 0; j < ns; ++j) {
    const double m = double(S.m0 + S.step * float(nearestScale(S, best, D[j])));
    num += double(sens[j]) * double(D[j]) * m;
    den += double(sens[j]) * m * m;
  }
  if (den > 0) {
    const float d = float(num / den);
    if (d > 0 && error(d) < bestErr) best = d;
  }
  return best;
}

}  // namespace

bool isLatticeType(GgmlType t) {
  switch (t) {
    case GgmlType::IQ2_XXS:
    case GgmlType::IQ2_XS:
    case GgmlType::IQ2_S:
    case GgmlType::IQ3_XXS:
    case GgmlType::IQ3_S:
    case GgmlType::IQ1_S:
    case GgmlType::IQ1_M:
      return true;
    default:
      return false;
  }
}

int latticeSubBlock(GgmlType t) {
  return specOf(t).sub;
}
int latticeMaxScale(GgmlType t) {
  return specOf(t).smax;
}

float latticeSubScale(GgmlType t, float d, int s) {
  switch (t) {
    case GgmlType::IQ2_XXS:
    case GgmlType::IQ2_XS:
    case GgmlType::IQ2_S:
      return d * (0.5f + float(s)) * 0.25f;
    case GgmlType::IQ3_XXS:
      return d * (0.5f + float(s)) * 0.5f;
    default:  // iq3_s, iq1_s, iq1_m
      return d * float(1 + 2 * s);
  }
}

float latticeGroup(GgmlType t, const Lattice& L, const float* x, const float* w, float D,
                   int deltaNeg, LatticeGroup& g, float* dq) {
  const float id = inverse(D);
  if (specOf(t).iq1) {
    float best = 0;
    for (int k = 0; k < 2; ++k) {
      const int dn = deltaNeg >= 0 ? deltaNeg : k;
      if (deltaNeg >= 0 && k > 0) break;
      const float delta = dn ? -kIq1Delta : kIq1Delta;
      float e;
      const int p = nearestPoint(L, x, w, D, id, delta, &e);
      if (k == 0 || e < best) {
        best = e;
        g.point[0] = uint16_t(p);
        g.deltaNeg = uint8_t(dn);
      }
    }
    const float delta = g.deltaNeg ? -kIq1Delta : kIq1Delta;
    const float* v = L.val.data() + size_t(g.point[0]) * 8;
    for (int i = 0; i < 8; ++i) dq[i] = D * (v[i] + delta);
    g.neg = 0;
    return best;
  }
  float mag[8];
  g.neg = signedTargets(specOf(t).signs7, x, w, mag);
  g.deltaNeg = 0;
  float total = 0;
  for (int h = 0; h < 8 / L.dim; ++h) {
    float e;
    const int p = nearestPoint(L, mag + L.dim * h, w + L.dim * h, D, id, 0.0f, &e);
    g.point[h] = uint16_t(p);
    total += e;
    const float* v = L.val.data() + size_t(p) * size_t(L.dim);
    for (int i = 0; i < L.dim; ++i) {
      const int e8 = L.dim * h + i;
      dq[e8] = D * v[i] * ((g.neg >> e8) & 1 ? -1.0f : 1.0f);
    }
  }
  return total;
}

void encodeLattice(GgmlType t, const float* x, const float* cw, bool calibrated, LatticeCodes& c) {
  const Spec& S = specOf(t);
  const Lattice& L = latticeOf(t);
  c = LatticeCodes{};
  float w[256];
  searchWeights(t, S, x, cw, calibrated, w);
  const int ns = 256 / S.sub, gps = S.sub / 8;  // groups of 8 per sub-block
  float D[16], sens[16];
  uint8_t delta[32] = {};
  for (int j = 0; j < ns; ++j) {
    const float* xs = x + S.sub * j;
    const float* ws = w + S.sub * j;
    if (S.iq1) {
      D[j] = t == GgmlType::IQ1_M ? iq1SubScale<16, true>(L, xs, ws, delta + gps * j, &sens[j])
                                  : iq1SubScale<32, false>(L, xs, ws, delta + gps * j, &sens[j]);
    } else {
      float mag[32];
      for (int g = 0; g < gps; ++g) signedTargets(S.signs7, xs + 8 * g, ws + 8 * g, mag + 8 * g);
      D[j] = signedSubScale(S, L, mag, ws, &sens[j]);
    }
  }
  const float d = superScale(S, D, sens, ns);
  c.d = f16FromF32Sat(d);
  const float dq = f16ToF32(c.d);
  if (!(dq > 0)) {  // an all-zero block (or one below f16's reach): every weight decodes to 0
    c.d = 0;
    return;
  }
  // Step 3: each sub-block's stored scale among s - 1, s, s + 1, and its codes.
  float scratch[8];
  for (int j = 0; j < ns; ++j) {
    const int s0 = nearestScale(S, dq, D[j]);
    float best = -1;
    LatticeGroup pick[4];
    for (int k = 0; k < 3; ++k) {
      const int s = s0 + (k == 0 ? 0 : k == 1 ? -1 : 1);
      if (s < 0 || s > S.smax) continue;
      const float Ds = latticeSubScale(t, dq, s);
      // iq1_s: the sub-block's delta and its opposite; iq1_m chooses per group.
      const int deltaTries = t == GgmlType::IQ1_S ? 2 : 1;
      for (int dt = 0; dt < deltaTries; ++dt) {
        float e = 0;
        LatticeGroup g[4];
        for (int q = 0; q < gps; ++q) {
          const int dn = t == GgmlType::IQ1_S ? (delta[gps * j] ^ dt) : -1;
          e += latticeGroup(t, L, x + S.sub * j + 8 * q, w + S.sub * j + 8 * q, Ds, dn, g[q],
                            scratch);
        }
        if (best < 0 || e < best) {
          best = e;
          c.s[j] = uint8_t(s);
          for (int q = 0; q < gps; ++q) pick[q] = g[q];
        }
      }
    }
    for (int q = 0; q < gps; ++q) {
      const int gi = gps * j + q;
      c.neg[gi] = pick[q].neg;
      c.deltaNeg[gi] = pick[q].deltaNeg;
      if (L.dim == 8) {
        c.point[gi] = pick[q].point[0];
      } else {
        c.point[2 * gi] = pick[q].point[0];
        c.point[2 * gi + 1] = pick[q].point[1];
      }
    }
  }
}

void packLattice(GgmlType t, const LatticeCodes& c, uint8_t* out) {
  switch (t) {
    case GgmlType::IQ2_XXS: {
      BlockIQ2_XXS b{};
      b.d = c.d;
      uint8_t* q = reinterpret_cast<uint8_t*>(b.qs);
      for (int j = 0; j < 8; ++j) {
        uint32_t ss = uint32_t(c.s[j]) << 28;
        for (int l = 0; l < 4; ++l) {
          q[8 * j + l] = uint8_t(c.point[4 * j + l]);
          ss |= uint32_t(c.neg[4 * j + l] & 127) << (7 * l);
        }
        std::memcpy(q + 8 * j + 4, &ss, 4);
      }
      std::memcpy(out, &b, sizeof b);
      return;
    }
    case GgmlType::IQ2_XS: {
      BlockIQ2_XS b{};
      b.d = c.d;
      for (int g = 0; g < 32; ++g) b.qs[g] = uint16_t(c.point[g] | ((c.neg[g] & 127) << 9));
      for (int h = 0; h < 16; ++h)
        b.scales[h / 2] = uint8_t(b.scales[h / 2] | (c.s[h] << (4 * (h % 2))));
      std::memcpy(out, &b, sizeof b);
      return;
    }
    case GgmlType::IQ2_S: {
      BlockIQ2_S b{};
      b.d = c.d;
      for (int g = 0; g < 32; ++g) {
        b.qs[g] = uint8_t(c.point[g]);
        b.qh[g / 4] = uint8_t(b.qh[g / 4] | ((c.point[g] >> 8) << (2 * (g % 4))));
        b.qs[32 + g] = c.neg[g];
      }
      for (int h = 0; h < 16; ++h)
        b.scales[h / 2] = uint8_t(b.scales[h / 2] | (c.s[h] << (4 * (h % 2))));
      std::memcpy(out, &b, sizeof b);
      return;
    }
    case GgmlType::IQ3_XXS: {
      BlockIQ3_XXS b{};
      b.d = c.d;
      for (int k = 0; k < 64; ++k) b.qs[k] = uint8_t(c.point[k]);
      for (int j = 0; j < 8; ++j) {
        uint32_t ss = uint32_t(c.s[j]) << 28;
        for (int l = 0; l < 4; ++l) ss |= uint32_t(c.neg[4 * j + l] & 127) << (7 * l);
        std::memcpy(b.qs + 64 + 4 * j, &ss, 4);
      }
      std::memcpy(out, &b, sizeof b);
      return;
    }
    case GgmlType::IQ3_S: {
      BlockIQ3_S b{};
      b.d = c.d;
      for (int k = 0; k < 64; ++k) {
        b.qs[k] = uint8_t(c.point[k]);
        b.qh[k / 8] = uint8_t(b.qh[k / 8] | ((c.point[k] >> 8) << (k % 8)));
      }
      for (int g = 0; g < 32; ++g) b.signs[g] = c.neg[g];
      for (int j = 0; j < 8; ++j)
        b.scales[j / 2] = uint8_t(b.scales[j / 2] | (c.s[j] << (4 * (j % 2))));
      std::memcpy(out, &b, sizeof b);
      return;
    }
    case GgmlType::IQ1_S: {
      BlockIQ1_S b{};
      b.d = c.d;
      for (int j = 0; j < 8; ++j) {
        uint32_t h = uint32_t(c.s[j]) << 12 | uint32_t(c.deltaNeg[4 * j]) << 15;
        for (int l = 0; l < 4; ++l) {
          b.qs[4 * j + l] = uint8_t(c.point[4 * j + l]);
          h |= uint32_t(c.point[4 * j + l] >> 8) << (3 * l);
        }
        b.qh[j] = uint16_t(h);
      }
      std::memcpy(out, &b, sizeof b);
      return;
    }
    case GgmlType::IQ1_M: {
      BlockIQ1_M b{};
      uint16_t sc[4] = {0, 0, 0, 0};
      for (int g = 0; g < 32; ++g) {
        b.qs[g] = uint8_t(c.point[g]);
        const int nib = (c.point[g] >> 8) | (c.deltaNeg[g] << 3);
        b.qh[g / 2] = uint8_t(b.qh[g / 2] | (nib << (4 * (g % 2))));
      }
      for (int h = 0; h < 16; ++h) sc[h / 4] = uint16_t(sc[h / 4] | (c.s[h] << (3 * (h % 4))));
      sc[0] = uint16_t(sc[0] | ((c.d & 0x000f) << 12));
      sc[1] = uint16_t(sc[1] | ((c.d & 0x00f0) << 8));
      sc[2] = uint16_t(sc[2] | ((c.d & 0x0f00) << 4));
      sc[3] = uint16_t(sc[3] | (c.d & 0xf000));
      std::memcpy(b.scales, sc, 8);
      std::memcpy(out, &b, sizeof b);
      return;
    }
    default:
      throw std::invalid_argument("not an i-quant of 1 to 3 bits");
  }
}

}  // namespace ggml
}  // namespace bitsmith
