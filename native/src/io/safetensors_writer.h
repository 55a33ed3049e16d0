// Streams a safetensors file tensor by tensor: the header (known up front: every tensor's
// dtype, shape and byte size) is written first, then the data in header order. The file
// is built under a temporary name in the destination folder and renamed into place by
// commit(); abort() or destruction without commit removes it, so no partial output is
// ever visible under the destination name.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "io/json.h"
#include "io/temp_file.h"

namespace bitsmith {

struct OutTensor {
  std::string name;
  std::string dtype;  // safetensors dtype name
  std::vector<int64_t> shape;
  int64_t bytes = 0;
};

/** The header bytes of a safetensors file (without the 8-byte length): JSON padded with
 *  spaces so that 8 + its length is a multiple of 8. */
std::string safetensorsHeader(const std::vector<OutTensor>& tensors, const json::Value& metadata);

class SafetensorsWriter {
 public:
  /** metadata: an object of string values (written as "__metadata__" when not empty). */
  SafetensorsWriter(std::string path, std::vector<OutTensor> tensors, json::Value metadata);
  ~SafetensorsWriter();
  SafetensorsWriter(const SafetensorsWriter&) = delete;
  SafetensorsWriter& operator=(const SafetensorsWriter&) = delete;

  /** Creates the temporary file and writes the header. Throws ModelError run/write-failed. */
  void open();
  /** Appends data; the bytes go to the tensors in header order and may not exceed them. */
  void write(const void* data, size_t n);
  /** Index of the tensor the next byte belongs to. */
  size_t currentTensor() const { return current_; }
  /** All bytes written: close and rename into place. */
  void commit();
  /** Closes and removes the temporary file (idempotent). */
  void abort() noexcept;
  const std::string& path() const { return file_.path(); }
  const std::string& tempPath() const { return file_.tempPath(); }
  /** What may be at the destination at commit (io/temp_file.h). */
  void setReplacePolicy(ReplacePolicy p) { file_.setReplacePolicy(std::move(p)); }
  uint64_t bytesWritten() const { return written_; }

 private:
  TempFile file_;
  std::vector<OutTensor> tensors_;
  json::Value metadata_;
  size_t current_ = 0;
  int64_t leftInCurrent_ = 0;
  uint64_t written_ = 0;
};

}  // namespace bitsmith
