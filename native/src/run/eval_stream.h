// The evaluation's last stage: the final norm and the output head over the evaluation
// positions, for the original and the quantized model, one vocabulary chunk at a time
// (never the whole [positions, vocab] logits). Per position, online over the chunks: the
// running max and sum of exp for each model's log-sum-exp, the sum of exp(a_i - m)(a_i - b_i)
// for KL(original || quantized) = sum p_i (a_i - b_i) - lse_a + lse_b, the target's logits
// and both argmaxes; after the last chunk each position's score is exact, and the figures
// are forward/eval_stats.h's. The original's logits come from the cache when it has them.
#pragma once
#include <functional>
#include <vector>

#include "forward/calibrate.h"
#include "forward/llama.h"
#include "io/model.h"

namespace bitsmith {

class LogitsCache;
class RunEvents;
class ThreadPool;

/** Rows [v0, v1) of the quantized model's head, f32, into out[(v1 - v0) * dim]. */
using HeadRows = std::function<void(int64_t v0, int64_t v1, float* out)>;

/** The vocabulary chunk width for `positions` positions (about 32 MiB of logits per model). */
int64_t headChunk(int64_t positions, int64_t vocab);

/** xo: the original model's final hidden states per sequence (null: the cache has its
 *  logits); xq: the quantized model's. fraction0/1: the span of the run's progress.
 *  scoreFrom: the first position whose prediction is scored in each sequence (0: all;
 *  llama-perplexity scores from n_ctx / 2). */
forward::Evaluation evaluateHead(const Model& model, const forward::LlamaConfig& fc,
                                 const forward::Sequences& seqs,
                                 const std::vector<std::vector<float>>* xo,
                                 const std::vector<std::vector<float>>& xq,
                                 const HeadRows& quantizedHead, LogitsCache& cache,
                                 ThreadPool& pool, RunEvents& events, double fraction0,
                                 double fraction1, int64_t scoreFrom = 0);

}  // namespace bitsmith
