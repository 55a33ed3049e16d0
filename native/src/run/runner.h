// Executes a job on a model, as a short sequence of stages:
//   (the model is read with bounded preads, io/input_file.h)
//   validate (run/validate.h): the plan re-checked against the model, the tensor order;
//   outputs (run/outputs.h): fake / compressed-tensors / gguf behind one sink;
//   quantization: tensor by tensor (run/tensor_stage.h) — straight through when nothing
//     needs activations, else layer-streamed (run/layer_pipeline.h): calibration,
//     quantization and evaluation one decoder layer at a time, with bounded memory;
//   evaluation (run/eval_stream.h): the output head one vocabulary chunk at a time;
//   events (run/events.h): JSON objects to an EventSink, progress on every phase, the
//     cancel flag checked inside every long loop.
#pragma once
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "io/json.h"
#include "run/job.h"

namespace bitsmith {

class EventSink {
 public:
  virtual ~EventSink() = default;
  /** One event: an object with a "type" member. Returns false if delivery is impossible
   *  (the consumer is gone); the run then stops as if cancelled. */
  virtual bool emit(json::Value event) = 0;
};

// Runs the job; returns the summary (the "done" event's payload). Throws ModelError
// (codes model/..., run/...), including run/cancelled. The caller emits the error event.
json::Value runJob(const Job& job, EventSink& sink, const std::atomic<bool>& cancel);

/** Whether quantizing rows [r0, r1) on their own gives exactly the rows of the whole. */
bool rowLocal(const QuantConfig& c);

/** Peak resident set of this process in bytes (0 if unknown). */
int64_t peakRssBytes();

const char* groupKindName(GroupKind k);

}  // namespace bitsmith
