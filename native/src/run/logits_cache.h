// The original model's output logits on the evaluation set, cached on disk between runs
// (allocate's measurement passes and repeated runs evaluate against the same original):
// keyed by the model files (paths, sizes, mtimes), the evaluation's token ids, the scored
// positions and the layout; written to a temporary file renamed into place. Laid out by
// vocabulary chunk ([chunk][position][vocab in the chunk]) so the head's chunked pass reads
// it in order.
// Values are f32 when the whole table is small (<= 256 MiB), else 16-bit per value with
// an affine (min, step) per position and chunk, as llama-perplexity's KL base file stores
// 16-bit logits: the run that writes the cache evaluates on the same decoded values as the
// runs that read it. A table over 4 GiB (16-bit) is not cached: no file, f32 values.
#pragma once
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "forward/calibrate.h"
#include "io/model.h"

namespace bitsmith {

class LogitsCache {
 public:
  /** dir empty: no file (values pass through, f32). */
  LogitsCache(const std::string& dir, const Model& model, const forward::Sequences& seqs,
              int64_t positions, int64_t vocab, int64_t chunk, int64_t scoreFrom = 0);
  ~LogitsCache();
  bool hit() const { return hit_; }
  bool compact() const { return compact_; }
  /** Reads chunk c ([positions][width]) from the cache (hit() only). */
  void read(int64_t c, float* out, int64_t width);
  /** Stores chunk c's logits (chunks in order); compact: replaces them by their decoded
   *  values. Without a file, only the rounding (compact is false then: nothing happens). */
  void write(int64_t c, float* values, int64_t width);
  /** Renames the finished file into place (after the last chunk). */
  void commit();
  std::string path() const { return path_; }

 private:
  int64_t positions_, vocab_, chunk_;
  bool compact_ = false, hit_ = false, writing_ = false;
  std::string path_, temp_;
  std::FILE* f_ = nullptr;
  std::vector<uint16_t> codes_;
  std::vector<float> affine_;
};

}  // namespace bitsmith
