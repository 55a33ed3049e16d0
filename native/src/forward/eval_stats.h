// The evaluation's figures from per-position scores, as llama-perplexity --kl-divergence
// reports them: perplexity of both models with its uncertainty, ln(PPL(Q)/PPL(base)) with
// the covariance-aware uncertainty, KL(original || quantized) mean ± uncertainty and its
// distribution, the probability the quantized model gives the reference token minus the
// original's (Δp: mean ± uncertainty, distribution, RMS ± uncertainty), and the share of
// positions whose most likely token is the same. Statistics follow the tool's rules: a
// mean's uncertainty is sqrt(var / (n - 1)) (0 for n <= 10); percentiles interpolate
// linearly between sorted values at fraction * (n - 1); the median averages the two middle
// values of an even count. Each position's score is exact (computed from full f64
// log-sum-exps), so the figures differ from the tool's only by its 16-bit base log-probs.
#pragma once
#include <cstdint>
#include <vector>

#include "io/json.h"

namespace bitsmith {
namespace forward {

/** One scored position: both models' NLL of the reference next token, KL, top tokens. */
struct PositionScore {
  double nllA = 0, nllB = 0;  // original (A), quantized (B), nats
  double kl = 0;              // KL(A || B), nats
  bool sameTop = false;
};

/** A distribution summary (mean, its uncertainty, order statistics). */
struct Distribution {
  double mean = 0, uncertainty = 0;
  double min = 0, p1 = 0, p5 = 0, p10 = 0, p25 = 0, median = 0, p75 = 0, p90 = 0, p95 = 0, p99 = 0,
         p999 = 0, max = 0;
};

struct EvalStats {
  int64_t tokens = 0;
  double nllOriginal = 0, nllQuantized = 0;  // means
  double perplexityOriginal = 0, perplexityOriginalUncertainty = 0;
  double perplexityQuantized = 0, perplexityQuantizedUncertainty = 0;
  double lnPerplexityRatio = 0, lnPerplexityRatioUncertainty = 0;
  double nllCorrelation = 0;  // of the two models' per-position NLLs
  Distribution kl;
  Distribution deltaP;  // p_B(reference) - p_A(reference)
  double deltaPRms = 0, deltaPRmsUncertainty = 0;
  double sameTop = 0, sameTopUncertainty = 0;
};

/** Mean and its uncertainty from the sum and the sum of squares (llama-perplexity's rule). */
void meanAndUncertainty(double sum, double sum2, int64_t n, double& mean, double& uncertainty);

/** The percentile of sorted values at fraction (linear interpolation at fraction*(n-1)). */
double percentile(const std::vector<double>& sorted, double fraction);

/** Throws ModelError evaluate/no-data when scores is empty. */
EvalStats summarize(const std::vector<PositionScore>& scores);

/** Sets the figures on an evaluation event (the contract's event.evaluation fields:
 *  tokens, perplexity*, nll*, klMean/klP99/klMax, top1Agreement and the objects kl,
 *  deltaP, sameTop). */
void setEvaluationFields(json::Value& ev, const EvalStats& s);

}  // namespace forward
}  // namespace bitsmith
