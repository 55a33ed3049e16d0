// The scale searches of search.h (scalar spec).
#include "quant/ggml/search.h"

#include "common/cpu.h"
#include "quant/ggml/blocks.h"

namespace bitsmith {
namespace ggml {

namespace {
template <int N>
struct Steps {
  float v[N];
  constexpr Steps(float start, float step) : v() {
    for (int i = 0; i < N; ++i) v[i] = start + step * float(i);
  }
};
constexpr float kOnlyAnchor[1] = {0.0f};
constexpr Steps<13> kSym4(-1.0f, 0.125f);  // -1 .. +0.5
constexpr Steps<13> kSym5(-1.0f, 0.125f);
constexpr Steps<9> kSym3(-1.0f, 0.125f);  // -1 .. 0
constexpr Steps<13> kSym6(-1.5f, 0.125f);
constexpr Steps<15> kIq4(-7.0f, 1.0f);
constexpr Steps<16> kAsym4(-1.0f, 0.1f);  // -1 .. +0.5
constexpr Steps<16> kAsym5(-1.0f, 0.1f);
constexpr Steps<16> kAsym2(-0.5f, 0.1f);   // -0.5 .. +1
constexpr Steps<21> kAsym4K(-1.0f, 0.1f);  // -1 .. +1
constexpr Steps<16> kAsym5K(-0.5f, 0.1f);
constexpr Steps<11> kScale(-0.5f, 0.1f);  // -0.5 .. +0.5
// 32-weight blocks (sym32Search / asym32Search / iq4x32Search): 4 or 8 candidates, chosen
// on Student-t blocks (nu = 5, hot columns): within 0.015 dB of the 13- / 16-point grids
// above (iq4_nl's: 0.015 dB better than kIq4), for a quarter to a half of the work.
// q4_0: two candidates, -0.1 and +0.5 (the best pair on that data: 0.03 dB below the four
// of -0.9 .. +0.6, for half the candidate work; llama.cpp's q4_0 is 0.3 dB below either).
constexpr Steps<2> kS32Q4(-0.1f, 0.6f);    // -0.1, +0.5
constexpr Steps<4> kS32Q5(-1.1f, 0.5f);    // -1.1 .. +0.4
constexpr Steps<8> kS32A4(-1.0f, 0.25f);   // -1 .. +0.75
constexpr Steps<8> kS32A5(-1.25f, 0.25f);  // -1.25 .. +0.5
constexpr Steps<4> kS32Iq4(-12.0f, 7.0f);  // -12 .. +9 (wider and better than kIq4's 15)
thread_local bool tFast = false;
}  // namespace

void setFastKernels(bool on) {
  tFast = on && BITSMITH_X86 && cpuHasAvx2();
}
bool fastKernels() {
  return tFast;
}

const Grid kGridQ8{kOnlyAnchor, 1};
const Grid kGridQ4{kSym4.v, 13};
const Grid kGridQ5{kSym5.v, 13};
const Grid kGridQ3{kSym3.v, 9};
const Grid kGridQ6{kSym6.v, 13};
const Grid kGridIq4{kIq4.v, 15};
const Grid kGridA4{kAsym4.v, 16};
const Grid kGridA5{kAsym5.v, 16};
const Grid kGridA2{kAsym2.v, 16};
const Grid kGridA4K{kAsym4K.v, 21};
const Grid kGridA5K{kAsym5K.v, 16};
const Grid kGridScale{kScale.v, 11};
const Grid kGrid32Q4{kS32Q4.v, 2};
const Grid kGrid32Q5{kS32Q5.v, 4};
const Grid kGrid32A4{kS32A4.v, 8};
const Grid kGrid32A5{kS32A5.v, 8};
const Grid kGrid32Iq4{kS32Iq4.v, 4};

float sym32Search(const float* x, const float* w, int lo, int hi, const Grid& grid) {
  float amax = 0, mx = 0;
  for (int i = 0; i < 32; ++i) {
    const float a = std::fabs(x[i]);
    if (a > amax) {
      amax = a;
      mx = x[i];
    }
  }
  if (!(amax >= kTiny)) return 0.0f;
  const float anchor = float(-lo >= hi ? lo : hi), sgn = anchor < 0 ? -1.0f : 1.0f;
  const float flo = float(lo), fhi = float(hi);
  float bestScore = -1, bestLx = 0, bestL2 = 0;
  for (int k = 0; k < grid.n; ++k) {
    const float iscale = (anchor + sgn * grid.delta[k]) / mx;
    float slx[8], sl2[8];
    for (int i = 0; i < 32; ++i) {
      const float l = roundClamp(iscale * x[i], flo, fhi);
      const float wl = w[i] * l, px = wl * x[i], pl = wl * l;
      if (i < 8) {
        slx[i] = px;
        sl2[i] = pl;
      } else {
        slx[i & 7] += px;
        sl2[i & 7] += pl;
      }
    }
    const float lx = hsum8(slx), ll = hsum8(sl2);
    if (ll > 0) {
      const float score = lx * lx / ll;
      if (score > bestScore) {
        bestScore = score;
        bestLx = lx;
        bestL2 = ll;
      }
    }
  }
  return bestL2 > 0 ? bestLx / bestL2 : 0.0f;
}

float iq4x32Search(const float* x, const float* w, const Grid& grid) {
  float amax = 0, mx = 0;
  for (int i = 0; i < 32; ++i) {
    const float a = std::fabs(x[i]);
    if (a > amax) {
      amax = a;
      mx = x[i];
    }
  }
  if (!(amax >= kTiny)) return 0.0f;
  float bestScore = -1, bestLx = 0, bestL2 = 0;
  for (int k = 0; k < grid.n; ++k) {
    const float iscale = (float(kIq4nl[0]) - grid.delta[k]) / mx;
    float slx[8], sl2[8];
    for (int i = 0; i < 32; ++i) {
      const float l = float(kIq4nl[iq4Index(iscale * x[i])]);
      const float wl = w[i] * l, px = wl * x[i], pl = wl * l;
      if (i < 8) {
        slx[i] = px;
        sl2[i] = pl;
      } else {
        slx[i & 7] += px;
        sl2[i & 7] += pl;
      }
    }
    const float lx = hsum8(slx), ll = hsum8(sl2);
    if (ll > 0) {
      const float score = lx * lx / ll;
      if (score > bestScore) {
        bestScore = score;
        bestLx = lx;
        bestL2 = ll;
      }
    }
  }
  return bestL2 > 0 ? bestLx / bestL2 : 0.0f;
}

void asym32Search(const float* x, const float* w, int nmax, const Grid& grid, float& s, float& m) {
  float mn = x[0], mx = x[0];
  float sw[8], sx[8], sxx[8];
  for (int i = 0; i < 32; ++i) {
    mn = std::min(mn, x[i]);
    mx = std::max(mx, x[i]);
    const float wx = w[i] * x[i], wxx = wx * x[i];
    if (i < 8) {
      sw[i] = w[i];
      sx[i] = wx;
      sxx[i] = wxx;
    } else {
      sw[i & 7] += w[i];
      sx[i & 7] += wx;
      sxx[i & 7] += wxx;
    }
  }
  mn += 0.0f;  // a zero minimum is +0, whichever zeros the block holds (any order of min)
  if (!(mx - mn >= kTiny)) {  // constant block
    s = 0;
    m = mn;
    return;
  }
  const double Sw = hsum8(sw), Sx = hsum8(sx), Sxx = hsum8(sxx);
  const float fmax = float(nmax);
  s = (mx - mn) / fmax;  // fallback (every candidate degenerate): the plain min/max grid
  m = mn;
  double best = INFINITY;  // the first candidate of the smallest error
  for (int k = 0; k < grid.n; ++k) {
    const float iscale = (fmax + grid.delta[k]) / (mx - mn);
    float sl[8], sl2[8], sxl[8];
    for (int i = 0; i < 32; ++i) {
      const float l = roundClamp(iscale * (x[i] - mn), 0.0f, fmax);
      const float wl = w[i] * l, pl2 = wl * l, pxl = wl * x[i];
      if (i < 8) {
        sl[i] = wl;
        sl2[i] = pl2;
        sxl[i] = pxl;
      } else {
        sl[i & 7] += wl;
        sl2[i & 7] += pl2;
        sxl[i & 7] += pxl;
      }
    }
    const double Sl = hsum8(sl), Sl2 = hsum8(sl2), Sxl = hsum8(sxl);
    const double D = Sw * Sl2 - Sl * Sl;
    if (!(D > 0)) continue;
    const double ts = (Sw * Sxl - Sx * Sl) / D, tm = (Sl2 * Sx - Sl * Sxl) / D;
    if (!(ts > 0)) continue;
    const double err =
        Sxx - 2 * ts * Sxl - 2 * tm * Sx + ts * ts * Sl2 + 2 * ts * tm * Sl + tm * tm * Sw;
    if (err < best) {
      best = err;
      s = float(ts);
      m = float(tm);
    }
  }
}

float symSearch(const float* x, const float* w, int n, int lo, int hi, const Grid& grid,
                float* l2out) {
  float amax = 0, mx = 0;
  for (int i = 0; i < n; ++i) {
    const float a = std::fabs(x[i]);
    if (a > amax) {
      amax = a;
      mx = x[i];
    }
  }
  if (l2out) *l2out = 0;
  if (!(amax >= kTiny)) return 0.0f;
  const float anchor = float(-lo >= hi ? lo : hi), sgn = anchor < 0 ? -1.0f : 1.0f;
  const float flo = float(lo), fhi = float(hi);
  float bestScore = -1, bestLx = 0, bestL2 = 0;
  for (int k = 0; k < grid.n; ++k) {
    const float iscale = (anchor + sgn * grid.delta[k]) / mx;
    float lx, ll;
    if (tFast) {
      symCandAvx2(x, w, n, iscale, flo, fhi, lx, ll);
    } else {
      float slx[8] = {0, 0, 0, 0, 0, 0, 0, 0}, sl2[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      for (int i = 0; i < n; ++i) {
        const float l = roundClamp(iscale * x[i], flo, fhi);
        const float wl = w[i] * l;
        slx[i & 7] += wl * x[i];
        sl2[i & 7] += wl * l;
      }
      lx = hsum8(slx);
      ll = hsum8(sl2);
    }
    if (ll > 0) {
      const float score = lx * lx / ll;
      if (score > bestScore) {
        bestScore = score;
        bestLx = lx;
        bestL2 = ll;
      }
    }
  }
  if (l2out) *l2out = bestL2;
  return bestL2 > 0 ? bestLx / bestL2 : 0.0f;
}

void asymSearch(const float* x, const float* w, int n, int nmax, bool minNonPos, const Grid& grid,
                float& s, float& m, float* l2out) {
  float mn = x[0], mx = x[0];
  float sw[8] = {0, 0, 0, 0, 0, 0, 0, 0}, sx[8] = {0, 0, 0, 0, 0, 0, 0, 0},
        sxx[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int i = 0; i < n; ++i) {
    mn = std::min(mn, x[i]);
    mx = std::max(mx, x[i]);
    const float wx = w[i] * x[i];
    sw[i & 7] += w[i];
    sx[i & 7] += wx;
    sxx[i & 7] += wx * x[i];
  }
  if (minNonPos && mn > 0) mn = 0;
  if (l2out) *l2out = 0;
  if (!(mx - mn >= kTiny)) {  // constant block (or, with minNonPos, all zero)
    s = 0;
    m = mn;
    return;
  }
  const double Sw = hsum8(sw), Sx = hsum8(sx), Sxx = hsum8(sxx);
  const float fmax = float(nmax);
  // Fallback (every candidate degenerate): the plain min/max grid.
  s = (mx - mn) / fmax;
  m = mn;
  double best = -1;
  for (int k = 0; k < grid.n; ++k) {
    const float iscale = (fmax + grid.delta[k]) / (mx - mn);
    float fl, fl2, fxl;
    if (tFast) {
      asymCandAvx2(x, w, n, iscale, mn, fmax, fl, fl2, fxl);
    } else {
      float sl[8] = {0, 0, 0, 0, 0, 0, 0, 0}, sl2[8] = {0, 0, 0, 0, 0, 0, 0, 0},
            sxl[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      for (int i = 0; i < n; ++i) {
        const float l = roundClamp(iscale * (x[i] - mn), 0.0f, fmax);
        const float wl = w[i] * l;
        sl[i & 7] += wl;
        sl2[i & 7] += wl * l;
        sxl[i & 7] += wl * x[i];
      }
      fl = hsum8(sl);
      fl2 = hsum8(sl2);
      fxl = hsum8(sxl);
    }
    const double Sl = fl, Sl2 = fl2, Sxl = fxl;
    const double D = Sw * Sl2 - Sl * Sl;
    if (!(D > 0)) continue;
    double ts = (Sw * Sxl - Sx * Sl) / D, tm = (Sl2 * Sx - Sl * Sxl) / D;
    if (minNonPos && tm > 0) {
      tm = 0;
      ts = Sxl / Sl2;
    }
    if (!(ts > 0)) continue;
    const double err =
        Sxx - 2 * ts * Sxl - 2 * tm * Sx + ts * ts * Sl2 + 2 * ts * tm * Sl + tm * tm * Sw;
    if (best < 0 || err < best) {
      best = err;
      s = float(ts);
      m = float(tm);
      if (l2out) *l2out = float(Sl2);
    }
  }
  if (best < 0 && l2out) *l2out = float(Sw) * fmax * fmax;
}

int iq4Index(float t) {
  // Midpoints between consecutive grid values (exact in float: half-integers).
  int k = 0;
  for (int i = 0; i < 15; ++i) k += t > 0.5f * float(kIq4nl[i] + kIq4nl[i + 1]);
  return k;
}

float iq4Search(const float* x, const float* w, int n, const Grid& grid, float* l2out) {
  float amax = 0, mx = 0;
  for (int i = 0; i < n; ++i) {
    const float a = std::fabs(x[i]);
    if (a > amax) {
      amax = a;
      mx = x[i];
    }
  }
  if (l2out) *l2out = 0;
  if (!(amax >= kTiny)) return 0.0f;
  float bestScore = -1, bestLx = 0, bestL2 = 0;
  for (int k = 0; k < grid.n; ++k) {
    const float iscale = (float(kIq4nl[0]) - grid.delta[k]) / mx;
    float lx, ll;
    if (tFast) {
      iq4CandAvx2(x, w, n, iscale, lx, ll);
    } else {
      float slx[8] = {0, 0, 0, 0, 0, 0, 0, 0}, sl2[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      for (int i = 0; i < n; ++i) {
        const float l = float(kIq4nl[iq4Index(iscale * x[i])]);
        const float wl = w[i] * l;
        slx[i & 7] += wl * x[i];
        sl2[i & 7] += wl * l;
      }
      lx = hsum8(slx);
      ll = hsum8(sl2);
    }
    if (ll > 0) {
      const float score = lx * lx / ll;
      if (score > bestScore) {
        bestScore = score;
        bestLx = lx;
        bestL2 = ll;
      }
    }
  }
  if (l2out) *l2out = bestL2;
  return bestL2 > 0 ? bestLx / bestL2 : 0.0f;
}

}  // namespace ggml
}  // namespace bitsmith
