#include "forward/rope.h"

#include <algorithm>
#include <cmath>

namespace bitsmith {
namespace forward {

namespace {

constexpr double kPi = 3.14159265358979323846;

std::vector<double> plain(double theta, int64_t dim) {
  std::vector<double> inv(size_t(dim / 2));
  for (int64_t i = 0; i < dim / 2; i++)
    inv[size_t(i)] = std::pow(theta, -double(2 * i) / double(dim));
  return inv;
}

// The pair index whose frequency turns `rotations` times over `positions` (YaRN's
// find_correction_dim).
double correctionDim(double rotations, int64_t dim, double theta, int64_t positions) {
  return double(dim) * std::log(double(positions) / (rotations * 2.0 * kPi)) /
         (2.0 * std::log(theta));
}

}  // namespace

const char* ropeTypeName(RopeType t) {
  switch (t) {
    case RopeType::Default:
      return "default";
    case RopeType::Linear:
      return "linear";
    case RopeType::Dynamic:
      return "dynamic";
    case RopeType::Yarn:
      return "yarn";
    case RopeType::Llama3:
      return "llama3";
  }
  return "?";
}

std::vector<double> ropeInverseFrequencies(const Rope& r, int64_t seqLen) {
  const int64_t d = r.dim, half = d / 2;
  switch (r.type) {
    case RopeType::Default:
      return plain(r.theta, d);
    case RopeType::Linear: {
      std::vector<double> inv = plain(r.theta, d);
      for (double& f : inv) f /= r.factor;
      return inv;
    }
    case RopeType::Dynamic: {
      const double len = double(std::max(seqLen, r.maxPositions));
      const double base =
          r.theta * std::pow(r.factor * len / double(r.maxPositions) - (r.factor - 1.0),
                             double(d) / double(d - 2));
      return plain(base, d);
    }
    case RopeType::Yarn: {
      double low = correctionDim(r.betaFast, d, r.theta, r.originalMaxPositions);
      double high = correctionDim(r.betaSlow, d, r.theta, r.originalMaxPositions);
      if (r.truncate) {
        low = std::floor(low);
        high = std::ceil(high);
      }
      low = std::max(low, 0.0);
      high = std::min(high, double(d - 1));
      if (low == high) high += 0.001;  // as transformers: no zero-width ramp
      std::vector<double> inv = plain(r.theta, d);
      for (int64_t i = 0; i < half; i++) {
        // ramp 0: extrapolate (the original frequency), 1: interpolate (divided by factor)
        const double ramp = std::min(1.0, std::max(0.0, (double(i) - low) / (high - low)));
        const double extrap = inv[size_t(i)], interp = extrap / r.factor;
        inv[size_t(i)] = interp * ramp + extrap * (1.0 - ramp);
      }
      return inv;
    }
    case RopeType::Llama3: {
      const double orig = double(r.originalMaxPositions);
      const double lowWavelen = orig / r.lowFreqFactor, highWavelen = orig / r.highFreqFactor;
      std::vector<double> inv = plain(r.theta, d);
      for (double& f : inv) {
        const double wavelen = 2.0 * kPi / f;
        if (wavelen < highWavelen) continue;
        if (wavelen > lowWavelen) {
          f /= r.factor;
          continue;
        }
        const double s = (orig / wavelen - r.lowFreqFactor) / (r.highFreqFactor - r.lowFreqFactor);
        f = (1.0 - s) * f / r.factor + s * f;
      }
      return inv;
    }
  }
  return plain(r.theta, d);
}

void ropeTable(const Rope& r, int64_t start, int64_t t, std::vector<float>& cosT,
               std::vector<float>& sinT) {
  const int64_t half = r.dim / 2;
  const std::vector<double> inv = ropeInverseFrequencies(r, start + t);
  cosT.assign(size_t(t * half), 0.0f);
  sinT.assign(size_t(t * half), 0.0f);
  for (int64_t i = 0; i < half; i++)
    for (int64_t p = 0; p < t; p++) {
      const double a = double(start + p) * inv[size_t(i)];
      cosT[size_t(p * half + i)] = float(std::cos(a) * r.attentionFactor);
      sinT[size_t(p * half + i)] = float(std::sin(a) * r.attentionFactor);
    }
}

}  // namespace forward
}  // namespace bitsmith
