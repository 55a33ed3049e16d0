#include "forward/eval_stats.h"

#include <algorithm>
#include <cmath>

#include "io/error.h"

namespace bitsmith {
namespace forward {

void meanAndUncertainty(double sum, double sum2, int64_t n, double& mean, double& uncertainty) {
  mean = uncertainty = 0;
  if (n < 1) return;
  mean = sum / double(n);
  const double var = sum2 / double(n) - mean * mean;
  uncertainty = var > 0 && n > 10 ? std::sqrt(var / double(n - 1)) : 0.0;
}

double percentile(const std::vector<double>& v, double fraction) {
  if (v.empty()) return 0;
  if (fraction <= 0) return v.front();
  if (fraction >= 1) return v.back();
  const double p = fraction * double(v.size() - 1);
  const size_t i = size_t(p);
  const double f = p - double(i);
  return (1 - f) * v[i] + f * v[std::min(i + 1, v.size() - 1)];
}

namespace {

Distribution distribution(std::vector<double>& v, double sum, double sum2) {
  Distribution d;
  meanAndUncertainty(sum, sum2, int64_t(v.size()), d.mean, d.uncertainty);
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  d.min = v.front();
  d.max = v.back();
  d.median = n % 2 == 0 ? 0.5 * (v[n / 2] + v[n / 2 - 1]) : v[n / 2];
  d.p1 = percentile(v, 0.01);
  d.p5 = percentile(v, 0.05);
  d.p10 = percentile(v, 0.10);
  d.p25 = percentile(v, 0.25);
  d.p75 = percentile(v, 0.75);
  d.p90 = percentile(v, 0.90);
  d.p95 = percentile(v, 0.95);
  d.p99 = percentile(v, 0.99);
  d.p999 = percentile(v, 0.999);
  return d;
}

}  // namespace

EvalStats summarize(const std::vector<PositionScore>& scores) {
  const int64_t n = int64_t(scores.size());
  if (n == 0) throw ModelError("evaluate/no-data", "evaluation needs at least one scored position");
  EvalStats s;
  s.tokens = n;
  double a = 0, a2 = 0, b = 0, b2 = 0, ab = 0, k = 0, k2 = 0, d = 0, d2 = 0, d4 = 0;
  int64_t same = 0;
  std::vector<double> kls(static_cast<size_t>(n)), dps(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; i++) {
    const PositionScore& p = scores[size_t(i)];
    a += p.nllA;
    a2 += p.nllA * p.nllA;
    b += p.nllB;
    b2 += p.nllB * p.nllB;
    ab += p.nllA * p.nllB;
    k += p.kl;
    k2 += p.kl * p.kl;
    const double dp = std::exp(-p.nllB) - std::exp(-p.nllA);
    d += dp;
    d2 += dp * dp;
    d4 += dp * dp * dp * dp;
    same += p.sameTop;
    kls[size_t(i)] = p.kl;
    dps[size_t(i)] = dp;
  }
  double uA = 0, uB = 0;
  meanAndUncertainty(a, a2, n, s.nllOriginal, uA);
  meanAndUncertainty(b, b2, n, s.nllQuantized, uB);
  s.perplexityOriginal = std::exp(s.nllOriginal);
  s.perplexityQuantized = std::exp(s.nllQuantized);
  s.perplexityOriginalUncertainty = s.perplexityOriginal * uA;
  s.perplexityQuantizedUncertainty = s.perplexityQuantized * uB;
  // Covariance of the two mean NLLs (0 for n < 10, as the tool does).
  const double cov =
      n < 10 ? 0.0 : (ab / double(n) - s.nllOriginal * s.nllQuantized) / double(n - 1);
  s.lnPerplexityRatio = s.nllQuantized - s.nllOriginal;
  s.lnPerplexityRatioUncertainty = std::sqrt(std::max(0.0, uA * uA + uB * uB - 2 * cov));
  s.nllCorrelation = uA > 0 && uB > 0 ? cov / (uA * uB) : 0.0;
  s.kl = distribution(kls, k, k2);
  s.deltaP = distribution(dps, d, d2);
  double mse = 0, mseU = 0;
  meanAndUncertainty(d2, d4, n, mse, mseU);
  s.deltaPRms = std::sqrt(mse);
  s.deltaPRmsUncertainty = s.deltaPRms > 0 ? 0.5 / s.deltaPRms * mseU : 0.0;
  s.sameTop = double(same) / double(n);
  s.sameTopUncertainty = n > 1 ? std::sqrt(s.sameTop * (1 - s.sameTop) / double(n - 1)) : 0.0;
  return s;
}

namespace {

json::Value distributionValue(const Distribution& d) {
  json::Value v = json::Value::object();
  const std::pair<const char*, double> fields[] = {{"mean", d.mean}, {"uncertainty", d.uncertainty},
                                                   {"min", d.min},   {"p1", d.p1},
                                                   {"p5", d.p5},     {"p10", d.p10},
                                                   {"p25", d.p25},   {"median", d.median},
                                                   {"p75", d.p75},   {"p90", d.p90},
                                                   {"p95", d.p95},   {"p99", d.p99},
                                                   {"p999", d.p999}, {"max", d.max}};
  for (const auto& [k, x] : fields) v.set(k, json::Value::of(x));
  return v;
}

}  // namespace

void setEvaluationFields(json::Value& ev, const EvalStats& s) {
  using json::Value;
  ev.set("tokens", Value::of(s.tokens));
  ev.set("perplexityOriginal", Value::of(s.perplexityOriginal));
  ev.set("perplexityQuantized", Value::of(s.perplexityQuantized));
  ev.set("perplexityOriginalUncertainty", Value::of(s.perplexityOriginalUncertainty));
  ev.set("perplexityQuantizedUncertainty", Value::of(s.perplexityQuantizedUncertainty));
  ev.set("lnPerplexityRatio", Value::of(s.lnPerplexityRatio));
  ev.set("lnPerplexityRatioUncertainty", Value::of(s.lnPerplexityRatioUncertainty));
  ev.set("nllCorrelation", Value::of(s.nllCorrelation));
  ev.set("nllOriginal", Value::of(s.nllOriginal));
  ev.set("nllQuantized", Value::of(s.nllQuantized));
  ev.set("klMean", Value::of(s.kl.mean));
  ev.set("klP99", Value::of(s.kl.p99));
  ev.set("klMax", Value::of(s.kl.max));
  ev.set("top1Agreement", Value::of(s.sameTop));
  ev.set("kl", distributionValue(s.kl));
  Value dp = distributionValue(s.deltaP);
  dp.set("rms", Value::of(s.deltaPRms));
  dp.set("rmsUncertainty", Value::of(s.deltaPRmsUncertainty));
  ev.set("deltaP", std::move(dp));
  Value st = Value::object();
  st.set("share", Value::of(s.sameTop));
  st.set("uncertainty", Value::of(s.sameTopUncertainty));
  ev.set("sameTop", std::move(st));
}

}  // namespace forward
}  // namespace bitsmith
