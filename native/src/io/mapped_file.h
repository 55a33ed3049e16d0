// A read-only memory map of a whole file. Tensor data is read straight from the map and
// the pages of a finished tensor are handed back (release) so the resident set stays near
// the working set of one tensor, however large the model.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace bitsmith {

class MappedFile {
 public:
  /** Opens and maps `path`; throws ModelError (model/not-found, model/unreadable). */
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }
  const uint8_t* data() const { return data_; }
  /** Drops the resident pages fully inside [offset, offset+length) from this process. */
  void release(uint64_t offset, uint64_t length) const;
  /** Hints that [offset, offset+length) will be read soon, front to back. */
  void willNeed(uint64_t offset, uint64_t length) const;

 private:
  std::string path_;
  uint64_t size_ = 0;
  const uint8_t* data_ = nullptr;
#ifdef _WIN32
  void* file_ = nullptr;
  void* mapping_ = nullptr;
#endif
};

/** True if path is an existing directory. */
bool isDirectory(const std::string& path);
/** True if path exists (any kind). */
bool pathExists(const std::string& path);

}  // namespace bitsmith
