// The conductor: validate, open the outputs, quantize (straight through, or layer-streamed
// when activations are needed), commit, report. Each stage lives in its own file.
#include "run/runner.h"

#include <chrono>
#include <memory>

#include "forward/llama.h"
#include "io/error.h"
#include "io/model.h"
#include "run/events.h"
#include "run/importance.h"
#include "run/layer_pipeline.h"
#include "run/outputs.h"
#include "run/tensor_stage.h"
#include "run/validate.h"
#include "threads/pool.h"

namespace bitsmith {

using json::Value;

namespace {

double secondsSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

json::Value runJob(const Job& job, EventSink& sink, const std::atomic<bool>& cancel) {
  const auto t0 = std::chrono::steady_clock::now();
  RunEvents events(sink, cancel);
  std::unique_ptr<Model> model = Model::open(job.model);

  ValidatedJob v = validateJob(job, *model);
  // Activations (calibration with a forward pass, evaluate): the layer-streamed pipeline,
  // in layer order.
  const bool activations = job.calibration.enabled() || job.evaluate.enabled();
  forward::LlamaConfig fc;
  std::vector<size_t> starts;
  if (activations) {
    fc = forward::readConfig(*model);
    v.items = layerOrder(v.items, fc.layers, starts);
  }

  Outputs outputs(job, *model, v.items);
  ThreadPool pool(job.threads);
  {
    Value ev = Value::object();
    ev.set("type", Value::of("start"));
    ev.set("tensors", Value::of(int64_t(v.items.size())));
    ev.set("params", Value::of(v.params));
    ev.set("bytesIn", Value::of(v.bytesIn));
    ev.set("model", Value::of(model->path));
    ev.set("modelFormat", Value::of(model->format));
    ev.set("threads", Value::of(pool.size()));
    ev.set("output", job.output ? Value::of(job.outputPath) : Value::null());
    if (job.gguf) ev.set("gguf", Value::of(job.ggufPath));
    if (activations) ev.set("sequential", Value::of(job.sequential));
    events.emit(std::move(ev));
  }

  // calibration imatrix: per-input-channel importance from a file (no forward pass).
  std::unique_ptr<Importance> imatrix;
  if (job.imatrix.enabled()) {
    const auto ti = std::chrono::steady_clock::now();
    std::vector<std::pair<std::string, int64_t>> quantized;
    for (const Item& it : v.items)
      if (it.job && it.job->quantize) quantized.emplace_back(it.ref->name, it.ref->cols());
    imatrix = Importance::fromImatrix(job.imatrix, quantized);
    events.emit(imatrix->event(secondsSince(ti)));
  }

  TensorStage stage(job, *model, pool, events, outputs);
  if (activations) {
    runLayerPipeline(job, *model, fc, v.items, starts, pool, events, stage, outputs, imatrix.get());
  } else {
    PhaseTimer timer(events, "quantize");
    TensorCalibration cal;
    cal.importance = imatrix.get();
    int64_t total = 0, done = 0;
    for (const Item& it : v.items) total += it.ref->elements;
    events.begin("quantize", int64_t(v.items.size()));
    for (size_t i = 0; i < v.items.size(); i++) {
      stage.run(i, v.items[i], cal);
      done += v.items[i].ref->elements;
      events.progress(int64_t(i + 1), v.items[i].ref->name,
                      total ? double(done) / double(total) : 1.0);
    }
  }
  events.checkCancel();
  if (outputs.any()) {
    PhaseTimer timer(events, "write");
    events.begin("write", 1);
    events.progress(0, "finishing the outputs", 1.0);
    outputs.commit(events);
    events.progress(1, "outputs written", 1.0);
  }

  Value done = Value::object();
  done.set("type", Value::of("done"));
  Value totals = Value::object();
  totals.set("tensors", Value::of(int64_t(v.items.size())));
  totals.set("quantized", Value::of(stage.quantized()));
  totals.set("params", Value::of(v.params));
  totals.set("bytesIn", Value::of(v.bytesIn));
  totals.set("bytesOut", Value::of(stage.bytesOut()));
  totals.set("bpw", Value::of(v.params ? 8.0 * double(stage.bytesOut()) / double(v.params) : 0.0));
  totals.set("seconds", Value::of(secondsSince(t0)));
  totals.set("peakRssBytes", Value::of(peakRssBytes()));
  done.set("totals", std::move(totals));
  done.set("phases", events.timings());
  done.set("output", job.output ? Value::of(job.outputPath) : Value::null());
  if (job.gguf) done.set("gguf", Value::of(job.ggufPath));
  done.set("threads", Value::of(pool.size()));
  events.emit(done);
  return done;
}

}  // namespace bitsmith
