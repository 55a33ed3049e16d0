// method awq in a run (quant/awq.h). Before the tensor loop, one search per calibration
// input site (q/k/v, o, gate/up, down of a layer) whose readers use awq, on the site's
// Hessian and mean |x| (forward/calibrate.h), over the awq tensors of the site together:
// they share one s. Then each awq tensor is quantized as W' = Q(W diag s) diag s^-1.
//
// Outputs that store codes (gguf, compressed_tensors) hold those of W diag s, so 1/s must
// be applied to the tensors' input by the operation before them (`fold`):
//  - q/k/v and gate/up: the RMSNorm weight g of the layer (input_layernorm,
//    post_attention_layernorm) is written as g / s (rounded to its dtype), exact when every
//    reader of that norm's output uses awq (they share s) and the norm is kept in f32, f16
//    or bf16;
//  - down_proj: its input silu(gate x) * (up x) is linear in up_proj's rows, so up_proj's
//    row i takes 1/s_i: up_proj is quantized as diag(1/s_down) W_up diag(s_up) and its W'
//    is diag(s_down) Q(that) diag(1/s_up) (needs up_proj to use awq; down's search runs
//    first);
//  - o_proj: with one key/value head per query head (no grouped-query attention) and no
//    v bias, its input column j is linear in v_proj's row j, which takes 1/s_j the same
//    way (v_proj needs awq; o's search runs first). Under grouped-query attention one v
//    row feeds several o columns, which would need equal s on them: not done.
// Where a fold is not possible the site is not scaled (alpha 0: RTN) and the event says
// why. The fake-quant output writes W' (what the folded model computes) and the norms
// unchanged.
#pragma once
#include <atomic>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "forward/calibrate.h"
#include "io/json.h"
#include "io/model.h"
#include "quant/awq.h"
#include "quant/stored.h"

namespace bitsmith {

struct JobTensor;
class ThreadPool;

struct AwqSiteChoice {
  quant::AwqChoice choice;
  std::vector<std::string> tensors;  // the awq tensors sharing s, in model order
  std::string
      foldedInto;      // fold: the norm weight written as g / s, or up_proj / v_proj (their rows)
  std::string note;    // fold: why this site is not scaled
  double seconds = 0;  // the search
};

struct AwqRunTensor {
  const TensorRef* ref;
  const JobTensor* job;
};

// Tensor name -> its site's choice. Throws ModelError for an awq tensor without a Hessian
// (the forward pass sees the q/k/v/o/gate/up/down projections only).
using AwqChoices = std::unordered_map<std::string, std::shared_ptr<const AwqSiteChoice>>;
struct AwqRun {
  AwqChoices tensors;  // awq tensor -> its site
  AwqChoices norms;    // fold: norm weight -> the site whose 1/s it takes
  AwqChoices rows;  // fold: up_proj / v_proj -> the down_proj / o_proj site whose 1/s its rows take
};
// Attention heads (0: unknown): whether o_proj's input can take a fold.
struct AwqHeads {
  int64_t heads = 0, kvHeads = 0;
};

// `quantized`: whether the plan quantizes a tensor (a quantized norm cannot take the fold).
AwqRun awqSearchSites(const Model& m, const std::vector<AwqRunTensor>& ts,
                      const forward::HessianCollector& hs, ThreadPool& pool, bool reference,
                      bool fold, const std::unordered_set<std::string>& quantized,
                      const AwqHeads& heads, const std::atomic<bool>& cancel);

// The norm weight g / s, in its dtype's bytes.
std::vector<uint8_t> awqFoldedNorm(const Model& m, const TensorRef& norm, const AwqSiteChoice& c);

// The tensor's W' and (when `stored`) the stored form of W diag s (rowScale: up_proj's
// row divisors under a fold, else null).
QuantOutput awqQuantize(const TensorRef& ref, const float* in, int64_t rows, int64_t cols,
                        const QuantConfig& cfg, const AwqSiteChoice& c, ThreadPool& pool,
                        bool reference, StoredTensor* stored, const float* rowScale = nullptr);

// The tensor event's "awq" member: {alpha, gridPoint, grid, scaleMin, scaleMax, shared:
// [names], searchErrorRtn, searchError (summed over the shared tensors, unnormalised),
// foldedInto?, note?, seconds (the search)}.
json::Value awqEventValue(const AwqSiteChoice& c);

}  // namespace bitsmith
