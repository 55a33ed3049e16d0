// Executes a plan on a model: tensor by tensor (and, when the configuration is row-local,
// row chunk by row chunk), read from the model (io/input_file.h), converted to f32,
// quantized by quantizeTensor (quant/quantize.h), measured, and written back dequantized
// in the source dtype to a fake-quant safetensors file. Progress goes to an EventSink as
// JSON objects; a cancel flag is checked between tensors and between chunks.
#pragma once
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "io/json.h"
#include "quant/awq.h"
#include "quant/gptq.h"
#include "quant/quantize.h"
#include "run/importance.h"

namespace bitsmith {

struct JobTensor {
  std::string name;
  std::vector<int64_t> shape;  // the plan's shape, re-checked against the model
  bool quantize = false;
  std::string method = "rtn";  // rtn, hqq (config.hqq), gptq or awq (need calibration)
  GptqOptions gptq;
  quant::AwqOptions awq;
  QuantConfig config;
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
  // (perplexity of both, KL divergence mean/p99/max, top-1 agreement).
  SequenceSource evaluate;
};

class EventSink {
 public:
  virtual ~EventSink() = default;
  /** One event: an object with a "type" member. Returns false if delivery is impossible
   *  (the consumer is gone); the run then stops as if cancelled. */
  virtual bool emit(json::Value event) = 0;
};

// Runs the job; returns the summary (the "done" event's payload). Throws ModelError
// (codes model/..., run/...), including run/cancelled. The caller emits the error event.
json::Value runJob(const Job& job, EventSink& sink, const std::atomic<bool>& cancel);

/** Whether quantizing rows [r0, r1) on their own gives exactly the rows of the whole. */
bool rowLocal(const QuantConfig& c);

/** Peak resident set of this process in bytes (0 if unknown). */
int64_t peakRssBytes();

const char* groupKindName(GroupKind k);
const char* scaleTypeName(ScaleType s);

}  // namespace bitsmith
