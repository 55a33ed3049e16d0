// A file the backend reads: a model, an index, config.json, an imatrix or a token file.
// Only regular files are opened (a FIFO, device, socket or folder is refused by name, and
// the open never blocks: O_NONBLOCK), and every read goes through pread with its byte
// count checked. Nothing is memory-mapped: a file that shrinks while it is read (another
// process truncating it) is a ModelError naming the file and the tensor, never a SIGBUS.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace bitsmith {

class InputFile {
 public:
  /** Opens `path`; throws ModelError model/not-found, or model/unreadable (not a regular
   *  file, no permission, ...). */
  explicit InputFile(const std::string& path);
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  const std::string& path() const { return path_; }
  /** The size when the file was opened; every header check is made against it. */
  uint64_t size() const { return size_; }

  /** Reads exactly n bytes at `offset` into dst (thread-safe). A read past the end (the
   *  file shrank since it was opened) throws ModelError model/truncated, an I/O error
   *  model/unreadable; both name the file and, when given, the tensor. */
  void read(uint64_t offset, void* dst, size_t n, const std::string& tensor = std::string()) const;
  /** The bytes [offset, offset + n) as a string (n is the caller's bounded length). */
  std::string readString(uint64_t offset, size_t n) const;

  /** Hints that [offset, offset + length) will be read soon, front to back. */
  void willNeed(uint64_t offset, uint64_t length) const;
  /** Hints that [offset, offset + length) will not be read again: dropped from the page
   *  cache when the file is larger than half the memory (a model read once would
   *  otherwise push everything else out); smaller files stay cached for the next run. */
  void done(uint64_t offset, uint64_t length) const;

 private:
  [[noreturn]] void shrank(uint64_t offset, size_t n, uint64_t got,
                           const std::string& tensor) const;

  std::string path_;
  uint64_t size_ = 0;
  bool dropCache_ = false;
#ifdef _WIN32
  void* handle_ = nullptr;
#else
  int fd_ = -1;
#endif
};

/** True if path is an existing directory. */
bool isDirectory(const std::string& path);
/** True if path exists (any kind). */
bool pathExists(const std::string& path);

}  // namespace bitsmith
