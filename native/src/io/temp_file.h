// A file written under a temporary name beside its destination and renamed into place
// only when complete, so an error, a cancel or a crash never leaves a partial output.
// Shared by the safetensors and GGUF writers.
#pragma once
#include <cstddef>
#include <string>

namespace bitsmith {

class TempFile {
 public:
  /** path: the destination; nothing is created until open(). */
  explicit TempFile(std::string path) : path_(std::move(path)) {}
  ~TempFile() { abort(); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  /** Creates `.<name>.bitsmith-<pid>-<n>.tmp` beside the destination (exclusively). Throws
   *  ModelError run/write-failed when the folder is missing or the file cannot be created. */
  void open();
  bool isOpen() const { return fd_ >= 0; }
  /** Writes all n bytes (retrying short writes); run/write-failed on an error, which also
   *  removes the temporary file. */
  void write(const void* data, size_t n);
  /** Closes and renames into place. */
  void commit();
  /** Closes and removes the temporary file unless committed (idempotent). */
  void abort() noexcept;
  const std::string& path() const { return path_; }
  const std::string& tempPath() const { return temp_; }

 private:
  [[noreturn]] void fail(const std::string& what, int err);
  std::string path_, temp_;
  int fd_ = -1;
  bool committed_ = false;
};

}  // namespace bitsmith
