// Per-input-channel importance for the run: d_j per quantized linear weight, from
// `calibration imatrix "file"` (llama.cpp's mean x^2 per input column; the CLI maps the
// file's entry names to the model's tensors) or from the forward-pass Hessians of
// `calibration generated|tokens` (their diagonal). The quantizers weight their searches
// by it (QuantConfig::importance). With an imatrix only, a tensor's output error is the
// diagonal estimate sum_j d_j |dW_:j|^2 / sum_j d_j |W_:j|^2 (the off-diagonal of X^T X is
// unknown), reported as such.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "forward/calibrate.h"
#include "io/imatrix.h"
#include "io/json.h"

namespace bitsmith {

// job.imatrix: the file and, per model tensor that has one, its entry's name.
struct ImatrixSource {
  std::string path;
  std::map<std::string, std::string> entryOf;  // model tensor -> imatrix entry
  bool enabled() const { return !path.empty(); }
};

class Importance {
 public:
  /** Reads the imatrix and checks every mapped tensor of `quantized` (name, input
   *  features): its entry exists, is one matrix (MoE experts are refused) and has one
   *  value per input feature. Throws ModelError naming the file, entry and tensor. */
  static std::unique_ptr<Importance> fromImatrix(
      const ImatrixSource& src, const std::vector<std::pair<std::string, int64_t>>& quantized);
  /** The diagonals of the forward pass's Hessians. */
  static std::unique_ptr<Importance> fromHessians(forward::HessianCollector& hs);

  /** d for a tensor with `cols` input features, or null when there is none. */
  const float* forTensor(const std::string& name, int64_t cols) const;
  /** "imatrix" or "hessian". */
  const std::string& kind() const { return kind_; }
  /** The "importance" event: source, file, entries, tensors matched. */
  json::Value event(double seconds) const;

 private:
  std::string kind_, path_, format_;
  int64_t entries_ = 0;
  std::map<std::string, std::vector<float>> byTensor_;
};

/** sum_r sum_j d_j (q - w)^2 and sum_r sum_j d_j w^2 over rows [rows, cols] (f64). */
std::pair<double, double> diagonalOutputError(const float* w, const float* q, int64_t rows,
                                              int64_t cols, const float* d);

}  // namespace bitsmith
