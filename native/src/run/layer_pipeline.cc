#include "run/layer_pipeline.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "io/error.h"
#include "run/awq_run.h"
#include "run/eval_stream.h"
#include "run/events.h"
#include "run/importance.h"
#include "run/logits_cache.h"
#include "run/runner.h"
#include "run/tensor_stage.h"
#include "run/validate.h"
#include "threads/pool.h"

namespace bitsmith {

using forward::Sequences;
using json::Value;

namespace {

forward::Sequences loadSequences(const SequenceSource& src, const Model& model,
                                 const forward::LlamaConfig& c, ThreadPool& pool, RunEvents& events,
                                 const char* purpose) {
  if (src.kind == "tokens")
    return forward::readTokenFile(src.path, c.vocab, c.maxPositions, src.samples, src.length);
  if (src.kind == "text") {
    auto fail = [&](const std::string& what) {
      return ModelError("calibration/bad-tokens", src.path + ": " + what);
    };
    if (src.sequences.empty()) throw fail("the text gives no token sequences");
    for (size_t s = 0; s < src.sequences.size(); s++) {
      const auto& q = src.sequences[s];
      if (q.size() < 2)
        throw fail("window " + std::to_string(s) + " has " + std::to_string(q.size()) +
                   " tokens; at least 2 are needed");
      if (c.maxPositions > 0 && int64_t(q.size()) > c.maxPositions)
        throw fail("window " + std::to_string(s) + " has " + std::to_string(q.size()) +
                   " tokens, more than the model's " + std::to_string(c.maxPositions) +
                   " positions");
      for (size_t i = 0; i < q.size(); i++)
        if (q[i] < 0 || int64_t(q[i]) >= c.vocab)
          throw fail("window " + std::to_string(s) + ", position " + std::to_string(i) +
                     ": token id " + std::to_string(q[i]) +
                     " is outside the model's vocabulary (0.." + std::to_string(c.vocab - 1) +
                     "): does the tokenizer belong to this model?");
    }
    return src.sequences;
  }
  const int64_t samples = src.samples > 0 ? src.samples : 16;
  int64_t length = src.length > 0 ? src.length : 128;
  if (src.length <= 0 && c.maxPositions > 0) length = std::min(length, c.maxPositions);
  // Sampling needs every layer for every token: the whole model, for this phase only.
  PhaseTimer timer(events, "sequences");
  events.begin("sequences", samples);
  events.progress(0, std::string("loading the model to sample ") + purpose + " sequences", 0.0);
  const forward::LlamaModel lm(model, c, &pool);
  return forward::generateSequences(
      lm, samples, length, src.seed, &events.cancelFlag(), [&](int64_t s) {
        events.progress(
            s,
            std::string(purpose) + " sequence " + std::to_string(s) + "/" + std::to_string(samples),
            0.0);
      });
}

Value sourceValue(const SequenceSource& src, const forward::Sequences& seqs) {
  int64_t tokens = 0;
  for (const auto& q : seqs) tokens += int64_t(q.size());
  Value v = Value::object();
  v.set("kind", Value::of(src.kind));
  if (src.kind == "tokens" || src.kind == "text")
    v.set("path", Value::of(src.path));
  else
    v.set("seed", Value::of(int64_t(src.seed)));
  v.set("sequences", Value::of(int64_t(seqs.size())));
  v.set("tokens", Value::of(tokens));
  return v;
}

using States = std::vector<std::vector<float>>;

// Calibration states larger than this (f32, with the sequential pass's copy) are kept in
// bf16 (Job::activationsBf16Above overrides it).
constexpr int64_t kBf16Above = int64_t(1) << 30;

States embedAll(const Model& m, const forward::LlamaConfig& fc, const Sequences& seqs) {
  States xs(seqs.size());
  for (size_t s = 0; s < seqs.size(); s++) {
    xs[s].resize(seqs[s].size() * size_t(fc.dim));
    forward::embedTokens(m, fc, seqs[s].data(), int64_t(seqs[s].size()), xs[s].data());
  }
  return xs;
}

forward::Site siteOf(const std::string& name) {
  if (name.find(".self_attn.o_proj.") != std::string::npos) return forward::Site::AttnOut;
  if (name.find(".mlp.down_proj.") != std::string::npos) return forward::Site::Down;
  if (name.find(".mlp.") != std::string::npos) return forward::Site::Mlp;
  return forward::Site::Attn;
}

bool isProjection(const std::string& name) {
  for (const char* p :
       {".self_attn.q_proj.", ".self_attn.k_proj.", ".self_attn.v_proj.", ".self_attn.o_proj.",
        ".mlp.gate_proj.", ".mlp.up_proj.", ".mlp.down_proj."})
    if (name.find(p) != std::string::npos) return true;
  return false;
}

// Rows of a quantized tensor outside the layers (embedding, head), when the evaluation
// needs them: re-quantized on demand when the configuration is row-local (the same rows
// as the whole tensor's), else kept whole from its quantization.
class QuantizedRows {
 public:
  QuantizedRows(const Model& m, const Item* item, const Importance* imp, ThreadPool& pool,
                bool reference)
      : m_(m), item_(item), imp_(imp), pool_(pool), reference_(reference) {}
  bool quantized() const { return item_ && item_->job && item_->job->quantize; }
  bool needsWhole() const {
    return quantized() && !(rowLocal(item_->job->config) && (item_->job->method == Method::Rtn ||
                                                             item_->job->method == Method::Hqq));
  }
  std::vector<float>* wholeSlot() { return needsWhole() ? &whole_ : nullptr; }
  void rows(int64_t r0, int64_t r1, float* out) {
    const TensorRef& ref = *item_->ref;
    const int64_t cols = ref.cols();
    if (!quantized()) {
      readChunk(m_, ref, r0, r1, out, pool_);
      m_.release(ref, r0, r1);
      return;
    }
    if (needsWhole()) {
      std::memcpy(out, whole_.data() + r0 * cols, size_t((r1 - r0) * cols) * sizeof(float));
      return;
    }
    std::vector<float> in(size_t((r1 - r0) * cols));
    readChunk(m_, ref, r0, r1, in.data(), pool_);
    m_.release(ref, r0, r1);
    const QuantConfig cfg = TensorStage::configFor(*item_->job, imp_, cols);
    QuantOutput q = quantizeChecked(ref, in.data(), r1 - r0, cols, cfg, pool_, reference_);
    std::memcpy(out, q.dequant.data(), q.dequant.size() * sizeof(float));
  }
  /** Rows of the given ids (the embedding of the evaluation tokens), [ids, cols]. */
  void gather(const std::vector<int32_t>& ids, float* out) {
    const int64_t cols = item_->ref->cols();
    for (size_t i = 0; i < ids.size(); i++) rows(ids[i], ids[i] + 1, out + int64_t(i) * cols);
  }

 private:
  const Model& m_;
  const Item* item_;
  const Importance* imp_;
  ThreadPool& pool_;
  bool reference_;
  std::vector<float> whole_;
};

}  // namespace

void runLayerPipeline(const Job& job, const Model& model, const forward::LlamaConfig& fc,
                      const std::vector<Item>& items, const std::vector<size_t>& starts,
                      ThreadPool& pool, RunEvents& events, TensorStage& stage, Outputs& outputs,
                      const Importance* imatrix, const LayerHooks& hooks) {
  const int64_t L = fc.layers, D = fc.dim;
  const bool calibrate = job.calibration.enabled(), evaluate = job.evaluate.enabled();
  const bool sequential = job.sequential;
  const auto tc = std::chrono::steady_clock::now();
  Sequences cal, evs;
  if (calibrate) cal = loadSequences(job.calibration, model, fc, pool, events, "calibration");
  if (calibrate) outputs.openImatrix(job, int64_t(cal.size()));
  ImatrixSink* imatrixOut = outputs.imatrix();
  if (evaluate) evs = loadSequences(job.evaluate, model, fc, pool, events, "evaluation");
  events.checkCancel();
  // Above the threshold (f32 bytes, with the sequential pass's copy) the calibration states
  // are kept in bf16, as GPTQModel keeps them in the model's dtype.
  bool bf16States = false;
  if (calibrate) {
    int64_t tokens = 0;
    for (const auto& q : cal) tokens += int64_t(q.size());
    const int64_t above = job.activationsBf16Above >= 0 ? job.activationsBf16Above : kBf16Above;
    bf16States = tokens * D * 4 * (sequential ? 2 : 1) > above;
  }
  // The calibration event comes first (the sequences and the Hessians to come); the time
  // of the layer passes is in the done event's phases.
  if (calibrate) {
    Value ev = Value::object();
    ev.set("type", Value::of("calibration"));
    ev.set("source", sourceValue(job.calibration, cal));
    ev.set("hessians", Value::of(fc.layers * forward::kSites));
    ev.set("sequential", Value::of(sequential));
    ev.set("activations", Value::of(bf16States ? "bf16" : "f32"));
    ev.set("seconds",
           Value::of(std::chrono::duration<double>(std::chrono::steady_clock::now() - tc).count()));
    events.emit(std::move(ev));
  }

  // Progress: the tensors outside the layers, each layer, the head.
  const double units = double(L) + 1.0 + (evaluate ? 1.0 : 0.0);
  auto fraction = [&](double u) { return u / units; };

  std::unordered_set<std::string> quantizedNames;
  std::map<std::string, const Item*> byName;
  for (const Item& it : items) {
    byName[it.ref->name] = &it;
    if (it.job && it.job->quantize) quantizedNames.insert(it.ref->name);
  }
  auto find = [&](const std::string& n) -> const Item* {
    auto i = byName.find(n);
    return i == byName.end() ? nullptr : i->second;
  };

  // 1. The tensors outside the layers.
  QuantizedRows embedRows(model, find("model.embed_tokens.weight"), imatrix, pool, job.reference);
  QuantizedRows untiedHead(model, find(forward::headTensorName(fc)), imatrix, pool, job.reference);
  const bool tied = std::string(forward::headTensorName(fc)) == "model.embed_tokens.weight";
  QuantizedRows& embedQ = embedRows;
  QuantizedRows& headQ = tied ? embedRows : untiedHead;
  {
    PhaseTimer timer(events, "quantize");
    const size_t n = starts[0];
    events.begin("quantize", int64_t(n));
    TensorCalibration tcal;
    tcal.importance = imatrix;
    for (size_t i = 0; i < n; i++) {
      std::vector<float>* keep = nullptr;
      if (evaluate) {
        if (items[i].ref->name == "model.embed_tokens.weight")
          keep = embedQ.wholeSlot();
        else if (items[i].ref->name == forward::headTensorName(fc))
          keep = headQ.wholeSlot();
      }
      stage.run(i, items[i], tcal, keep);
      events.progress(int64_t(i + 1), items[i].ref->name, fraction(double(i + 1) / double(n)));
    }
  }

  // 2. The layers.
  forward::SequenceStates xs;
  States eo, eq;
  std::unique_ptr<LogitsCache> cache;
  if (calibrate) xs = forward::SequenceStates(embedAll(model, fc, cal), bf16States);
  if (evaluate) {
    int64_t positions = 0;
    for (const auto& s : evs)
      positions += std::max<int64_t>(0, int64_t(s.size()) - 1 - job.evaluate.scoreFrom);
    cache = std::make_unique<LogitsCache>(job.logitsCacheDir, model, evs, positions, fc.vocab,
                                          headChunk(std::max<int64_t>(1, positions), fc.vocab),
                                          job.evaluate.scoreFrom);
    if (!cache->hit()) eo = embedAll(model, fc, evs);
    eq.resize(evs.size());
    for (size_t s = 0; s < evs.size(); s++) {
      eq[s].resize(evs[s].size() * size_t(D));
      embedQ.gather(evs[s], eq[s].data());
    }
  }
  const bool needOriginalEval = evaluate && !cache->hit();
  for (int64_t l = 0; l < L; l++) {
    events.checkCancel();
    const std::string layerLabel = "layer " + std::to_string(l + 1) + "/" + std::to_string(L);
    const size_t i0 = starts[size_t(l)], i1 = starts[size_t(l) + 1];
    bool layerQuantized = false;
    for (size_t i = i0; i < i1; i++)
      if (items[i].job && items[i].job->quantize) layerQuantized = true;
    // Calibration: the original layer over the calibration (and original evaluation) states.
    const size_t seqCount = (calibrate ? xs.size() : 0) + (needOriginalEval ? eo.size() : 0) +
                            (!layerQuantized && evaluate ? eq.size() : 0);
    std::unique_ptr<forward::HessianCollector> hc;
    if (seqCount > 0) {
      PhaseTimer timer(events, "calibration");
      events.begin("calibration", int64_t(seqCount));
      const forward::LayerWeights w = forward::loadLayer(model, fc, l, &pool);
      size_t done = 0;
      auto onSeq = [&](size_t) {
        done++;
        events.checkCancel();
        events.progress(
            int64_t(done),
            layerLabel + ", sequence " + std::to_string(done) + "/" + std::to_string(seqCount),
            fraction(1.0 + double(l) + 0.4 * double(done) / double(seqCount)));
      };
      if (calibrate) {
        if (layerQuantized || imatrixOut)
          hc = std::make_unique<forward::HessianCollector>(fc, &pool, linalg::Path::Auto, l, 1);
        if (sequential && layerQuantized) {
          forward::SequenceStates copy = xs;  // the Hessians' pass; the quantized layer makes
                                              // the next inputs
          forward::layerOverStates(fc, w, l, copy, hc.get(), &pool, onSeq);
        } else {
          forward::layerOverStates(fc, w, l, xs, hc.get(), &pool, onSeq);
        }
        if (hc) hc->finish();
      }
      if (needOriginalEval) forward::layerOverSequences(fc, w, l, eo, nullptr, &pool, onSeq);
      if (!layerQuantized && evaluate)
        forward::layerOverSequences(fc, w, l, eq, nullptr, &pool, onSeq);
    }
    if (hc) {
      if (imatrixOut) imatrixOut->addLayer(*hc);
      if (hooks.onLayerCalibrated) hooks.onLayerCalibrated(l, *hc);
    }
    // The layer's importance and awq scales.
    std::unique_ptr<Importance> hImportance;
    if (hc && !imatrix) hImportance = Importance::fromHessians(*hc);
    const Importance* importance = imatrix ? imatrix : hImportance.get();
    AwqRun awq;
    {
      std::vector<AwqRunTensor> awqTensors;
      for (size_t i = i0; i < i1; i++)
        if (items[i].job && items[i].job->quantize && items[i].job->method == Method::Awq)
          awqTensors.push_back({items[i].ref, items[i].job});
      // The shared tensors in the model's order (the event lists them so).
      std::sort(awqTensors.begin(), awqTensors.end(),
                [](const AwqRunTensor& a, const AwqRunTensor& b) { return a.ref < b.ref; });
      if (!awqTensors.empty()) {
        if (!hc)
          throw ModelError(
              "run/needs-calibration",
              "tensor \"" + awqTensors[0].ref->name + "\": method awq needs calibration",
              awqTensors[0].ref->name);
        PhaseTimer timer(events, "awq");
        events.begin("awq", 1);
        events.progress(0, layerLabel + ": awq search", fraction(1.0 + double(l) + 0.4));
        awq = awqSearchSites(model, awqTensors, *hc, pool, job.reference, outputs.storesCodes(),
                             quantizedNames, AwqHeads{fc.heads, fc.kvHeads}, events.cancelFlag());
        events.progress(1, layerLabel + ": awq search", fraction(1.0 + double(l) + 0.45));
      }
    }
    // Quantize and write the layer's tensors; keep the reconstructions the next passes need.
    const bool needQuantizedPass =
        layerQuantized && ((calibrate && sequential && l + 1 < L) || evaluate);
    std::unordered_map<std::string, std::vector<float>> recon;
    {
      PhaseTimer timer(events, "quantize");
      events.begin("quantize", int64_t(i1 - i0));
      TensorCalibration tcal;
      tcal.hessians = hc.get();
      tcal.importance = importance;
      tcal.awq = &awq;
      for (size_t i = i0; i < i1; i++) {
        const Item& it = items[i];
        std::vector<float>* keep = nullptr;
        if (needQuantizedPass && it.job && it.job->quantize) keep = &recon[it.ref->name];
        stage.run(i, it, tcal, keep);
        events.progress(int64_t(i + 1 - i0), layerLabel + ": " + it.ref->name,
                        fraction(1.0 + double(l) + 0.45 +
                                 0.45 * double(i + 1 - i0) / double(std::max<size_t>(1, i1 - i0))));
        // A site's Hessian is freed once its last tensor is done (items are in site order).
        if (hc && isProjection(it.ref->name) &&
            (i + 1 == i1 || !isProjection(items[i + 1].ref->name) ||
             siteOf(items[i + 1].ref->name) != siteOf(it.ref->name))) {
          stage.dropHessianCopies();
          bool later = false;  // awq folds read nothing from the Hessians after the search
          for (size_t k = i + 1; k < i1; k++)
            if (isProjection(items[k].ref->name) &&
                siteOf(items[k].ref->name) == siteOf(it.ref->name))
              later = true;
          if (!later) hc->release(l, siteOf(it.ref->name));
        }
      }
      stage.dropHessianCopies();
    }
    hImportance.reset();
    hc.reset();
    // The quantized layer: next calibration inputs (sequential) and the quantized model's
    // evaluation states.
    if (needQuantizedPass) {
      PhaseTimer timer(events, "propagate");
      forward::Overrides ov;
      for (const auto& [name, v] : recon) ov[name] = v.data();
      const forward::LayerWeights wq = forward::loadLayer(model, fc, l, &pool, &ov);
      recon.clear();
      const bool nextInputs = calibrate && sequential && l + 1 < L;
      const size_t n = (nextInputs ? xs.size() : 0) + (evaluate ? eq.size() : 0);
      events.begin("propagate", int64_t(n));
      size_t done = 0;
      auto onSeq = [&](size_t) {
        done++;
        events.checkCancel();
        events.progress(
            int64_t(done),
            layerLabel + " (quantized), sequence " + std::to_string(done) + "/" + std::to_string(n),
            fraction(1.0 + double(l) + 0.9 + 0.1 * double(done) / double(n)));
      };
      if (nextInputs) forward::layerOverStates(fc, wq, l, xs, nullptr, &pool, onSeq);
      if (evaluate) forward::layerOverSequences(fc, wq, l, eq, nullptr, &pool, onSeq);
    }
  }
  xs = forward::SequenceStates();
  if (!evaluate) return;
  // 3. The head.
  PhaseTimer timer(events, "evaluation");
  const auto te = std::chrono::steady_clock::now();
  const forward::Evaluation e = evaluateHead(
      model, fc, evs, needOriginalEval ? &eo : nullptr, eq,
      [&](int64_t v0, int64_t v1, float* out) { headQ.rows(v0, v1, out); }, *cache, pool, events,
      fraction(double(L) + 1.0), 1.0, job.evaluate.scoreFrom);
  Value ev = Value::object();
  ev.set("type", Value::of("evaluation"));
  ev.set("source", sourceValue(job.evaluate, evs));
  ev.set("sequences", Value::of(e.sequences));
  ev.set("scoreFrom", Value::of(job.evaluate.scoreFrom));
  forward::setEvaluationFields(ev, e.stats);
  ev.set("logitsCache",
         cache->path().empty() ? Value::null() : Value::of(cache->hit() ? "hit" : "written"));
  ev.set("seconds",
         Value::of(std::chrono::duration<double>(std::chrono::steady_clock::now() - te).count()));
  events.emit(std::move(ev));
}

}  // namespace bitsmith
