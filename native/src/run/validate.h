// The first stage of a run: the job's plan re-checked against the model (every tensor
// present with the plan's shape and readable, each method runnable with the calibration
// the job has), and the order tensors are processed and written in.
#pragma once
#include <cstdint>
#include <vector>

#include "io/model.h"
#include "run/job.h"
#include "run/outputs.h"

namespace bitsmith {

struct ValidatedJob {
  std::vector<Item> items;  // the job's tensors, then the model's others
  int64_t params = 0, bytesIn = 0;
};

/** Throws ModelError (run/...) naming the tensor. */
ValidatedJob validateJob(const Job& job, const Model& model);

/** The decoder layer a tensor belongs to ("model.layers.<l>."), or -1. */
int64_t layerOf(const std::string& name);

/** Whether the forward pass sees the tensor's input (a q/k/v/o/gate/up/down projection). */
bool readsProjectionInput(const std::string& name);

/** For the layer-streamed pipeline: the tensors outside the decoder layers first (in their
 *  order), then layer 0's, layer 1's, ... (within a layer: the q/k/v, o, gate/up and down
 *  projections, whose Hessians are freed in that order, then the rest). `starts[l]` is the
 *  index of layer l's first tensor; starts[layers] the end. */
std::vector<Item> layerOrder(const std::vector<Item>& items, int64_t layers,
                             std::vector<size_t>& starts);

}  // namespace bitsmith
