// output imatrix "file": llama.cpp's importance matrix from the calibration's forward pass,
// the per-input-column sums of squares and token counts of every linear weight (the
// diagonal of the Hessians the pipeline accumulates, H_jj = sum over tokens of x_j^2).
// Two layouts, by the file's extension:
//  - GGUF (llama-imatrix's current output): general.type = "imatrix", imatrix.datasets
//    (string array), imatrix.chunk_count and imatrix.chunk_size (u32), and per weight
//    `<name>.in_sum2` F32 ne [n_in, 1] (the sums) and `<name>.counts` F32 ne [1, 1] (tokens);
//    plus bitsmith.version (the provenance mark output safety reads);
//  - .dat (the legacy layout, what llama-quantize of early 2025 reads): i32 entries; per
//    entry i32 name length, name, i32 ncall, i32 nval, f32 values = (sum / tokens) * ncall
//    (llama-quantize divides by ncall); then i32 chunk count and the dataset name, which
//    starts with "bitsmith " (the provenance mark).
// Names are llama.cpp's (blk.3.ffn_down.weight; the CLI maps them). The file is written
// under a temporary name and renamed into place with the run's other outputs.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/temp_file.h"

namespace bitsmith {

namespace forward {
class HessianCollector;
}
class GgufWriter;

struct ImatrixOutputJob {
  std::string path;
  std::string format;  // "gguf" or "dat"
  ReplacePolicy replace;
  std::map<std::string, std::string> names;  // model tensor -> llama.cpp name
  std::string dataset;                       // the calibration source, for the file's metadata
  int64_t chunkSize = 0;                     // tokens per calibration sequence
  std::string version;                       // Bitsmith's, for the provenance mark
  bool enabled() const { return !path.empty(); }
};

class ImatrixSink {
 public:
  ImatrixSink(const ImatrixOutputJob& job, int64_t chunks);
  ~ImatrixSink();
  /** Takes the diagonal of a layer's finished Hessians (every weight the job names). */
  void addLayer(const forward::HessianCollector& hessians);
  /** Writes the file under its temporary name (throws run/needs-calibration when a named
   *  weight got no statistics). */
  void finish();
  void checkDestination() const;
  void commit();
  int64_t entries() const { return int64_t(entries_.size()); }

 private:
  struct Entry {
    std::string name;
    std::vector<double> sums;
    int64_t tokens = 0;
  };
  ImatrixOutputJob job_;
  int64_t chunks_;
  std::vector<Entry> entries_;
  bool finished_ = false;
  TempFile file_;                     // dat
  std::unique_ptr<GgufWriter> gguf_;  // gguf
};

}  // namespace bitsmith
