// Model readers: safetensors (single file or sharded with model.safetensors.index.json,
// or a Hugging Face folder), GGUF and llama2.c checkpoints. Every header field, shape and
// offset is validated against the file before any tensor data is touched; failures are
// ModelError with the codes of core/src/models/types.ts, naming the file and tensor.
// Every count and length is checked against the file before anything is allocated for it;
// tensor names are non-empty, valid UTF-8 and unique (model/bad-header; in a safetensors
// header an invalid name is model/bad-json, as for any invalid JSON text). A tensor with
// no elements (a 0 in its shape) is read like any other: kept, 0 bytes (as the editor's
// readers and the plan treat it).
// Tensor data is read with pread (io/input_file.h): a file truncated while it is read is
// an error, never a crash.
//
// Tensor names and shapes agree with the TypeScript header readers in core/src/models:
// PyTorch order ([out, in] for a linear weight), GGUF shapes are ne reversed, llama2.c
// tensors get Hugging Face Llama names.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "io/dtype.h"
#include "io/input_file.h"
#include "io/json.h"

namespace bitsmith {

struct TensorRef {
  std::string name;
  std::vector<int64_t> shape;  // PyTorch order; the last dimension is the input dimension
  DType dtype = DType::F32;
  std::string dtypeName;  // "F32", "BF16", or a ggml type name such as "Q4_K"
  int64_t elements = 0;
  int64_t bytes = 0;
  int file = 0;         // index into Model::files
  uint64_t offset = 0;  // absolute byte offset of the data in that file
  // llama2.c q/k projections are stored with interleaved rotary pairs; the Hugging Face
  // layout groups them per head. When permuteHeads > 0, row r of this (HF) tensor is row
  // sourceRow(r) of the stored data.
  int64_t permuteHeads = 0;

  int64_t cols() const { return shape.empty() ? 1 : shape.back(); }
  int64_t rows() const { return cols() ? elements / cols() : 0; }
  int64_t rowBytes() const { return rows() ? bytes / rows() : 0; }
  int64_t sourceRow(int64_t r) const;
};

class Model {
 public:
  /** Opens a model: a folder, .safetensors, .gguf or llama2.c .bin. Throws ModelError. */
  static std::unique_ptr<Model> open(const std::string& path);

  std::string path;
  std::string format;        // "hf-folder", "safetensors", "gguf", "llama2c"
  std::string architecture;  // "llama", ... ("" when unknown)
  std::vector<TensorRef> tensors;
  std::vector<std::unique_ptr<InputFile>> files;
  json::Value metadata;  // safetensors __metadata__ (object of strings), when any
  // GGUF sources: every metadata key/value in file order, the value as its raw bytes
  // (u32 value type, then the value), for output gguf to carry over (tokenizer, ...).
  std::vector<std::pair<std::string, std::string>> ggufKvs;

  const TensorRef* find(const std::string& name) const;
  const InputFile& fileOf(const TensorRef& t) const { return *files[size_t(t.file)]; }

  /** Rows [r0, r1) of a readable-float tensor, or of a GGUF tensor in a ggml block type
   *  the backend decodes (ggml.h), as f32 into out[(r1-r0)*cols]. Throws ModelError
   *  model/unsupported-dtype for other dtypes. Returns false if any value read
   *  is NaN or infinite. */
  bool readRowsF32(const TensorRef& t, int64_t r0, int64_t r1, float* out) const;
  /** Rows [r0, r1) of any plain-dtype tensor as stored bytes (in HF row order); a ggml
   *  block tensor only whole. */
  void readRowsRaw(const TensorRef& t, int64_t r0, int64_t r1, uint8_t* out) const;
  /** Throws model/unsupported-dtype unless t can be read as f32. */
  void requireReadable(const TensorRef& t) const;
  /** Rows [r0, r1) of t are read for good (InputFile::done: a page-cache hint). */
  void release(const TensorRef& t, int64_t r0, int64_t r1) const;

 private:
  std::unordered_map<std::string, size_t> index_;
  friend class ModelBuilder;
  void buildIndex();
};

struct GgmlTypeInfo;
/** The backend's ggml type of a GGUF block-quantized tensor (nullptr for plain dtypes and
 *  for ggml types the backend has no decoder for, e.g. IQ2_XXS). */
const GgmlTypeInfo* ggmlSourceType(const TensorRef& t);

// Format-specific readers (each validates completely; used by Model::open).
/** Adds every tensor of one safetensors file; `expected` (from an index) must all be in it. */
void readSafetensorsInto(Model& m, const std::string& file,
                         const std::vector<std::string>* expected = nullptr);
void readGgufInto(Model& m, const std::string& file);
void readLlama2cInto(Model& m, const std::string& file);

/** The most tensors a model may have (the largest models have ~100k): a bound on what a
 *  header can make the readers allocate (core/src/models/types.ts MAX_TENSORS). */
constexpr size_t kMaxTensors = 1000000;
/** config.json beside a model: at most 64 MiB and 1M JSON values (real ones are a few KB). */
constexpr uint64_t kMaxConfigBytes = uint64_t(64) << 20;
inline json::ParseLimits configLimits() {
  json::ParseLimits l;
  l.maxValues = size_t(1) << 20;
  return l;
}
/** Throws ModelError `code` (model/bad-header unless given) unless `name`, a tensor name
 *  read from `file`, is non-empty and valid UTF-8. */
void checkTensorName(const std::string& file, const std::string& name,
                     const char* code = "model/bad-header");
/** A tensor name for a message: quoted, control characters escaped, long names cut. */
std::string quotedName(const std::string& name);

/** Overflow-checked a*b and a+b for non-negative int64; false on overflow. */
inline bool mulOk(int64_t a, int64_t b, int64_t& out) {
  return !__builtin_mul_overflow(a, b, &out) && out >= 0;
}
inline bool addOk(int64_t a, int64_t b, int64_t& out) {
  return !__builtin_add_overflow(a, b, &out) && out >= 0;
}

}  // namespace bitsmith
