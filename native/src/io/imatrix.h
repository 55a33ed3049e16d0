// llama.cpp importance matrices (llama-imatrix output), both formats:
//  - legacy .dat: i32 entry count; per entry i32 name length, the name, i32 ncall, i32 nval,
//    f32[nval]; then (optional in older files) i32 last chunk and the dataset name (i32
//    length + bytes). llama-imatrix stores each value as (sum of x^2 / count) * ncall, so
//    the mean of x^2 is value / ncall. The format does not record the number of matrices
//    (MoE experts stored one after another): nIn is nval, nMat 1.
//  - GGUF: general.type = "imatrix"; per weight `<name>.in_sum2` (F32, ne [n_in, n_mat]) and
//    `<name>.counts` (F32, n_mat elements); the mean of x^2 is in_sum2 / counts per matrix.
//    `<name>.in_sum` and other tensors are ignored.
// Everything is validated before use: counts, lengths and offsets against the file, names
// (non-empty, unique), and every value finite and >= 0 (counts > 0). Failures are
// ModelError calibration/bad-imatrix naming the file and the entry.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace bitsmith {

struct ImatrixEntry {
  std::string name;         // as in the file: llama.cpp tensor names (blk.3.ffn_down.weight)
  int64_t nIn = 0;          // values per matrix
  int64_t nMat = 1;         // matrices (MoE experts); legacy files: always 1
  std::vector<float> mean;  // nMat * nIn means of x^2, matrix after matrix
};

struct Imatrix {
  std::string path;
  std::string format;  // "gguf" or "dat"
  std::vector<ImatrixEntry> entries;
  const ImatrixEntry* find(const std::string& name) const;
};

/** Reads and validates an imatrix file (the format from its first bytes: "GGUF" or not). */
Imatrix readImatrix(const std::string& path);

}  // namespace bitsmith
