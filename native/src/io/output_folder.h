// An output folder (output compressed_tensors) built under a temporary name beside its
// destination (`.<name>.bitsmith-tmp-<pid>-<hex>`, io/temp_file.h) and renamed into place
// by commit(); without commit (an error, a cancel) the temporary folder is removed.
// commit() first writes the marker `.bitsmith-output.json` (core/src/export/provenance.ts):
// every file in the folder with its size and modification time, so a later run replaces the
// folder only while it holds exactly what Bitsmith wrote. An earlier output is swapped out
// atomically (renameat2 RENAME_EXCHANGE where the system has it) and then removed.
#pragma once
#include <string>

#include "io/temp_file.h"

namespace bitsmith {

class OutputFolder {
 public:
  /** kind: what the marker says the folder is (e.g. "compressed-tensors"). */
  explicit OutputFolder(std::string path, std::string kind = "compressed-tensors")
      : path_(std::move(path)), kind_(std::move(kind)) {}
  ~OutputFolder() { abort(); }
  OutputFolder(const OutputFolder&) = delete;
  OutputFolder& operator=(const OutputFolder&) = delete;
  void setReplacePolicy(ReplacePolicy p) { policy_ = std::move(p); }
  const ReplacePolicy& replacePolicy() const { return policy_; }
  /** Creates the temporary folder. Throws ModelError run/write-failed. */
  void open();
  const std::string& temp() const { return temp_; }
  const std::string& path() const { return path_; }
  /** Writes a text file into the temporary folder (flushed to disk). */
  void writeText(const std::string& name, const std::string& text);
  /** Copies a file into the temporary folder under `name` (flushed to disk). */
  void copyFile(const std::string& from, const std::string& name);
  /** Writes the marker and replaces `path` (nothing, or the Bitsmith output the policy
   *  names) with the finished folder. */
  void commit();
  void abort() noexcept;

 private:
  std::string path_, kind_, temp_;
  ReplacePolicy policy_;
  bool committed_ = false;
};

}  // namespace bitsmith
