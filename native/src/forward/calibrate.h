// Calibration data and what is measured on it with the forward pass:
//  - sequences: sampled from the unquantized model itself (`calibration generated`: BOS,
//    then temperature-1 sampling with the KV cache, SplitMix64-seeded) or read from a
//    JSON file of token ids (`calibration tokens "file.json"`: an array of arrays of
//    integers, every id checked against the vocabulary, errors naming the file, the
//    sequence and the position);
//  - Hessians: per linear-layer input site (q/k/v share one, gate/up share one, o and
//    down have their own), H = sum over calibration tokens of x x^T in f64, streamed
//    sequence by sequence (linalg::gramAccumulate), with its token count, and the sum of
//    |x| per input channel (method awq's activation statistic);
//  - evaluation: the original and a fake-quantized model on held-out sequences:
//    perplexity of both, KL(original || quantized) of the next-token distributions per
//    position and the other figures of llama-perplexity --kl-divergence (eval_stats.h).
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "forward/eval_stats.h"
#include "forward/llama.h"

namespace bitsmith {
namespace forward {

using Sequences = std::vector<std::vector<int32_t>>;

/** `samples` sequences of `length` ids each (BOS first), sampled at temperature 1. */
Sequences generateSequences(const LlamaModel& model, int64_t samples, int64_t length, uint64_t seed,
                            const std::atomic<bool>* cancel = nullptr,
                            const std::function<void(int64_t)>& onSequence = {});

/** Reads a JSON array of arrays of token ids. Keeps the first `samples` sequences (0: all)
 *  and truncates each to `length` ids (0: as written). Throws ModelError
 *  calibration/bad-tokens naming the file, sequence and position. */
Sequences readTokenFile(const std::string& path, int64_t vocab, int64_t maxPositions,
                        int64_t samples = 0, int64_t length = 0);

struct Hessian {
  int64_t layer = 0;
  Site site = Site::Attn;
  int64_t n = 0;          // input features
  int64_t tokens = 0;     // rows accumulated
  std::vector<double> h;  // n x n, row-major, symmetric
  std::vector<double>
      absSum;  // n: sum over tokens of |x_j| (AWQ's activation scale is absSum / tokens)
  std::vector<std::string> tensors;  // the weights reading this input
};

class HessianCollector : public InputObserver {
 public:
  /** Sites of layers [firstLayer, firstLayer + layers) (layers < 0: to the last). */
  HessianCollector(const LlamaConfig& c, ThreadPool* pool, linalg::Path path = linalg::Path::Auto,
                   int64_t firstLayer = 0, int64_t layers = -1);
  void onInput(int64_t layer, Site site, const float* x, int64_t t, int64_t n) override;
  std::vector<Hessian>& hessians() { return hs_; }
  const std::vector<Hessian>& all() const { return hs_; }
  /** Adds another collector's sums (same model). */
  void merge(const HessianCollector& o);
  /** Completes the Hessians: onInput accumulates the upper triangles only; this mirrors
   *  them (collectHessians calls it at the end). */
  void finish();
  /** The Hessian of a weight tensor's input, or null. */
  const Hessian* forTensor(const std::string& name) const;
  linalg::Path path() const { return path_; }
  /** Frees a site's sums once its tensors are quantized (its entry stays, with n = 0). */
  void release(int64_t layer, Site site);
  /** Bytes held by the sums. */
  int64_t bytes() const;

 private:
  Hessian& at(int64_t layer, Site site);
  std::vector<Hessian> hs_;  // (layer - first_) * kSites + site
  int64_t first_ = 0, width_[kSites] = {0, 0, 0, 0};
  ThreadPool* pool_;
  linalg::Path path_;
};

/** Runs every sequence through the model (one batched forward call each), feeding the
 *  collector. Small models run sequences in parallel (sequence i on slot i mod threads,
 *  each slot with its own sums, merged in slot order: deterministic for a thread count). */
void collectHessians(const LlamaModel& model, const Sequences& seqs, HessianCollector& collector,
                     const std::atomic<bool>* cancel = nullptr);

/** One layer of the layer-streamed pipeline over every sequence: xs[i] (the hidden
 *  states of sequence i, [len_i, dim]) is replaced by the layer's output, in place; the
 *  observer (optional) sees the layer's linear inputs. Small models run sequences in
 *  parallel, as collectHessians does, with per-slot collectors merged in slot order (the
 *  same sums, in the same order, as the whole-model pass). `onSequence(i)` is called after
 *  each sequence (progress, cancel). */
void layerOverSequences(const LlamaConfig& c, const LayerWeights& w, int64_t layer,
                        std::vector<std::vector<float>>& xs, HessianCollector* collector,
                        ThreadPool* pool, const std::function<void(size_t)>& onSequence);

/** Hidden states of many sequences between layers, [len_i, dim] each: in f32, or in bf16
 *  (half the memory; what GPTQModel keeps, the model's dtype) when they are large. A
 *  layer runs on one sequence at a time in f32 either way. */
class SequenceStates {
 public:
  SequenceStates() = default;
  SequenceStates(std::vector<std::vector<float>> f32, bool bf16);
  size_t size() const { return bf16_ ? half_.size() : f32_.size(); }
  bool bf16() const { return bf16_; }
  int64_t bytes() const;
  /** The f32 states (f32 mode only). */
  std::vector<std::vector<float>>& f32() { return f32_; }

 private:
  friend void layerOverStates(const LlamaConfig&, const LayerWeights&, int64_t, SequenceStates&,
                              HessianCollector*, ThreadPool*, const std::function<void(size_t)>&);
  bool bf16_ = false;
  std::vector<std::vector<float>> f32_;
  std::vector<std::vector<uint16_t>> half_;
};

/** layerOverSequences over SequenceStates (bf16 states: a sequence at a time, converted). */
void layerOverStates(const LlamaConfig& c, const LayerWeights& w, int64_t layer, SequenceStates& xs,
                     HessianCollector* collector, ThreadPool* pool,
                     const std::function<void(size_t)>& onSequence);

struct Evaluation {
  int64_t sequences = 0;  // sequences with a scored position
  EvalStats stats;        // the figures (forward/eval_stats.h); stats.tokens: scored positions
};

/** Whole-model reference of the streamed evaluation (run/eval_stream.h): scores the
 *  predictions of positions scoreFrom .. len - 2 of each sequence. */
Evaluation evaluate(const LlamaModel& original, const LlamaModel& quantized, const Sequences& seqs,
                    const std::atomic<bool>* cancel = nullptr, int64_t scoreFrom = 0);

}  // namespace forward
}  // namespace bitsmith
