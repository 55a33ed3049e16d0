#include "forward/llama.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "io/error.h"
#include "io/model.h"
#include "linalg/ops.h"
#include "threads/pool.h"

namespace bitsmith {
namespace forward {

namespace {

inline uint64_t splitmix64(uint64_t& s) {
  uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

const char* siteName(Site s) {
  switch (s) {
    case Site::Attn:
      return "attn";
    case Site::AttnOut:
      return "attn_out";
    case Site::Mlp:
      return "mlp";
    case Site::Down:
      return "down";
  }
  return "?";
}

std::vector<std::string> siteTensors(int64_t layer, Site s) {
  const std::string p = "model.layers." + std::to_string(layer) + ".";
  switch (s) {
    case Site::Attn:
      return {p + "self_attn.q_proj.weight", p + "self_attn.k_proj.weight",
              p + "self_attn.v_proj.weight"};
    case Site::AttnOut:
      return {p + "self_attn.o_proj.weight"};
    case Site::Mlp:
      return {p + "mlp.gate_proj.weight", p + "mlp.up_proj.weight"};
    case Site::Down:
      return {p + "mlp.down_proj.weight"};
  }
  return {};
}

std::vector<float> readTensorF32(const Model& m, const Overrides* ov, const std::string& name,
                                 const std::vector<int64_t>& shape, ThreadPool* pool) {
  const TensorRef* t = m.find(name);
  if (!t)
    throw ModelError(
        "forward/missing-tensor",
        m.path + ": the forward pass needs tensor \"" + name + "\", which the model lacks", name);
  if (t->shape != shape) {
    auto txt = [](const std::vector<int64_t>& s) {
      std::string r = "[";
      for (size_t i = 0; i < s.size(); i++) r += (i ? ", " : "") + std::to_string(s[i]);
      return r + "]";
    };
    throw ModelError("forward/shape-mismatch",
                     m.fileOf(*t).path() + ": tensor \"" + name + "\" has shape " + txt(t->shape) +
                         " but the config implies " + txt(shape),
                     name);
  }
  std::vector<float> out(size_t(t->elements));
  if (ov) {
    auto it = ov->find(name);
    if (it != ov->end()) {
      std::memcpy(out.data(), it->second, out.size() * sizeof(float));
      for (float v : out)
        if (!std::isfinite(v))
          throw ModelError("forward/non-finite",
                           "tensor \"" + name + "\": the replacement weights hold NaN or Inf",
                           name);
      return out;
    }
  }
  m.requireReadable(*t);
  const int64_t rows = t->rows(), cols = t->cols();
  bool ok = true;
  std::atomic<bool> bad{false};
  parallelFor(
      pool, rows,
      [&](int64_t a, int64_t b) {
        if (!m.readRowsF32(*t, a, b, out.data() + a * cols)) bad.store(true);
      },
      std::max<int64_t>(1, (int64_t(1) << 16) / std::max<int64_t>(1, cols)));
  ok = !bad.load();
  m.release(*t, 0, rows);  // the f32 copy is what stays resident, not the mapped pages
  if (!ok)
    throw ModelError("forward/non-finite",
                     m.fileOf(*t).path() + ": tensor \"" + name + "\" holds NaN or Inf values",
                     name);
  return out;
}

namespace {
void append(std::vector<float>& dst, const std::vector<float>& src) {
  dst.insert(dst.end(), src.begin(), src.end());
}
}  // namespace

int64_t LayerWeights::bytes() const {
  int64_t n = 0;
  for (const auto* v : {&attnNorm, &ffnNorm, &bqkv, &qNorm, &kNorm}) n += int64_t(v->size());
  for (const auto* p : {&wqkv, &wo, &wgu, &wdown}) n += int64_t(p->data.size());
  return n * int64_t(sizeof(float));
}

LayerWeights loadLayer(const Model& m, const LlamaConfig& c, int64_t l, ThreadPool* pool,
                       const Overrides* ov) {
  const int64_t D = c.dim, qd = c.qDim(), kvd = c.kvDim(), F = c.hidden;
  LayerWeights L;
  const std::string p = "model.layers." + std::to_string(l) + ".";
  L.attnNorm = readTensorF32(m, ov, p + "input_layernorm.weight", {D}, pool);
  L.ffnNorm = readTensorF32(m, ov, p + "post_attention_layernorm.weight", {D}, pool);
  {
    std::vector<float> qkv = readTensorF32(m, ov, p + "self_attn.q_proj.weight", {qd, D}, pool);
    append(qkv, readTensorF32(m, ov, p + "self_attn.k_proj.weight", {kvd, D}, pool));
    append(qkv, readTensorF32(m, ov, p + "self_attn.v_proj.weight", {kvd, D}, pool));
    linalg::packB(qkv.data(), D, qd + 2 * kvd, D, L.wqkv, pool);
  }
  if (c.qkvBias) {
    L.bqkv = readTensorF32(m, ov, p + "self_attn.q_proj.bias", {qd}, pool);
    append(L.bqkv, readTensorF32(m, ov, p + "self_attn.k_proj.bias", {kvd}, pool));
    append(L.bqkv, readTensorF32(m, ov, p + "self_attn.v_proj.bias", {kvd}, pool));
  }
  if (c.qkNorm) {
    L.qNorm = readTensorF32(m, ov, p + "self_attn.q_norm.weight", {c.headDim}, pool);
    L.kNorm = readTensorF32(m, ov, p + "self_attn.k_norm.weight", {c.headDim}, pool);
  }
  {
    std::vector<float> wo = readTensorF32(m, ov, p + "self_attn.o_proj.weight", {D, qd}, pool);
    linalg::packB(wo.data(), qd, D, qd, L.wo, pool);
  }
  {
    std::vector<float> gu = readTensorF32(m, ov, p + "mlp.gate_proj.weight", {F, D}, pool);
    append(gu, readTensorF32(m, ov, p + "mlp.up_proj.weight", {F, D}, pool));
    linalg::packB(gu.data(), D, 2 * F, D, L.wgu, pool);
  }
  {
    std::vector<float> wd = readTensorF32(m, ov, p + "mlp.down_proj.weight", {D, F}, pool);
    linalg::packB(wd.data(), F, D, F, L.wdown, pool);
  }
  return L;
}

const char* headTensorName(const LlamaConfig& c) {
  return c.tied ? "model.embed_tokens.weight" : "lm_head.weight";
}

void embedTokens(const Model& m, const LlamaConfig& c, const int32_t* tokens, int64_t t, float* x) {
  const TensorRef* e = m.find("model.embed_tokens.weight");
  if (!e)
    throw ModelError("forward/missing-tensor",
                     m.path + ": the forward pass needs tensor \"model.embed_tokens.weight\"",
                     "model.embed_tokens.weight");
  if (e->shape != std::vector<int64_t>{c.vocab, c.dim})
    throw ModelError("forward/shape-mismatch",
                     m.fileOf(*e).path() +
                         ": tensor \"model.embed_tokens.weight\" does not have "
                         "the shape [vocab, hidden_size] the config implies",
                     e->name);
  m.requireReadable(*e);
  for (int64_t i = 0; i < t; i++) {
    if (tokens[i] < 0 || tokens[i] >= c.vocab)
      throw ModelError("forward/bad-token", "token id " + std::to_string(tokens[i]) +
                                                " at position " + std::to_string(i) +
                                                " is outside the vocabulary (0.." +
                                                std::to_string(c.vocab - 1) + ")");
    if (!m.readRowsF32(*e, tokens[i], tokens[i] + 1, x + i * c.dim))
      throw ModelError("forward/non-finite",
                       m.fileOf(*e).path() +
                           ": tensor \"model.embed_tokens.weight\" holds NaN or "
                           "Inf values (row " +
                           std::to_string(tokens[i]) + ")",
                       e->name);
  }
}

RopeTable ropeTable(const LlamaConfig& c, int64_t start, int64_t T) {
  RopeTable r;
  r.half = c.headDim / 2;
  r.t = T;
  // Rope scaling and YaRN's attention factor are in the table (forward/rope.h).
  ropeTable(c.rope, start, T, r.cos, r.sin);
  return r;
}

LlamaModel::LlamaModel(const Model& m, const LlamaConfig& c, ThreadPool* pool, const Overrides* ov)
    : c_(c), pool_(pool) {
  const int64_t D = c.dim, V = c.vocab;
  embed_ = readTensorF32(m, ov, "model.embed_tokens.weight", {V, D}, pool);
  finalNorm_ = readTensorF32(m, ov, "model.norm.weight", {D}, pool);
  if (!c.tied) {
    std::vector<float> lm = readTensorF32(m, ov, "lm_head.weight", {V, D}, pool);
    linalg::packB(lm.data(), D, V, D, lmHead_, pool);
  } else {
    linalg::packB(embed_.data(), D, V, D, lmHead_, pool);  // tied embeddings
  }
  layers_.reserve(size_t(c.layers));
  for (int64_t l = 0; l < c.layers; l++) layers_.push_back(loadLayer(m, c, l, pool, ov));
}

KVCache LlamaModel::newCache(int64_t capacity) const {
  KVCache kv;
  kv.capacity = capacity;
  kv.kvHeads = c_.kvHeads;
  kv.headDim = c_.headDim;
  kv.k.assign(size_t(c_.layers),
              std::vector<float>(size_t(c_.kvHeads * capacity * c_.headDim), 0.0f));
  kv.v.assign(size_t(c_.layers),
              std::vector<float>(size_t(c_.kvHeads * capacity * c_.headDim), 0.0f));
  return kv;
}

void LlamaModel::forward(const int32_t* tokens, int64_t T, KVCache& cache, float* logits,
                         bool allLogits, InputObserver* obs, bool serial) const {
  const LlamaConfig& c = c_;
  const int64_t D = c.dim, hd = c.headDim, KV = c.kvHeads;
  const int64_t start = cache.length, S = start + T;
  if (T <= 0) return;
  if (cache.kvHeads != KV || cache.headDim != hd || int64_t(cache.k.size()) != c.layers)
    throw ModelError("forward/bad-cache", "the KV cache was made for another model");
  if (S > cache.capacity)
    throw ModelError("forward/too-long", "sequence of " + std::to_string(S) +
                                             " tokens exceeds the KV cache (" +
                                             std::to_string(cache.capacity) + ")");
  for (int64_t t = 0; t < T; t++)
    if (tokens[t] < 0 || tokens[t] >= c.vocab)
      throw ModelError("forward/bad-token", "token id " + std::to_string(tokens[t]) +
                                                " at position " + std::to_string(start + t) +
                                                " is outside the vocabulary (0.." +
                                                std::to_string(c.vocab - 1) + ")");
  ThreadPool* pool = serial ? nullptr : pool_;
  std::vector<float> x(size_t(T * D)), xn(size_t(T * D));
  for (int64_t t = 0; t < T; t++)
    std::memcpy(&x[size_t(t * D)], &embed_[size_t(int64_t(tokens[t]) * D)],
                size_t(D) * sizeof(float));
  const RopeTable rope = ropeTable(c, start, T);
  for (int64_t l = 0; l < c.layers; l++)
    layerForward(c, layers_[size_t(l)], l, x.data(), T, start, cache.k[size_t(l)].data(),
                 cache.v[size_t(l)].data(), cache.capacity, rope, obs, pool);
  cache.length = S;
  if (!logits) return;
  const int64_t first = allLogits ? 0 : T - 1;
  for (int64_t t = first; t < T; t++)
    linalg::rmsNorm(&x[size_t(t * D)], finalNorm_.data(), &xn[size_t(t * D)], D, float(c.normEps));
  linalg::gemmPacked(&xn[size_t(first * D)], D, T - first, lmHead_, logits, c.vocab, pool);
}

void layerForward(const LlamaConfig& c, const LayerWeights& L, int64_t l, float* xp, int64_t T,
                  int64_t start, float* Kc, float* Vc, int64_t capacity, const RopeTable& rp,
                  InputObserver* obs, ThreadPool* pool) {
  const int64_t D = c.dim, hd = c.headDim, half = hd / 2, H = c.heads, KV = c.kvHeads,
                qd = c.qDim(), kvd = c.kvDim(), F = c.hidden;
  const int64_t S = start + T;
  if (T <= 0) return;
  if (rp.t != T || rp.half != half)
    throw ModelError("run/internal", "layerForward: the rotary table is for another span");
  const int64_t rowChunk = std::max<int64_t>(1, 4096 / std::max<int64_t>(1, D));
  float* x = xp;
  std::vector<float> xn(size_t(T * D)), qkv(size_t(T * (qd + 2 * kvd))), att(size_t(T * qd)),
      tmp(size_t(T * D));
  std::vector<float> gu(size_t(T * 2 * F)), hbuf(size_t(T * F));
  auto rope = [&](float* v, int64_t t) {
    const float* cs = &rp.cos[size_t(t * half)];
    const float* sn = &rp.sin[size_t(t * half)];
    for (int64_t i = 0; i < half; i++) {
      const float a = v[i], b = v[i + half];
      v[i] = a * cs[i] - b * sn[i];
      v[i + half] = b * cs[i] + a * sn[i];
    }
  };
  const float scale = float(1.0 / std::sqrt(double(hd)));
  const int64_t group = H / KV;
  const int64_t ldqkv = qd + 2 * kvd;
  {
    parallelFor(
        pool, T,
        [&](int64_t a, int64_t b) {
          for (int64_t t = a; t < b; t++)
            linalg::rmsNorm(&x[t * D], L.attnNorm.data(), &xn[size_t(t * D)], D, float(c.normEps));
        },
        rowChunk);
    if (obs) obs->onInput(l, Site::Attn, xn.data(), T, D);
    linalg::gemmPacked(xn.data(), D, T, L.wqkv, qkv.data(), ldqkv, pool);
    parallelFor(
        pool, T,
        [&](int64_t a, int64_t b) {
          for (int64_t t = a; t < b; t++) {
            float* row = &qkv[size_t(t * ldqkv)];
            if (!L.bqkv.empty())
              for (int64_t j = 0; j < ldqkv; j++) row[j] += L.bqkv[size_t(j)];
            for (int64_t h = 0; h < H + KV; h++) {
              float* v = row + h * hd;  // q heads then k heads
              if (c.qkNorm)
                linalg::rmsNorm(v, h < H ? L.qNorm.data() : L.kNorm.data(), v, hd,
                                float(c.normEps));
              rope(v, t);
            }
            const int64_t pos = start + t;
            for (int64_t g = 0; g < KV; g++) {
              std::memcpy(Kc + (g * capacity + pos) * hd, row + qd + g * hd,
                          size_t(hd) * sizeof(float));
              const float* vv = row + qd + kvd + g * hd;
              for (int64_t d = 0; d < hd; d++) Vc[(g * hd + d) * capacity + pos] = vv[d];
            }
          }
        },
        rowChunk);
    // Attention, one query head per task: scores = Q_h K_g^T, masked softmax, P V_g.
    // Query rows go in blocks of kQb: block [t0, t1) needs keys [0, start + t1) only, so
    // the causal product wastes at most one block's triangle instead of half the square.
    constexpr int64_t kQb = 64;
    const int64_t qBlocks = (T + kQb - 1) / kQb;
    const int64_t window = c.windowAt(l);
    parallelFor(
        pool, H * qBlocks,
        [&](int64_t w0, int64_t w1) {
          std::vector<float> sc(size_t(std::min(T, kQb) * S));
          for (int64_t w = w0; w < w1; w++) {
            const int64_t h = w / qBlocks, t0 = (w % qBlocks) * kQb, t1 = std::min(T, t0 + kQb),
                          tb = t1 - t0;
            const int64_t g = h / group;
            const int64_t s1 = start + t1;  // keys this block can see
            const int64_t k0 = window > 0 ? std::max<int64_t>(0, start + t0 - window + 1) : 0;
            const int64_t sw = s1 - k0;
            linalg::gemmABt(&qkv[size_t(t0 * ldqkv + h * hd)], ldqkv, Kc + (g * capacity + k0) * hd,
                            hd, sc.data(), sw, tb, sw, hd, nullptr);
            for (int64_t t = t0; t < t1; t++) {
              float* r = &sc[size_t((t - t0) * sw)] - k0;  // r[j] for key j in [k0, s1)
              const int64_t last = start + t;              // inclusive
              const int64_t first = window > 0 ? std::max<int64_t>(0, last - window + 1) : 0;
              for (int64_t j = first; j <= last; j++) r[j] *= scale;
              linalg::softmax(r + first, last - first + 1);
              for (int64_t j = k0; j < first; j++) r[j] = 0.0f;
              for (int64_t j = last + 1; j < s1; j++) r[j] = 0.0f;
            }
            linalg::gemmABt(sc.data(), sw, Vc + g * hd * capacity + k0, capacity,
                            &att[size_t(t0 * qd + h * hd)], qd, tb, hd, sw, nullptr);
          }
        },
        1);
    if (obs) obs->onInput(l, Site::AttnOut, att.data(), T, qd);
    linalg::gemmPacked(att.data(), qd, T, L.wo, tmp.data(), D, pool);
    for (int64_t i = 0; i < T * D; i++) x[i] += tmp[size_t(i)];
    parallelFor(
        pool, T,
        [&](int64_t a, int64_t b) {
          for (int64_t t = a; t < b; t++)
            linalg::rmsNorm(&x[t * D], L.ffnNorm.data(), &xn[size_t(t * D)], D, float(c.normEps));
        },
        rowChunk);
    if (obs) obs->onInput(l, Site::Mlp, xn.data(), T, D);
    linalg::gemmPacked(xn.data(), D, T, L.wgu, gu.data(), 2 * F, pool);
    parallelFor(
        pool, T,
        [&](int64_t a, int64_t b) {
          for (int64_t t = a; t < b; t++)
            linalg::swiglu(&gu[size_t(t * 2 * F)], &gu[size_t(t * 2 * F + F)], &hbuf[size_t(t * F)],
                           F);
        },
        std::max<int64_t>(1, 4096 / std::max<int64_t>(1, F)));
    if (obs) obs->onInput(l, Site::Down, hbuf.data(), T, F);
    linalg::gemmPacked(hbuf.data(), F, T, L.wdown, tmp.data(), D, pool);
    for (int64_t i = 0; i < T * D; i++) x[i] += tmp[size_t(i)];
  }
}

int32_t sampleToken(const float* logits, int64_t vocab, double temperature, double u) {
  int64_t best = 0;
  for (int64_t i = 1; i < vocab; i++)
    if (logits[i] > logits[best]) best = i;
  if (temperature <= 0) return int32_t(best);
  double z = 0;
  std::vector<double> p(static_cast<size_t>(vocab));
  for (int64_t i = 0; i < vocab; i++) {
    p[size_t(i)] = std::exp((double(logits[i]) - double(logits[best])) / temperature);
    z += p[size_t(i)];
  }
  double acc = 0, target = u * z;
  for (int64_t i = 0; i < vocab; i++) {
    acc += p[size_t(i)];
    if (target < acc) return int32_t(i);
  }
  return int32_t(vocab - 1);
}

std::vector<int32_t> LlamaModel::generate(const std::vector<int32_t>& prompt, int64_t steps,
                                          double temperature, uint64_t seed) const {
  if (prompt.empty())
    throw ModelError("forward/bad-prompt", "generation needs at least one prompt token");
  const int64_t total = int64_t(prompt.size()) + steps;
  if (c_.maxPositions > 0 && total > c_.maxPositions)
    throw ModelError("forward/too-long",
                     "sequences of " + std::to_string(total) + " tokens exceed the model's " +
                         std::to_string(c_.maxPositions) + " positions (" + c_.source + ")");
  KVCache cache = newCache(total);
  std::vector<int32_t> out = prompt;
  std::vector<float> logits(size_t(c_.vocab));
  uint64_t state = seed;
  forward(prompt.data(), int64_t(prompt.size()), cache, logits.data(), false);
  for (int64_t s = 0; s < steps; s++) {
    const double u = double(splitmix64(state) >> 11) * (1.0 / 9007199254740992.0);
    const int32_t next = sampleToken(logits.data(), c_.vocab, temperature, u);
    out.push_back(next);
    if (s + 1 < steps) forward(&next, 1, cache, logits.data(), false);
  }
  return out;
}

}  // namespace forward
}  // namespace bitsmith
