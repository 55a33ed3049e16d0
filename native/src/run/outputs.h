// Where a run's tensors go, behind one interface: output fake (a safetensors file of
// dequantized weights in their source dtype), output compressed_tensors (a folder: packed
// codes, config.json, copied files) and output gguf (llama.cpp's blocks). Every sink
// writes to a temporary file renamed into place at commit; an uncommitted sink removes it.
// Tensors arrive in the run's order (run/validate.h), the order of the output's header.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "io/model.h"
#include "quant/quantize.h"
#include "quant/stored.h"
#include "run/job.h"

namespace bitsmith {

class AsyncWriter;
class RunEvents;
class ThreadPool;

struct Item {
  const TensorRef* ref;
  const JobTensor* job;  // null: not in the plan, copied unchanged
};

/** Where row chunks of a tensor go, in order (run/tensor_stage.cc streams row-local
 *  quantization across the pool): the reconstruction in the written dtype (output fake),
 *  or the chunk's stored codes (output gguf: ggml blocks never straddle rows). */
class RowChunkSink {
 public:
  virtual ~RowChunkSink() = default;
  /** Whether chunks carry their stored codes (else the reconstruction). */
  virtual bool wantsStored() const = 0;
  virtual void push(std::unique_ptr<uint8_t[]> data, size_t n) = 0;
  virtual void push(std::vector<float>&& values) = 0;
};

class OutputSink {
 public:
  virtual ~OutputSink() = default;
  /** Whether quantized tensors must come with their stored codes (StoredTensor). */
  virtual bool needsStored() const = 0;
  /** Row chunks of this tensor, in order, or null when the sink needs it whole. */
  virtual RowChunkSink* rowChunks(size_t /*index*/) { return nullptr; }
  /** A tensor kept as it is; `folded` (method awq with an output of codes): the norm
   *  weight's bytes g / s to write instead, or null. */
  virtual void keep(size_t index, const TensorRef& ref, const std::vector<uint8_t>* folded,
                    RunEvents& ev) = 0;
  /** A quantized tensor: the reconstruction (source row order) and, when needsStored(),
   *  its stored codes (source row order). */
  virtual void quantized(size_t index, const TensorRef& ref, const QuantConfig& cfg,
                         std::vector<float>& dequant, const StoredTensor& stored,
                         ThreadPool& pool) = 0;
  /** Completes the output under its temporary name (a folder's files too). */
  virtual void finish(RunEvents& ev) = 0;
  /** Throws run/output-changed when the destination is no longer what the caller checked. */
  virtual void checkDestination() const = 0;
  /** Renames the finished output into place. */
  virtual void commit() = 0;
};

/** The sinks a job asks for (none, one, or fake / compressed_tensors with gguf). Opening
 *  checks that no output overwrites the model, and that every tensor can be stored. */
class Outputs {
 public:
  Outputs(const Job& job, const Model& model, const std::vector<Item>& items);
  bool any() const { return !sinks_.empty() || imatrix_; }
  bool needsStored() const;
  /** The one sink taking this tensor's row chunks when it is the only sink, else null. */
  RowChunkSink* rowChunks(size_t index);
  void keep(size_t index, const TensorRef& ref, const std::vector<uint8_t>* folded, RunEvents& ev);
  void quantized(size_t index, const TensorRef& ref, const QuantConfig& cfg,
                 std::vector<float>& dequant, const StoredTensor& stored, ThreadPool& pool);
  void commit(RunEvents& ev);
  /** Whether a sink of codes (gguf, compressed_tensors) is open: awq folds into norms. */
  bool storesCodes() const { return storesCodes_; }
  bool hasCompressedTensors() const { return ct_; }
  /** output imatrix (or null): fed by the layer pipeline, committed with the others. */
  ImatrixSink* imatrix() { return imatrix_.get(); }
  /** Creates the imatrix sink once the calibration's sequence count is known. */
  void openImatrix(const Job& job, int64_t chunks);

 private:
  std::vector<std::unique_ptr<OutputSink>> sinks_;
  std::unique_ptr<ImatrixSink> imatrix_;
  bool storesCodes_ = false, ct_ = false;
};

}  // namespace bitsmith
