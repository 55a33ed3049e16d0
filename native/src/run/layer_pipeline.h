// The layer-streamed pipeline for everything that needs activations (calibration
// generated / tokens / text, evaluate), as GPTQModel and llm-compressor's sequential
// pipeline work. Calibration and evaluation hidden states move through the model one
// decoder layer at a time:
//   1. the tensors outside the layers (embedding, head, final norm) are quantized first;
//   2. per layer l: its weights are decoded from the mapped file (f32, packed); the
//      calibration states run through it, accumulating the layer's Hessians and |x| sums
//      (forward/calibrate.h); the evaluation states of the original model advance too;
//      the layer's awq searches run, its tensors are quantized (any method, any output)
//      and written, each site's Hessian freed once its tensors are done; then the
//      quantized layer (the reconstructions) advances the calibration states (sequential
//      true: layer l + 1 is calibrated on the quantized layer's outputs) and the
//      quantized model's evaluation states. With sequential false the calibration states
//      are the original layer's outputs: the Hessians of a whole-model pass.
//   3. the head (run/eval_stream.h): both models' logits one vocabulary chunk at a time.
// What is resident: one layer in f32 (and its quantized copy), its Hessians, the
// activations (calibration and evaluation), one head chunk; the memory estimate
// (core/src/memoryEstimate.ts) counts the same.
//
// LayerHooks: the pipeline calls onLayerCalibrated(layer, hessians) after a layer's
// Hessians are complete and before its tensors are quantized: where a later "measure
// every candidate while the Hessian is in memory" mode plugs in.
#pragma once
#include <functional>
#include <vector>

#include "forward/calibrate.h"
#include "forward/llama.h"
#include "io/model.h"
#include "run/job.h"
#include "run/outputs.h"

namespace bitsmith {

class RunEvents;
class TensorStage;
class ThreadPool;
class Importance;

struct LayerHooks {
  std::function<void(int64_t layer, const forward::HessianCollector& hessians)> onLayerCalibrated;
};

/** `items` in layerOrder (run/validate.h) with `starts`. imatrix: the job's importance
 *  from a file (or null). */
void runLayerPipeline(const Job& job, const Model& model, const forward::LlamaConfig& fc,
                      const std::vector<Item>& items, const std::vector<size_t>& starts,
                      ThreadPool& pool, RunEvents& events, TensorStage& stage, Outputs& outputs,
                      const Importance* imatrix, const LayerHooks& hooks = {});

}  // namespace bitsmith
