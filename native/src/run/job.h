// A run's job, as the CLI sends it (cli/src/run/native.ts, the contract in
// cli/src/run/contract.schema.json) and napi/run_api.cc parses it.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "io/json.h"
#include "io/temp_file.h"
#include "quant/awq.h"
#include "quant/gptq.h"
#include "quant/quantize.h"
#include "run/imatrix_out.h"
#include "run/importance.h"
#include "run/method.h"

namespace bitsmith {

struct JobTensor {
  std::string name;
  std::vector<int64_t> shape;  // the plan's shape, re-checked against the model
  bool quantize = false;
  Method method = Method::Rtn;
  std::string unknownMethod;  // a method name the runner does not have (refused by validate)
  GptqOptions gptq;
  quant::AwqOptions awq;
  QuantConfig config;
  int64_t expectedBytes = -1;  // the plan's bytes for this tensor (>= 0: checked before any rename)
};

// Sequences for the forward pass: sampled from the unquantized model (generated), read
// from a JSON file of token-id arrays (tokens), or a text file the CLI has tokenized with
// the model's tokenizer (text: the ids arrive in `sequences`, re-validated here).
// samples/length 0: the defaults (generated: 16 sequences of min(128, max positions) ids;
// tokens and text: as given).
struct SequenceSource {
  std::string kind;  // "" (none), "generated", "tokens", "text"
  std::string path;  // tokens: the file; text: the text file (for the report)
  std::vector<std::vector<int32_t>> sequences;  // text: the tokenized windows
  int64_t samples = 0, length = 0;
  uint64_t seed = 0;
  // evaluate: the first position whose next-token prediction is scored in each sequence
  // (0: every position; perplexity text: length / 2, as llama-perplexity scores only the
  // second half of each window).
  int64_t scoreFrom = 0;
  bool enabled() const { return !kind.empty(); }
};

struct Job {
  std::string model;
  std::vector<JobTensor> tensors;
  bool output = false;  // output fake "path" or output compressed_tensors "dir"
  std::string outputKind =
      "fake";  // "fake" (a safetensors file) or "compressed_tensors" (a folder)
  std::string outputPath;
  // compressed_tensors: config.json's text (written as is) and files copied into the folder
  // (source path, file name).
  std::string outputConfig;
  std::vector<std::pair<std::string, std::string>> outputCopies;
  json::Value outputMetadata =
      json::Value::object();  // extra __metadata__ strings (recipe name, ...)
  // What may be at outputPath / ggufPath when the finished output is renamed there (the
  // caller's safety check: nothing, or the Bitsmith output it found; io/temp_file.h).
  ReplacePolicy outputReplace, ggufReplace;
  // output gguf "path": ggufSpec = {metadata: [{key, type, itemType?, value}],
  // tensors: {"<source name>": {name: "<gguf name>", permuteHeads: n}}} (n > 0: rows of
  // this tensor, in the Hugging Face rotate-half order, are written in llama.cpp's
  // interleaved order, head by head; quantized after the permutation).
  bool gguf = false;
  std::string ggufPath;
  json::Value ggufSpec = json::Value::object();
  int threads = 0;                           // 0: all cores
  int64_t chunkElements = int64_t(1) << 18;  // row chunk target (cache-sized); <= 0: whole tensors
  bool reference = false;                    // use the scalar reference quantizers
  // calibration: per-input-site Hessians from the forward pass over these sequences; each
  // quantized linear weight then reports its output error tr(dW H dW^T) / tr(W H W^T).
  SequenceSource calibration;
  // calibration imatrix "file": per-input-channel importance (the diagonal of X^T X only:
  // no forward pass, no gptq); see run/importance.h.
  ImatrixSource imatrix;
  // evaluate: the original and the fake-quantized model on these held-out sequences
  // (perplexity of both, KL divergence, Δp, same top token: forward/eval_stats.h).
  SequenceSource evaluate;
  // The layer-streamed pipeline (run/layer_pipeline.h): whether layer l + 1 is calibrated on
  // the outputs of the already-quantized layer l (true: GPTQModel's true-sequential,
  // llm-compressor's sequential pipeline) or of the original layer (false: the Hessians of
  // the original model, as one whole-model pass collects them).
  bool sequential = true;
  // Calibration hidden states above this many bytes (f32, with the sequential pass's copy)
  // are kept in bf16; < 0: the pipeline's default (1 GiB).
  int64_t activationsBf16Above = -1;
  // evaluate: a folder where the original model's log-probabilities on the evaluation set
  // are cached between runs (run/logits_cache.h); empty: not cached.
  std::string logitsCacheDir;
  // output imatrix "file": the calibration's per-column sums of squares in llama.cpp's
  // imatrix layout (run/imatrix_out.h).
  ImatrixOutputJob imatrixOutput;
};

}  // namespace bitsmith
