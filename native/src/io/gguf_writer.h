// Streams a GGUF v3 file (little-endian) tensor by tensor: "GGUF", u32 version 3, u64
// tensor_count, u64 kv_count, the key/values, the tensor infos (name, u32 n_dims,
// u64 ne[n_dims] in ggml order (ne[0] = the input dimension), u32 ggml type, u64 offset
// relative to the data section), zero padding to the alignment, then each tensor's data at
// its offset (each offset a multiple of the alignment; zero padding between tensors).
// Everything in the header is known up front, so it is written first; data bytes then go
// to the tensors in header order. Like SafetensorsWriter, the file is built under a
// temporary name beside the destination and renamed into place by commit(); abort() or
// destruction without commit removes it.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "io/json.h"
#include "io/temp_file.h"

namespace bitsmith {

// GGUF metadata value types.
enum GgufValueType : uint32_t {
  kGgufU8 = 0,
  kGgufI8 = 1,
  kGgufU16 = 2,
  kGgufI16 = 3,
  kGgufU32 = 4,
  kGgufI32 = 5,
  kGgufF32 = 6,
  kGgufBool = 7,
  kGgufString = 8,
  kGgufArray = 9,
  kGgufU64 = 10,
  kGgufI64 = 11,
  kGgufF64 = 12,
};

struct GgufKv {
  std::string key;
  uint32_t type = kGgufString;  // for arrays: kGgufArray, with itemType
  uint32_t itemType = kGgufString;
  json::Value value;  // number, bool, string, or an array of them
  std::string raw;    // when set: the value type and value as bytes, written as is
};

struct GgufTensor {
  std::string name;
  std::vector<int64_t> ne;  // ggml order: ne[0] is the innermost (input) dimension
  uint32_t type = 0;        // ggml type id
  int64_t bytes = 0;        // validated against ne and the type's block size
  std::string data;         // when set: its bytes, written by the writer itself (extra tensors)
};

/** Bytes of a ggml type id for ne (throws ModelError run/internal for an unknown id or a
 *  partial block). */
int64_t ggmlTensorBytes(uint32_t type, const std::vector<int64_t>& ne, const std::string& tensor);

/** Parses the job's metadata list [{key, type, itemType?, value}] (types "u8".."f64",
 *  "bool", "string", "array"); an entry with `raw` (a string of bytes) carries its value
 *  already encoded (the value type, for arrays the item type and count, then the items).
 *  Throws ModelError run/bad-job naming the key. */
std::vector<GgufKv> parseGgufKvs(const json::Value& list);

/** The spec's extraTensors [{name, values: [numbers]}] as 1-D F32 tensors carrying their
 *  data (Llama 3's rope_freqs.weight). Throws ModelError run/bad-job naming the tensor. */
std::vector<GgufTensor> ggufExtraTensors(const json::Value& spec);

/** The header: everything before the data section, padded to `alignment`. */
std::string ggufHeader(const std::vector<GgufKv>& kvs, const std::vector<GgufTensor>& tensors,
                       uint32_t alignment);

class GgufWriter {
 public:
  GgufWriter(std::string path, std::vector<GgufKv> kvs, std::vector<GgufTensor> tensors,
             uint32_t alignment = 32);
  ~GgufWriter();
  GgufWriter(const GgufWriter&) = delete;
  GgufWriter& operator=(const GgufWriter&) = delete;

  /** Creates the temporary file and writes the header (and the data of tensors that carry
   *  their own, up to the first that does not). Throws ModelError run/write-failed. */
  void open();
  /** Appends data of the current tensor; padding between tensors is inserted here, and
   *  tensors carrying their own data are written as they come up. */
  void write(const void* data, size_t n);
  size_t currentTensor() const { return current_; }
  /** Every tensor complete: close and rename into place. */
  void commit();
  void abort() noexcept;
  const std::string& path() const { return file_.path(); }
  /** What may be at the destination at commit (io/temp_file.h). */
  void setReplacePolicy(ReplacePolicy p) { file_.setReplacePolicy(std::move(p)); }
  const std::string& tempPath() const { return file_.tempPath(); }

 private:
  void advance();
  TempFile file_;
  std::vector<GgufKv> kvs_;
  std::vector<GgufTensor> tensors_;
  uint32_t alignment_;
  size_t current_ = 0;
  int64_t left_ = 0;
};

}  // namespace bitsmith
