// A Llama-family forward pass in f32 for calibration and evaluation: Llama (Hugging Face
// LlamaForCausalLM folders and llama2.c checkpoints), Mistral, Qwen2 (q/k/v biases) and
// Qwen3 (per-head RMSNorm of q and k). Config-driven: config.json of an HF folder (or
// beside a .safetensors file), the header of a llama2.c .bin. Other architectures get a
// forward/unsupported-architecture error naming them.
//
// Conventions (as Hugging Face's modeling_llama): RMSNorm x / sqrt(mean(x^2) + eps) * w;
// rotary embedding in the rotate-half convention (dimension i of a head pairs with
// i + head_dim/2, inv_freq_i = theta^(-2i/head_dim)); llama2.c's interleaved q/k rows are
// presented in that order by the reader (io/llama2c.cc), so one pass serves both;
// grouped-query attention (query head h reads kv head h / (heads / kv_heads)); causal
// mask, and Mistral's sliding window when the config sets one; SwiGLU MLP
// down(silu(gate(x)) * up(x)); tied embeddings when there is no lm_head.weight.
//
// A call processes T tokens at positions [start, start + T) of one sequence at once
// (every linear layer is one GEMM over the T rows), appending their keys and values to a
// KV cache: T = the whole sequence for calibration and evaluation, T = 1 per step for
// generation. Weights are read once through the model readers (every shape checked,
// NaN/Inf rejected, naming the tensor) and kept packed for the GEMM; `overrides`
// replaces stored tensors (the dequantized weights of a fake-quantized model).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "linalg/gemm.h"

namespace bitsmith {

class Model;
class ThreadPool;

namespace forward {

struct LlamaConfig {
  std::string architecture;  // llama, mistral, qwen2, qwen3
  std::string source;        // where the config came from (config.json path or the .bin)
  int64_t dim = 0, hidden = 0, layers = 0, heads = 0, kvHeads = 0, headDim = 0, vocab = 0;
  int64_t maxPositions = 0;  // 0: unknown
  double normEps = 1e-5;
  double ropeTheta = 10000.0;
  bool qkvBias = false;       // q/k/v projections have biases (Qwen2, attention_bias)
  bool qkNorm = false;        // per-head RMSNorm of q and k before RoPE (Qwen3)
  int64_t slidingWindow = 0;  // attend to the last W positions only (Mistral); 0: off
  int64_t bosToken = 1;
  int64_t qDim() const { return heads * headDim; }
  int64_t kvDim() const { return kvHeads * headDim; }
};

/** Reads the model's architecture. Throws ModelError (forward/...) naming the file. */
LlamaConfig readConfig(const Model& m);

/** Where a linear layer's input is taken: the tensors reading it share one X^T X. */
enum class Site { Attn = 0, AttnOut = 1, Mlp = 2, Down = 3 };
constexpr int kSites = 4;
/** The weight tensors that read a site's input in layer l (q/k/v; o; gate/up; down). */
std::vector<std::string> siteTensors(int64_t layer, Site s);
const char* siteName(Site s);

/** Receives each linear layer's input X[T, n] (row-major) during a forward call. */
class InputObserver {
 public:
  virtual ~InputObserver() = default;
  virtual void onInput(int64_t layer, Site site, const float* x, int64_t t, int64_t n) = 0;
};

struct KVCache {
  int64_t capacity = 0, length = 0;
  int64_t kvHeads = 0, headDim = 0;
  // Per layer: K [kvHeads][capacity][headDim]; V transposed, [kvHeads][headDim][capacity]
  // (so P · V is the GEMM's A · B^T).
  std::vector<std::vector<float>> k, v;
};

class LlamaModel {
 public:
  using Overrides = std::unordered_map<std::string, const float*>;
  /** Reads and packs every weight. `overrides` (optional): tensor name -> f32 values of
   *  the tensor's full shape, used instead of the stored data. */
  LlamaModel(const Model& m, const LlamaConfig& c, ThreadPool* pool,
             const Overrides* overrides = nullptr);

  const LlamaConfig& config() const { return c_; }
  KVCache newCache(int64_t capacity) const;

  /** Runs tokens[0..t) at positions [cache.length, cache.length + t); appends to the
   *  cache. logits: [t, vocab] (allLogits) or [vocab] for the last token only, or null.
   *  Token ids are checked against the vocabulary. */
  void forward(const int32_t* tokens, int64_t t, KVCache& cache, float* logits, bool allLogits,
               InputObserver* observer = nullptr, bool serial = false) const;
  /** serial = true: on the calling thread only (callers that run sequences in parallel). */
  ThreadPool* pool() const { return pool_; }
  /** Whether whole sequences should run in parallel, one per thread, rather than each
   *  call's GEMMs: for small models, whose products are too small to split well. */
  bool preferSequenceParallel() const { return c_.dim < 512; }

  /** Generation with the KV cache from `prompt`: greedy when temperature <= 0, else
   *  sampling from softmax(logits / temperature) with a SplitMix64 stream seeded by seed.
   *  Returns prompt followed by `steps` new ids. */
  std::vector<int32_t> generate(const std::vector<int32_t>& prompt, int64_t steps,
                                double temperature, uint64_t seed) const;

 private:
  struct Layer {
    std::vector<float> attnNorm, ffnNorm, bqkv, qNorm, kNorm;
    linalg::PackedB wqkv, wo, wgu, wdown;  // q|k|v rows fused; gate|up rows fused
  };
  LlamaConfig c_;
  ThreadPool* pool_;
  std::vector<float> embed_, finalNorm_;
  linalg::PackedB lmHead_;
  std::vector<Layer> layers_;
};

/** Samples an id from logits[vocab] at a temperature, with a uniform u in [0, 1). */
int32_t sampleToken(const float* logits, int64_t vocab, double temperature, double u);

}  // namespace forward
}  // namespace bitsmith
