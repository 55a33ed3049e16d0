#include "forward/llama.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>

#include "io/error.h"
#include "io/json.h"
#include "io/model.h"
#include "linalg/ops.h"
#include "threads/pool.h"

namespace fs = std::filesystem;

namespace bitsmith {
namespace forward {

namespace {

inline uint64_t splitmix64(uint64_t& s) {
  uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::string numberText(double d) {
  std::string s;
  json::appendNumber(s, d);
  return s;
}

[[noreturn]] void configError(const std::string& file, const std::string& what) {
  throw ModelError("forward/bad-config", file + ": " + what);
}

int64_t intMember(const json::Value& cfg, const std::string& file, const char* key, int64_t def,
                  bool required, int64_t lo = 1, int64_t hi = int64_t(1) << 24) {
  const json::Value* v = cfg.get(key);
  if (!v || v->kind == json::Value::Null) {
    if (required) configError(file, std::string("\"") + key + "\" is missing");
    return def;
  }
  if (!v->isNumber() || v->number != std::floor(v->number) || v->number < double(lo) ||
      v->number > double(hi))
    configError(file, std::string("\"") + key + "\" must be an integer from " + std::to_string(lo) +
                          " to " + std::to_string(hi));
  return int64_t(v->number);
}

double numMember(const json::Value& cfg, const std::string& file, const char* key, double def,
                 double lo, double hi) {
  const json::Value* v = cfg.get(key);
  if (!v || v->kind == json::Value::Null) return def;
  if (!v->isNumber() || !(v->number >= lo && v->number <= hi))
    configError(file, std::string("\"") + key + "\" must be a number from " + numberText(lo) +
                          " to " + numberText(hi));
  return v->number;
}

LlamaConfig configFromJson(const Model& m, const std::string& file) {
  // Read whole (bounded) rather than mapped; parsed with the config limits (io/model.h).
  InputFile f(file);
  if (f.size() > kMaxConfigBytes)
    configError(file, "config.json is " + std::to_string(f.size()) + " bytes (limit " +
                          std::to_string(kMaxConfigBytes) + ")");
  const std::string text = f.readString(0, size_t(f.size()));
  json::Value cfg;
  json::ParseError err;
  if (!json::parse(text.data(), text.size(), cfg, err, configLimits()))
    configError(file, "invalid JSON: " + err.message);
  if (!cfg.isObject()) configError(file, "not a JSON object");
  LlamaConfig c;
  c.source = file;
  const json::Value* mt = cfg.get("model_type");
  std::string archs;
  if (const json::Value* a = cfg.get("architectures"); a && a->isArray())
    for (const auto& x : a->items)
      if (x.isString()) archs += (archs.empty() ? "" : ", ") + x.string;
  c.architecture = mt && mt->isString() ? mt->string : "";
  static const char* supported[] = {"llama", "mistral", "qwen2", "qwen3"};
  if (std::find_if(std::begin(supported), std::end(supported),
                   [&](const char* s) { return c.architecture == s; }) == std::end(supported))
    throw ModelError("forward/unsupported-architecture",
                     file + ": model_type \"" +
                         (c.architecture.empty() ? std::string("(none)") : c.architecture) + "\"" +
                         (archs.empty() ? "" : " (" + archs + ")") +
                         ": the forward pass runs Llama-family models only (llama, mistral, qwen2, "
                         "qwen3, and llama2.c checkpoints)");
  if (const json::Value* act = cfg.get("hidden_act");
      act && act->isString() && act->string != "silu")
    configError(file, "hidden_act \"" + act->string + "\": only silu (SwiGLU) is supported");
  if (const json::Value* rs = cfg.get("rope_scaling"); rs && rs->kind != json::Value::Null) {
    std::string type = "?";
    if (rs->isObject()) {
      const json::Value* t = rs->get("rope_type");
      if (!t) t = rs->get("type");
      if (t && t->isString()) type = t->string;
    }
    if (type != "default")
      throw ModelError("forward/unsupported-architecture",
                       file + ": rope_scaling of type \"" + type +
                           "\" is not supported by the forward pass yet");
  }
  c.dim = intMember(cfg, file, "hidden_size", 0, true);
  c.hidden = intMember(cfg, file, "intermediate_size", 0, true);
  c.layers = intMember(cfg, file, "num_hidden_layers", 0, true, 1, 4096);
  c.heads = intMember(cfg, file, "num_attention_heads", 0, true, 1, 4096);
  c.kvHeads = intMember(cfg, file, "num_key_value_heads", c.heads, false, 1, 4096);
  c.vocab = intMember(cfg, file, "vocab_size", 0, true, 1, int64_t(1) << 24);
  c.headDim = intMember(cfg, file, "head_dim", 0, false, 1, 4096);
  if (c.headDim == 0) {
    if (c.dim % c.heads != 0)
      configError(file, "num_attention_heads does not divide hidden_size and there is no head_dim");
    c.headDim = c.dim / c.heads;
  }
  if (c.heads % c.kvHeads != 0)
    configError(file, "num_key_value_heads does not divide num_attention_heads");
  if (c.headDim % 2 != 0) configError(file, "head_dim must be even for the rotary embedding");
  c.maxPositions = intMember(cfg, file, "max_position_embeddings", 0, false, 1, int64_t(1) << 30);
  c.normEps = numMember(cfg, file, "rms_norm_eps", 1e-6, 0, 1);
  c.ropeTheta = numMember(cfg, file, "rope_theta", 10000.0, 1e-6, 1e30);
  c.bosToken = intMember(cfg, file, "bos_token_id", 1, false, 0, c.vocab - 1);
  c.qkNorm = c.architecture == "qwen3";
  bool useWindow = c.architecture == "mistral";
  if (const json::Value* u = cfg.get("use_sliding_window"); u && u->kind == json::Value::Bool)
    useWindow = u->boolean;
  if (useWindow)
    c.slidingWindow = intMember(cfg, file, "sliding_window", 0, false, 1, int64_t(1) << 30);
  // Qwen2 always has q/k/v biases; Llama and Mistral when attention_bias says so. The
  // tensors decide (checked when the weights are read).
  c.qkvBias = m.find("model.layers.0.self_attn.q_proj.bias") != nullptr;
  if (c.architecture == "qwen2" && !c.qkvBias)
    throw ModelError("forward/missing-tensor",
                     m.path + ": Qwen2 model without model.layers.0.self_attn.q_proj.bias",
                     "model.layers.0.self_attn.q_proj.bias");
  return c;
}

}  // namespace

LlamaConfig readConfig(const Model& m) {
  if (m.format == "llama2c") {
    const InputFile& f = *m.files.at(0);
    if (f.size() < 28) throw ModelError("model/truncated", f.path() + ": no llama2.c header");
    int32_t h[7];
    f.read(0, h, 28);
    LlamaConfig c;
    c.architecture = "llama";
    c.source = f.path();
    c.dim = h[0];
    c.hidden = h[1];
    c.layers = h[2];
    c.heads = h[3];
    c.kvHeads = h[4];
    c.vocab = h[5] > 0 ? h[5] : -int64_t(h[5]);
    c.maxPositions = h[6];
    c.headDim = c.dim / c.heads;  // the reader checked that heads divides dim
    if (c.headDim % 2 != 0)
      throw ModelError("forward/bad-config", f.path() + ": llama2.c head size " +
                                                 std::to_string(c.headDim) +
                                                 " is odd: no rotary pairs");
    c.normEps = 1e-5;  // llama2.c's run.c
    c.ropeTheta = 10000.0;
    c.bosToken = 1;
    return c;
  }
  if (m.format == "gguf")
    throw ModelError("forward/unsupported-format",
                     m.path +
                         ": the forward pass reads Hugging Face folders (config.json + "
                         "safetensors) and llama2.c .bin checkpoints; GGUF is not supported yet");
  const fs::path dir = m.format == "hf-folder" ? fs::path(m.path) : fs::path(m.path).parent_path();
  const std::string cfg = (dir / "config.json").string();
  if (!pathExists(cfg))
    throw ModelError(
        "forward/no-config",
        m.path + ": the forward pass needs the model's config.json (looked for " + cfg + ")");
  return configFromJson(m, cfg);
}

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

namespace {

// Reads a tensor of exactly `shape` as f32 (or takes its override), naming it on error.
std::vector<float> readTensor(const Model& m, const LlamaModel::Overrides* ov,
                              const std::string& name, const std::vector<int64_t>& shape,
                              ThreadPool* pool) {
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
  if (!ok)
    throw ModelError("forward/non-finite",
                     m.fileOf(*t).path() + ": tensor \"" + name + "\" holds NaN or Inf values",
                     name);
  return out;
}

void append(std::vector<float>& dst, const std::vector<float>& src) {
  dst.insert(dst.end(), src.begin(), src.end());
}

}  // namespace

LlamaModel::LlamaModel(const Model& m, const LlamaConfig& c, ThreadPool* pool, const Overrides* ov)
    : c_(c), pool_(pool) {
  const int64_t D = c.dim, qd = c.qDim(), kvd = c.kvDim(), F = c.hidden, V = c.vocab;
  embed_ = readTensor(m, ov, "model.embed_tokens.weight", {V, D}, pool);
  finalNorm_ = readTensor(m, ov, "model.norm.weight", {D}, pool);
  if (m.find("lm_head.weight")) {
    std::vector<float> lm = readTensor(m, ov, "lm_head.weight", {V, D}, pool);
    linalg::packB(lm.data(), D, V, D, lmHead_, pool);
  } else {
    linalg::packB(embed_.data(), D, V, D, lmHead_, pool);  // tied embeddings
  }
  layers_.resize(size_t(c.layers));
  for (int64_t l = 0; l < c.layers; l++) {
    Layer& L = layers_[size_t(l)];
    const std::string p = "model.layers." + std::to_string(l) + ".";
    L.attnNorm = readTensor(m, ov, p + "input_layernorm.weight", {D}, pool);
    L.ffnNorm = readTensor(m, ov, p + "post_attention_layernorm.weight", {D}, pool);
    std::vector<float> qkv = readTensor(m, ov, p + "self_attn.q_proj.weight", {qd, D}, pool);
    append(qkv, readTensor(m, ov, p + "self_attn.k_proj.weight", {kvd, D}, pool));
    append(qkv, readTensor(m, ov, p + "self_attn.v_proj.weight", {kvd, D}, pool));
    linalg::packB(qkv.data(), D, qd + 2 * kvd, D, L.wqkv, pool);
    if (c.qkvBias) {
      L.bqkv = readTensor(m, ov, p + "self_attn.q_proj.bias", {qd}, pool);
      append(L.bqkv, readTensor(m, ov, p + "self_attn.k_proj.bias", {kvd}, pool));
      append(L.bqkv, readTensor(m, ov, p + "self_attn.v_proj.bias", {kvd}, pool));
    }
    if (c.qkNorm) {
      L.qNorm = readTensor(m, ov, p + "self_attn.q_norm.weight", {c.headDim}, pool);
      L.kNorm = readTensor(m, ov, p + "self_attn.k_norm.weight", {c.headDim}, pool);
    }
    std::vector<float> wo = readTensor(m, ov, p + "self_attn.o_proj.weight", {D, qd}, pool);
    linalg::packB(wo.data(), qd, D, qd, L.wo, pool);
    std::vector<float> gu = readTensor(m, ov, p + "mlp.gate_proj.weight", {F, D}, pool);
    append(gu, readTensor(m, ov, p + "mlp.up_proj.weight", {F, D}, pool));
    linalg::packB(gu.data(), D, 2 * F, D, L.wgu, pool);
    std::vector<float> wd = readTensor(m, ov, p + "mlp.down_proj.weight", {D, F}, pool);
    linalg::packB(wd.data(), F, D, F, L.wdown, pool);
  }
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
  const int64_t D = c.dim, hd = c.headDim, half = hd / 2, H = c.heads, KV = c.kvHeads,
                qd = c.qDim(), kvd = c.kvDim(), F = c.hidden;
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
  const int64_t rowChunk = std::max<int64_t>(1, 4096 / std::max<int64_t>(1, D));

  std::vector<float> x(size_t(T * D)), xn(size_t(T * D)), qkv(size_t(T * (qd + 2 * kvd))),
      att(size_t(T * qd)), tmp(size_t(T * D));
  std::vector<float> gu(size_t(T * 2 * F)), hbuf(size_t(T * F));
  for (int64_t t = 0; t < T; t++)
    std::memcpy(&x[size_t(t * D)], &embed_[size_t(int64_t(tokens[t]) * D)],
                size_t(D) * sizeof(float));

  // Rotary table for positions [start, S): cos/sin of pos * theta^(-2i/hd), in f64.
  std::vector<float> cosT(size_t(T * half)), sinT(size_t(T * half));
  for (int64_t i = 0; i < half; i++) {
    const double invFreq = std::pow(c.ropeTheta, -double(2 * i) / double(hd));
    for (int64_t t = 0; t < T; t++) {
      const double a = double(start + t) * invFreq;
      cosT[size_t(t * half + i)] = float(std::cos(a));
      sinT[size_t(t * half + i)] = float(std::sin(a));
    }
  }
  auto rope = [&](float* v, int64_t t) {
    const float* cs = &cosT[size_t(t * half)];
    const float* sn = &sinT[size_t(t * half)];
    for (int64_t i = 0; i < half; i++) {
      const float a = v[i], b = v[i + half];
      v[i] = a * cs[i] - b * sn[i];
      v[i + half] = b * cs[i] + a * sn[i];
    }
  };
  const float scale = float(1.0 / std::sqrt(double(hd)));
  const int64_t group = H / KV;
  const int64_t ldqkv = qd + 2 * kvd;

  for (int64_t l = 0; l < c.layers; l++) {
    const Layer& L = layers_[size_t(l)];
    float* Kc = cache.k[size_t(l)].data();
    float* Vc = cache.v[size_t(l)].data();
    parallelFor(
        pool, T,
        [&](int64_t a, int64_t b) {
          for (int64_t t = a; t < b; t++)
            linalg::rmsNorm(&x[size_t(t * D)], L.attnNorm.data(), &xn[size_t(t * D)], D,
                            float(c.normEps));
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
              std::memcpy(Kc + (g * cache.capacity + pos) * hd, row + qd + g * hd,
                          size_t(hd) * sizeof(float));
              const float* vv = row + qd + kvd + g * hd;
              for (int64_t d = 0; d < hd; d++) Vc[(g * hd + d) * cache.capacity + pos] = vv[d];
            }
          }
        },
        rowChunk);
    // Attention, one query head per task: scores = Q_h K_g^T, masked softmax, P V_g.
    // Query rows go in blocks of kQb: block [t0, t1) needs keys [0, start + t1) only, so
    // the causal product wastes at most one block's triangle instead of half the square.
    constexpr int64_t kQb = 64;
    const int64_t qBlocks = (T + kQb - 1) / kQb;
    parallelFor(
        pool, H * qBlocks,
        [&](int64_t w0, int64_t w1) {
          std::vector<float> sc(size_t(std::min(T, kQb) * S));
          for (int64_t w = w0; w < w1; w++) {
            const int64_t h = w / qBlocks, t0 = (w % qBlocks) * kQb, t1 = std::min(T, t0 + kQb),
                          tb = t1 - t0;
            const int64_t g = h / group;
            const int64_t s1 = start + t1;  // keys this block can see
            const int64_t k0 =
                c.slidingWindow > 0 ? std::max<int64_t>(0, start + t0 - c.slidingWindow + 1) : 0;
            const int64_t sw = s1 - k0;
            linalg::gemmABt(&qkv[size_t(t0 * ldqkv + h * hd)], ldqkv,
                            Kc + (g * cache.capacity + k0) * hd, hd, sc.data(), sw, tb, sw, hd,
                            nullptr);
            for (int64_t t = t0; t < t1; t++) {
              float* r = &sc[size_t((t - t0) * sw)] - k0;  // r[j] for key j in [k0, s1)
              const int64_t last = start + t;              // inclusive
              const int64_t first =
                  c.slidingWindow > 0 ? std::max<int64_t>(0, last - c.slidingWindow + 1) : 0;
              for (int64_t j = first; j <= last; j++) r[j] *= scale;
              linalg::softmax(r + first, last - first + 1);
              for (int64_t j = k0; j < first; j++) r[j] = 0.0f;
              for (int64_t j = last + 1; j < s1; j++) r[j] = 0.0f;
            }
            linalg::gemmABt(sc.data(), sw, Vc + g * hd * cache.capacity + k0, cache.capacity,
                            &att[size_t(t0 * qd + h * hd)], qd, tb, hd, sw, nullptr);
          }
        },
        1);
    if (obs) obs->onInput(l, Site::AttnOut, att.data(), T, qd);
    linalg::gemmPacked(att.data(), qd, T, L.wo, tmp.data(), D, pool);
    for (int64_t i = 0; i < T * D; i++) x[size_t(i)] += tmp[size_t(i)];
    parallelFor(
        pool, T,
        [&](int64_t a, int64_t b) {
          for (int64_t t = a; t < b; t++)
            linalg::rmsNorm(&x[size_t(t * D)], L.ffnNorm.data(), &xn[size_t(t * D)], D,
                            float(c.normEps));
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
    for (int64_t i = 0; i < T * D; i++) x[size_t(i)] += tmp[size_t(i)];
  }
  cache.length = S;
  if (!logits) return;
  const int64_t first = allLogits ? 0 : T - 1;
  for (int64_t t = first; t < T; t++)
    linalg::rmsNorm(&x[size_t(t * D)], finalNorm_.data(), &xn[size_t(t * D)], D, float(c.normEps));
  linalg::gemmPacked(&xn[size_t(first * D)], D, T - first, lmHead_, logits, c.vocab, pool);
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
