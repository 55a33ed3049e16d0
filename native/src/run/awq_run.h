// method awq in a run (quant/awq.h). Before the tensor loop, one search per calibration
// input site (q/k/v, o, gate/up, down of a layer) whose readers use awq, on the site's
// Hessian and mean |x| (forward/calibrate.h), over the awq tensors of the site together:
// they share one s. Then each awq tensor is quantized as W' = Q(W diag s) diag s^-1.
#pragma once
#include <atomic>
#include <memory>
#include <string>
#include <unordered_map>
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
};

struct AwqRunTensor {
  const TensorRef* ref;
  const JobTensor* job;
};

// Tensor name -> its site's choice. Throws ModelError for an awq tensor without a Hessian
// (the forward pass sees the q/k/v/o/gate/up/down projections only).
using AwqChoices = std::unordered_map<std::string, std::shared_ptr<const AwqSiteChoice>>;
AwqChoices awqSearchSites(const Model& m, const std::vector<AwqRunTensor>& ts, const forward::HessianCollector& hs, ThreadPool& pool,
                          bool reference, const std::atomic<bool>& cancel);

// The tensor's W' and (when `stored`) the stored form of W diag s.
QuantOutput awqQuantize(const TensorRef& ref, const float* in, int64_t rows, int64_t cols, const QuantConfig& cfg, const AwqSiteChoice& c,
                        ThreadPool& pool, bool reference, StoredTensor* stored);

// The tensor event's "awq" member: {alpha, gridPoint, grid, scaleMin, scaleMax, shared: [names], outputErrorRtn, outputErrorAwq} (errors summed over the shared tensors, unnormalised).
json::Value awqEventValue(const AwqSiteChoice& c);

}  // namespace bitsmith
