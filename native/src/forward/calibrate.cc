#include "forward/calibrate.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <mutex>

#include "io/dtype.h"
#include "io/error.h"
#include "io/input_file.h"
#include "io/json.h"
#include "linalg/ops.h"
#include "threads/pool.h"

namespace bitsmith {
namespace forward {

namespace {
void checkCancel(const std::atomic<bool>* cancel) {
  if (cancel && cancel->load(std::memory_order_relaxed))
    throw ModelError("run/cancelled", "the run was cancelled");
}
}  // namespace

Sequences generateSequences(const LlamaModel& model, int64_t samples, int64_t length, uint64_t seed,
                            const std::atomic<bool>* cancel,
                            const std::function<void(int64_t)>& onSequence) {
  const LlamaConfig& c = model.config();
  if (samples < 1 || length < 2)
    throw ModelError("calibration/bad-options",
                     "generated sequences need samples >= 1 and length >= 2");
  if (c.maxPositions > 0 && length > c.maxPositions)
    throw ModelError("calibration/bad-options",
                     "length " + std::to_string(length) + " exceeds the model's " +
                         std::to_string(c.maxPositions) + " positions (" + c.source + ")");
  Sequences out;
  for (int64_t s = 0; s < samples; s++) {
    checkCancel(cancel);
    // One independent stream per sequence: sequence s does not depend on how many came before.
    const uint64_t ss = seed * 0x9e3779b97f4a7c15ULL + uint64_t(s) * 0xd1b54a32d192ed03ULL + 1;
    out.push_back(model.generate({int32_t(c.bosToken)}, length - 1, 1.0, ss));
    if (onSequence) onSequence(s + 1);
  }
  return out;
}

constexpr uint64_t kMaxTokenFileBytes = uint64_t(256) << 20;

Sequences readTokenFile(const std::string& path, int64_t vocab, int64_t maxPositions,
                        int64_t samples, int64_t length) {
  auto fail = [&](const std::string& what) -> ModelError {
    return ModelError("calibration/bad-tokens", path + ": " + what);
  };
  if (!pathExists(path)) throw ModelError("calibration/not-found", path + ": no such file");
  json::Value v;
  {
    InputFile f(path);
    if (f.size() > kMaxTokenFileBytes)
      throw fail("the token file is " + std::to_string(f.size()) + " bytes (limit " +
                 std::to_string(kMaxTokenFileBytes) + ")");
    const std::string text = f.readString(0, size_t(f.size()));
    // Calibration takes a few hundred thousand tokens; 4M ids bound the parsed document.
    json::ParseLimits limits;
    limits.maxValues = size_t(1) << 22;
    json::ParseError err;
    if (!json::parse(text.data(), text.size(), v, err, limits))
      throw fail(err.tooLarge ? "more than " + std::to_string(limits.maxValues) +
                                    " token ids and sequences (calibration uses far fewer)"
                              : "invalid JSON: " + err.message);
  }
  if (!v.isArray()) throw fail("expected a JSON array of sequences (arrays of token ids)");
  if (v.items.empty()) throw fail("the file holds no sequences");
  Sequences out;
  const size_t take = samples > 0 ? std::min(v.items.size(), size_t(samples)) : v.items.size();
  for (size_t s = 0; s < take; s++) {
    const json::Value& seq = v.items[s];
    if (!seq.isArray())
      throw fail("sequence " + std::to_string(s) + " is not an array of token ids");
    if (seq.items.size() < 2)
      throw fail("sequence " + std::to_string(s) + " has " + std::to_string(seq.items.size()) +
                 " ids; at least 2 are needed");
    const size_t n = length > 0 ? std::min(seq.items.size(), size_t(length)) : seq.items.size();
    if (maxPositions > 0 && int64_t(n) > maxPositions)
      throw fail("sequence " + std::to_string(s) + " has " + std::to_string(n) +
                 " ids, more than the model's " + std::to_string(maxPositions) + " positions");
    std::vector<int32_t> ids;
    ids.reserve(n);
    for (size_t i = 0; i < n; i++) {
      const json::Value& x = seq.items[i];
      if (!x.isNumber() || x.number != std::floor(x.number) || x.number < 0 ||
          x.number >= double(vocab))
        throw fail("sequence " + std::to_string(s) + ", position " + std::to_string(i) + ": " +
                   (x.isNumber()
                        ? "token id " + json::stringify(x) + " is outside the vocabulary (0.." +
                              std::to_string(vocab - 1) + ")"
                        : std::string("not an integer token id")));
      ids.push_back(int32_t(x.number));
    }
    out.push_back(std::move(ids));
  }
  return out;
}

HessianCollector::HessianCollector(const LlamaConfig& c, ThreadPool* pool, linalg::Path path,
                                   int64_t firstLayer, int64_t layers)
    : first_(firstLayer), pool_(pool), path_(path) {
  if (layers < 0) layers = c.layers - firstLayer;
  width_[int(Site::Attn)] = c.dim;
  width_[int(Site::AttnOut)] = c.qDim();
  width_[int(Site::Mlp)] = c.dim;
  width_[int(Site::Down)] = c.hidden;
  hs_.resize(size_t(layers * kSites));
  for (int64_t l = firstLayer; l < firstLayer + layers; l++)
    for (int s = 0; s < kSites; s++) {
      Hessian& h = hs_[size_t((l - firstLayer) * kSites + s)];
      h.layer = l;
      h.site = Site(s);
      h.n = width_[s];
      h.h.assign(size_t(h.n * h.n), 0.0);
      h.absSum.assign(size_t(h.n), 0.0);
      h.tensors = siteTensors(l, Site(s));
    }
}

Hessian& HessianCollector::at(int64_t layer, Site site) {
  const int64_t i = (layer - first_) * kSites + int(site);
  if (i < 0 || i >= int64_t(hs_.size()))
    throw ModelError("run/internal", "no Hessian is collected for layer " + std::to_string(layer));
  return hs_[size_t(i)];
}

void HessianCollector::release(int64_t layer, Site site) {
  Hessian& h = at(layer, site);
  std::vector<double>().swap(h.h);
  std::vector<double>().swap(h.absSum);
  h.n = 0;
}

int64_t HessianCollector::bytes() const {
  int64_t n = 0;
  for (const Hessian& h : hs_) n += int64_t(h.h.size() + h.absSum.size()) * 8;
  return n;
}

void HessianCollector::onInput(int64_t layer, Site site, const float* x, int64_t t, int64_t n) {
  Hessian& h = at(layer, site);
  if (n != h.n)
    throw ModelError("run/internal", "Hessian of layer " + std::to_string(layer) + " " +
                                         siteName(site) + ": input width changed");
  // The upper triangle only while streaming (contiguous updates); finish() mirrors it.
  linalg::gramAccumulate(x, n, t, n, h.h.data(), pool_, path_, true);
  for (int64_t r = 0; r < t; r++)
    for (int64_t j = 0; j < n; j++) h.absSum[size_t(j)] += std::fabs(double(x[r * n + j]));
  h.tokens += t;
}

void HessianCollector::finish() {
  for (Hessian& h : hs_) linalg::mirrorUpper(h.h.data(), h.n);
}

const Hessian* HessianCollector::forTensor(const std::string& name) const {
  for (const Hessian& h : hs_)
    for (const std::string& t : h.tensors)
      if (t == name) return &h;
  return nullptr;
}

void HessianCollector::merge(const HessianCollector& o) {
  if (o.hs_.size() != hs_.size())
    throw ModelError("run/internal", "merging Hessians of different models");
  for (size_t i = 0; i < hs_.size(); i++) {
    for (size_t k = 0; k < hs_[i].h.size(); k++) hs_[i].h[k] += o.hs_[i].h[k];
    for (size_t k = 0; k < hs_[i].absSum.size(); k++) hs_[i].absSum[k] += o.hs_[i].absSum[k];
    hs_[i].tokens += o.hs_[i].tokens;
  }
}

void collectHessians(const LlamaModel& model, const Sequences& seqs, HessianCollector& collector,
                     const std::atomic<bool>* cancel) {
  ThreadPool* pool = model.pool();
  const int64_t threads = pool ? pool->size() : 1;
  const int64_t slots = std::min<int64_t>(threads, int64_t(seqs.size()));
  if (slots > 1 && model.preferSequenceParallel()) {
    std::vector<std::unique_ptr<HessianCollector>> parts(static_cast<size_t>(slots));
    parallelFor(
        pool, slots,
        [&](int64_t a, int64_t b) {
          for (int64_t slot = a; slot < b; slot++) {
            parts[size_t(slot)] =
                std::make_unique<HessianCollector>(model.config(), nullptr, collector.path());
            for (size_t i = size_t(slot); i < seqs.size(); i += size_t(slots)) {
              checkCancel(cancel);
              KVCache cache = model.newCache(int64_t(seqs[i].size()));
              model.forward(seqs[i].data(), int64_t(seqs[i].size()), cache, nullptr, false,
                            parts[size_t(slot)].get(), true);
            }
          }
        },
        1);
    for (const auto& p : parts) collector.merge(*p);
    collector.finish();
    return;
  }
  for (const auto& s : seqs) {
    checkCancel(cancel);
    KVCache cache = model.newCache(int64_t(s.size()));
    model.forward(s.data(), int64_t(s.size()), cache, nullptr, false, &collector);
  }
  collector.finish();
}

void layerOverSequences(const LlamaConfig& c, const LayerWeights& w, int64_t layer,
                        std::vector<std::vector<float>>& xs, HessianCollector* collector,
                        ThreadPool* pool, const std::function<void(size_t)>& onSequence) {
  const int64_t threads = pool ? pool->size() : 1;
  const int64_t slots = std::min<int64_t>(threads, int64_t(xs.size()));
  auto one = [&](size_t i, InputObserver* obs, ThreadPool* p) {
    const int64_t T = int64_t(xs[i].size()) / c.dim;
    std::vector<float> k(size_t(c.kvHeads * T * c.headDim)), v(k.size());
    const RopeTable rope = ropeTable(c, 0, T);
    layerForward(c, w, layer, xs[i].data(), T, 0, k.data(), v.data(), T, rope, obs, p);
  };
  if (slots > 1 && LlamaModel::sequenceParallel(c)) {
    std::vector<std::unique_ptr<HessianCollector>> parts(static_cast<size_t>(slots));
    std::mutex mu;
    parallelFor(
        pool, slots,
        [&](int64_t a, int64_t b) {
          for (int64_t slot = a; slot < b; slot++) {
            if (collector)
              parts[size_t(slot)] =
                  std::make_unique<HessianCollector>(c, nullptr, collector->path(), layer, 1);
            for (size_t i = size_t(slot); i < xs.size(); i += size_t(slots)) {
              one(i, parts[size_t(slot)].get(), nullptr);
              std::lock_guard<std::mutex> lock(mu);
              onSequence(i);
            }
          }
        },
        1);
    if (collector)
      for (const auto& p : parts) collector->merge(*p);
    return;
  }
  for (size_t i = 0; i < xs.size(); i++) {
    one(i, collector, pool);
    onSequence(i);
  }
}

SequenceStates::SequenceStates(std::vector<std::vector<float>> f32, bool bf16) : bf16_(bf16) {
  if (!bf16) {
    f32_ = std::move(f32);
    return;
  }
  half_.resize(f32.size());
  for (size_t i = 0; i < f32.size(); i++) {
    half_[i].resize(f32[i].size());
    fromF32(DType::BF16, f32[i].data(), int64_t(f32[i].size()),
            reinterpret_cast<uint8_t*>(half_[i].data()));
    std::vector<float>().swap(f32[i]);
  }
}

int64_t SequenceStates::bytes() const {
  int64_t n = 0;
  for (const auto& v : f32_) n += int64_t(v.size()) * 4;
  for (const auto& v : half_) n += int64_t(v.size()) * 2;
  return n;
}

void layerOverStates(const LlamaConfig& c, const LayerWeights& w, int64_t layer, SequenceStates& xs,
                     HessianCollector* collector, ThreadPool* pool,
                     const std::function<void(size_t)>& onSequence) {
  if (!xs.bf16_) {
    layerOverSequences(c, w, layer, xs.f32_, collector, pool, onSequence);
    return;
  }
  // One sequence at a time in f32 (the GEMMs use the pool): the same order of sums as the
  // f32 path without sequence parallelism.
  std::vector<std::vector<float>> one(1);
  for (size_t i = 0; i < xs.half_.size(); i++) {
    auto& h = xs.half_[i];
    one[0].resize(h.size());
    toF32(DType::BF16, reinterpret_cast<const uint8_t*>(h.data()), int64_t(h.size()),
          one[0].data());
    layerOverSequences(c, w, layer, one, collector, pool, [](size_t) {});
    fromF32(DType::BF16, one[0].data(), int64_t(h.size()), reinterpret_cast<uint8_t*>(h.data()));
    onSequence(i);
  }
}

Evaluation evaluate(const LlamaModel& original, const LlamaModel& quantized, const Sequences& seqs,
                    const std::atomic<bool>* cancel, int64_t scoreFrom) {
  const int64_t V = original.config().vocab;
  if (quantized.config().vocab != V)
    throw ModelError("run/internal", "evaluate: the two models have different vocabularies");
  // Per sequence, then combined in sequence order: the same figures whatever the threads.
  std::vector<std::vector<PositionScore>> parts(seqs.size());
  auto one = [&](size_t si, bool serial) {
    const auto& s = seqs[si];
    checkCancel(cancel);
    const int64_t T = int64_t(s.size());
    if (T < 2 || scoreFrom >= T - 1) return;
    std::vector<float> lo(size_t(T * V)), lq(size_t(T * V));
    KVCache c1 = original.newCache(T), c2 = quantized.newCache(T);
    original.forward(s.data(), T, c1, lo.data(), true, nullptr, serial);
    quantized.forward(s.data(), T, c2, lq.data(), true, nullptr, serial);
    std::vector<float> p(static_cast<size_t>(V)), q(static_cast<size_t>(V));
    for (int64_t t = std::max<int64_t>(0, scoreFrom); t + 1 < T; t++) {
      const float* a = &lo[size_t(t * V)];
      const float* b = &lq[size_t(t * V)];
      linalg::logSoftmax(a, p.data(), V);
      linalg::logSoftmax(b, q.data(), V);
      const int32_t next = s[size_t(t + 1)];
      PositionScore sc;
      sc.nllA = -double(p[size_t(next)]);
      sc.nllB = -double(q[size_t(next)]);
      double kl = 0;
      int64_t ia = 0, ib = 0;
      for (int64_t i = 0; i < V; i++) {
        kl += std::exp(double(p[size_t(i)])) * (double(p[size_t(i)]) - double(q[size_t(i)]));
        if (a[i] > a[ia]) ia = i;
        if (b[i] > b[ib]) ib = i;
      }
      sc.kl = std::max(0.0, kl);
      sc.sameTop = ia == ib;
      parts[si].push_back(sc);
    }
  };
  ThreadPool* pool = original.pool();
  if (pool && pool->size() > 1 && seqs.size() > 1 && original.preferSequenceParallel()) {
    parallelFor(
        pool, int64_t(seqs.size()),
        [&](int64_t a, int64_t b) {
          for (int64_t i = a; i < b; i++) one(size_t(i), true);
        },
        1);
  } else {
    for (size_t i = 0; i < seqs.size(); i++) one(i, false);
  }
  Evaluation e;
  std::vector<PositionScore> all;
  for (const auto& p : parts) {
    if (p.empty()) continue;
    e.sequences++;
    all.insert(all.end(), p.begin(), p.end());
  }
  if (all.empty())
    throw ModelError("evaluate/no-data",
                     "evaluation needs at least one sequence of 2 or more tokens");
  e.stats = summarize(all);
  return e;
}

}  // namespace forward
}  // namespace bitsmith
