// A file written under a temporary name beside its destination and renamed into place
// only when complete, so an error, a cancel or a crash never leaves a partial output.
// Shared by the safetensors and GGUF writers (and the compressed-tensors folder's names).
//
// Temporary names: `.<name>.bitsmith-tmp-<pid>-<random hex>` (core/src/io/tempNames.ts:
// the next run removes those whose process is gone). Before the rename the destination is
// compared with what the caller checked (ReplacePolicy): a file that appeared or changed
// since is never replaced.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace bitsmith {

/** What may be at a destination when the finished output is renamed there. */
struct ReplacePolicy {
  enum Kind {
    Unchecked,  // anything (callers that did not check: the native API's own tests)
    Nothing,    // nothing: the rename never replaces
    Identity,   // the Bitsmith output the caller checked, unchanged (identity below)
  };
  Kind kind = Unchecked;
  std::string identity;  // Identity: dev:ino:size:mtimeNs, as core/src/analysis/outputFacts.ts
};

/** dev:ino:size:mtimeNs of what is at path (lstat), or "" when nothing is. */
std::string pathIdentity(const std::string& path);

/** Throws ModelError run/output-changed when what is at path no longer matches the policy. */
void checkDestination(const std::string& path, const ReplacePolicy& policy);

/** Renames a finished temporary file (isFile) or folder onto `to` as the policy allows
 *  (without replacing anything when nothing was there); returns 0 or an errno. Throws
 *  run/output-changed when the destination is no longer what the policy says. */
int renameIntoPlace(const std::string& from, const std::string& to, const ReplacePolicy& policy,
                    bool isFile);

/** A fresh temporary name beside path (not created). */
std::string tempNameFor(const std::string& path);

/** "No space left on device (ENOSPC)": strerror with the errno's name. */
std::string errnoText(int err);

class TempFile {
 public:
  /** path: the destination; nothing is created until open(). */
  explicit TempFile(std::string path) : path_(std::move(path)) {}
  ~TempFile() { abort(); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  void setReplacePolicy(ReplacePolicy p) { policy_ = std::move(p); }
  const ReplacePolicy& replacePolicy() const { return policy_; }
  /** Creates the temporary file beside the destination (O_EXCL). Throws ModelError
   *  run/write-failed when the folder is missing or the file cannot be created. */
  void open();
  bool isOpen() const { return fd_ >= 0; }
  /** Writes all n bytes (retrying short writes); on an error (a full disk, a quota, a size
   *  limit) removes the temporary file and throws run/write-failed naming the bytes. */
  void write(const void* data, size_t n);
  /** Flushes to disk, closes, checks the destination against the policy and renames into
   *  place (without replacing anything when the policy says Nothing). */
  void commit();
  /** Closes and removes the temporary file unless committed (idempotent). */
  void abort() noexcept;
  const std::string& path() const { return path_; }
  const std::string& tempPath() const { return temp_; }

 private:
  [[noreturn]] void fail(const std::string& what, int err);
  std::string path_, temp_;
  ReplacePolicy policy_;
  int fd_ = -1;
  uint64_t written_ = 0;
  bool committed_ = false;
};

}  // namespace bitsmith
