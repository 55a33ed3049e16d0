// What the forward pass runs: a model's config.json (or llama2.c header) read into a
// LlamaConfig as Hugging Face transformers reads it (families, rope scaling, sliding-window
// layers, biases, tied head), and every tensor the pass reads checked by name and shape
// before any weight is read.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "forward/llama.h"
#include "forward/rope.h"
#include "io/error.h"
#include "io/input_file.h"
#include "io/json.h"
#include "io/model.h"

namespace fs = std::filesystem;

namespace bitsmith {
namespace forward {

namespace {

// ---- config.json: what the forward pass runs --------------------------------------------
// Every rule and message here has its twin in core/src/analysis/forwardSupport.ts, so the
// editor reports before a run what the run would: change both together
// (test/native/forward-support.test.ts runs them on the same configs).

[[noreturn]] void configError(const std::string& file, const std::string& what) {
  throw ModelError("forward/bad-config", file + ": " + what);
}

[[noreturn]] void unsupported(const std::string& file, const std::string& what) {
  throw ModelError("forward/unsupported-architecture", file + ": " + what);
}

bool isSet(const json::Value* v) {
  return v && v->kind != json::Value::Null;
}

// obj[key] (called `prefix + key` in messages) as an integer in [lo, hi].
int64_t intMember(const json::Value& obj, const std::string& file, const std::string& prefix,
                  const char* key, int64_t def, bool required, int64_t lo = 1,
                  int64_t hi = int64_t(1) << 24) {
  const json::Value* v = obj.get(key);
  const std::string name = prefix + key;
  if (!isSet(v)) {
    if (required) configError(file, "\"" + name + "\" is missing");
    return def;
  }
  if (!v->isNumber() || v->number != std::floor(v->number) || v->number < double(lo) ||
      v->number > double(hi))
    configError(file, "\"" + name + "\" must be an integer from " + std::to_string(lo) + " to " +
                          std::to_string(hi));
  return int64_t(v->number);
}

enum class Range { Any, NonNegative, Positive, AtLeastOne, UnitInterval };

double numMember(const json::Value& obj, const std::string& file, const std::string& prefix,
                 const char* key, double def, bool required, Range range) {
  const json::Value* v = obj.get(key);
  const std::string name = prefix + key;
  if (!isSet(v)) {
    if (required) configError(file, "\"" + name + "\" is missing");
    return def;
  }
  const double x = v->isNumber() ? v->number : std::nan("");
  bool ok = std::isfinite(x);
  const char* what = "a number";
  switch (range) {
    case Range::Any:
      break;
    case Range::NonNegative:
      ok = ok && x >= 0;
      what = "a number of at least 0";
      break;
    case Range::Positive:
      ok = ok && x > 0;
      what = "a positive number";
      break;
    case Range::AtLeastOne:
      ok = ok && x >= 1;
      what = "a number of at least 1";
      break;
    case Range::UnitInterval:
      ok = ok && x >= 0 && x <= 1;
      what = "a number from 0 to 1";
      break;
  }
  if (!ok) configError(file, "\"" + name + "\" must be " + what);
  return x;
}

bool boolMember(const json::Value& obj, const std::string& file, const std::string& prefix,
                const char* key, bool def) {
  const json::Value* v = obj.get(key);
  if (!isSet(v)) return def;
  if (v->kind != json::Value::Bool)
    configError(file, "\"" + prefix + key + "\" must be true or false");
  return v->boolean;
}

// YaRN's magnitude correction: 0.1 m ln(s) + 1 above s = 1.
double yarnMscale(double scale, double m) {
  return scale <= 1 ? 1.0 : 0.1 * m * std::log(scale) + 1.0;
}

// rope_theta and rope_scaling (or transformers 5's rope_parameters) as transformers reads
// them: rope_scaling wins when it is a non-empty object; the dictionary's own rope_theta
// wins over the top-level one; original_max_position_embeddings at the top level wins
// over the dictionary's, which wins over max_position_embeddings.
Rope ropeFromJson(const json::Value& cfg, const std::string& file, const LlamaConfig& c) {
  Rope r;
  r.dim = c.headDim;
  const json::Value* rs = cfg.get("rope_scaling");
  const json::Value* rp = cfg.get("rope_parameters");
  const json::Value* sc = nullptr;
  std::string label = "rope_scaling";
  if (isSet(rs) && !(rs->isObject() && rs->members.empty())) {
    if (!rs->isObject()) configError(file, "\"rope_scaling\" must be an object or null");
    sc = rs;
  } else if (isSet(rp)) {
    if (!rp->isObject()) configError(file, "\"rope_parameters\" must be an object or null");
    sc = rp;
    label = "rope_parameters";
  }
  const std::string arch = c.architecture;
  if (sc)
    for (const auto& kv : sc->members)
      if (kv.second.isObject())
        unsupported(file,
                    arch + " with " + label + " per layer type: not supported by the forward pass");
  const std::string pre = label + ".";
  r.theta = sc && isSet(sc->get("rope_theta"))
                ? numMember(*sc, file, pre, "rope_theta", 0, true, Range::Positive)
                : numMember(cfg, file, "", "rope_theta", 10000.0, false, Range::Positive);
  const bool partialTop = isSet(cfg.get("partial_rotary_factor"));
  const double partial =
      partialTop ? numMember(cfg, file, "", "partial_rotary_factor", 1, true, Range::Any)
      : sc       ? numMember(*sc, file, pre, "partial_rotary_factor", 1, false, Range::Any)
                 : 1.0;
  if (partial != 1.0)
    unsupported(file,
                arch + " with partial_rotary_factor: the forward pass rotates whole heads only");
  std::string type = "default";
  if (sc) {
    const json::Value* t = sc->get("rope_type");
    std::string key = "rope_type";
    if (!isSet(t)) {
      t = sc->get("type");
      key = "type";
    }
    if (isSet(t)) {
      if (!t->isString()) configError(file, "\"" + pre + key + "\" must be a string");
      type = t->string;
    }
  }
  auto original = [&]() -> int64_t {
    if (isSet(cfg.get("original_max_position_embeddings")))
      return intMember(cfg, file, "", "original_max_position_embeddings", 0, true, 1,
                       int64_t(1) << 30);
    if (isSet(sc->get("original_max_position_embeddings")))
      return intMember(*sc, file, pre, "original_max_position_embeddings", 0, true, 1,
                       int64_t(1) << 30);
    if (c.maxPositions > 0) return c.maxPositions;
    configError(file, label + " of type \"" + type +
                          "\" needs \"original_max_position_embeddings\" or "
                          "\"max_position_embeddings\"");
  };
  if (type == "default") {
    r.type = RopeType::Default;
  } else if (type == "linear") {
    r.type = RopeType::Linear;
    r.factor = numMember(*sc, file, pre, "factor", 1, true, Range::AtLeastOne);
  } else if (type == "dynamic") {
    r.type = RopeType::Dynamic;
    r.factor = numMember(*sc, file, pre, "factor", 1, true, Range::AtLeastOne);
    if (c.maxPositions <= 0)
      configError(file, label + " of type \"dynamic\" needs \"max_position_embeddings\"");
    if (c.headDim <= 2) configError(file, label + " of type \"dynamic\" needs a head_dim above 2");
    r.maxPositions = c.maxPositions;
  } else if (type == "yarn") {
    r.type = RopeType::Yarn;
    r.factor = numMember(*sc, file, pre, "factor", 1, true, Range::AtLeastOne);
    r.originalMaxPositions = original();
    const double fast = numMember(*sc, file, pre, "beta_fast", 0, false, Range::NonNegative);
    const double slow = numMember(*sc, file, pre, "beta_slow", 0, false, Range::NonNegative);
    r.betaFast = fast != 0 ? fast : 32.0;  // transformers: `or 32`, `or 1`
    r.betaSlow = slow != 0 ? slow : 1.0;
    r.truncate = boolMember(*sc, file, pre, "truncate", true);
    const double mscale = numMember(*sc, file, pre, "mscale", 0, false, Range::Any);
    const double mscaleAll = numMember(*sc, file, pre, "mscale_all_dim", 0, false, Range::Any);
    if (isSet(sc->get("attention_factor")))
      r.attentionFactor = numMember(*sc, file, pre, "attention_factor", 1, true, Range::Positive);
    else if (mscale != 0 && mscaleAll != 0)
      r.attentionFactor = yarnMscale(r.factor, mscale) / yarnMscale(r.factor, mscaleAll);
    else
      r.attentionFactor = yarnMscale(r.factor, 1.0);
  } else if (type == "llama3") {
    r.type = RopeType::Llama3;
    r.factor = numMember(*sc, file, pre, "factor", 1, true, Range::AtLeastOne);
    r.lowFreqFactor = numMember(*sc, file, pre, "low_freq_factor", 1, true, Range::Positive);
    r.highFreqFactor = numMember(*sc, file, pre, "high_freq_factor", 4, true, Range::Positive);
    if (!(r.highFreqFactor > r.lowFreqFactor))
      configError(file, "\"" + pre + "high_freq_factor\" must be greater than \"" + pre +
                            "low_freq_factor\"");
    r.originalMaxPositions = original();
  } else {
    unsupported(file, arch + " with " + label + " of type \"" + type +
                          "\": the forward pass runs rope types default, linear, dynamic, yarn "
                          "and llama3");
  }
  return r;
}

LlamaConfig configFromJson(const std::string& file) {
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
  const std::string& arch = c.architecture;
  std::string moe;  // the key that makes it a mixture of experts
  for (const char* k : {"num_local_experts", "num_experts", "n_routed_experts"})
    if (const json::Value* v = cfg.get(k); moe.empty() && v && v->isNumber() && v->number > 0)
      moe = k;
  static const char* supported[] = {"llama", "mistral", "qwen2", "qwen3"};
  if (std::find_if(std::begin(supported), std::end(supported),
                   [&](const char* s) { return arch == s; }) == std::end(supported))
    unsupported(file, "model_type \"" + (arch.empty() ? std::string("(none)") : arch) + "\"" +
                          (archs.empty() ? "" : " (" + archs + ")") +
                          (moe.empty() ? "" : ", a mixture-of-experts model") +
                          ": the forward pass runs Llama-family models only (llama, mistral, "
                          "qwen2, qwen3, and llama2.c checkpoints)");
  if (!moe.empty())
    unsupported(file, arch + " with \"" + moe +
                          "\": mixture-of-experts models are not supported by the forward pass");
  if (const json::Value* act = cfg.get("hidden_act"); isSet(act)) {
    if (!act->isString()) configError(file, "\"hidden_act\" must be a string");
    if (act->string != "silu")
      unsupported(file, arch + " with hidden_act \"" + act->string +
                            "\": the forward pass runs silu (SwiGLU) MLPs only");
  }
  c.dim = intMember(cfg, file, "", "hidden_size", 0, true);
  c.hidden = intMember(cfg, file, "", "intermediate_size", 0, true);
  c.layers = intMember(cfg, file, "", "num_hidden_layers", 0, true, 1, 4096);
  c.heads = intMember(cfg, file, "", "num_attention_heads", 0, true, 1, 4096);
  c.kvHeads = intMember(cfg, file, "", "num_key_value_heads", c.heads, false, 1, 4096);
  c.vocab = intMember(cfg, file, "", "vocab_size", 0, true, 1, int64_t(1) << 24);
  c.headDim = intMember(cfg, file, "", "head_dim", 0, false, 1, 4096);
  if (c.headDim == 0) {
    if (c.dim % c.heads != 0)
      configError(file, "num_attention_heads does not divide hidden_size and there is no head_dim");
    c.headDim = c.dim / c.heads;
  }
  if (c.heads % c.kvHeads != 0)
    configError(file, "num_key_value_heads does not divide num_attention_heads");
  if (c.headDim % 2 != 0) configError(file, "head_dim must be even for the rotary embedding");
  c.maxPositions =
      intMember(cfg, file, "", "max_position_embeddings", 0, false, 1, int64_t(1) << 30);
  c.normEps = numMember(cfg, file, "", "rms_norm_eps", 1e-6, false, Range::UnitInterval);
  c.bosToken = intMember(cfg, file, "", "bos_token_id", 1, false, 0, c.vocab - 1);
  // Biases as transformers builds the modules: Qwen2 always has q/k/v biases and no o_proj
  // bias; attention_bias gives Llama and Qwen3 q/k/v *and* o_proj biases (o_proj's is not
  // run here); Mistral has none; mlp_bias gives Llama's MLP biases (not run here).
  if ((arch == "llama" || arch == "qwen3") && boolMember(cfg, file, "", "attention_bias", false))
    unsupported(file, arch +
                          " with attention_bias: the o_proj bias is not supported by the "
                          "forward pass");
  if (arch == "llama" && boolMember(cfg, file, "", "mlp_bias", false))
    unsupported(file, "llama with mlp_bias: MLP biases are not supported by the forward pass");
  c.qkvBias = arch == "qwen2";
  c.qkNorm = arch == "qwen3";
  c.rope = ropeFromJson(cfg, file, c);
  // Sliding window: Mistral's applies to every layer; Qwen2/3's only with
  // use_sliding_window, to the layers layer_types marks sliding_attention, else to those
  // from max_window_layers on; Llama has none.
  if (arch == "mistral") {
    c.slidingWindow = intMember(cfg, file, "", "sliding_window", 0, false, 1, int64_t(1) << 30);
  } else if ((arch == "qwen2" || arch == "qwen3") &&
             boolMember(cfg, file, "", "use_sliding_window", false)) {
    c.slidingWindow = intMember(cfg, file, "", "sliding_window", 0, false, 1, int64_t(1) << 30);
    if (c.slidingWindow > 0) {
      c.windowLayers.assign(size_t(c.layers), 0);
      if (const json::Value* lt = cfg.get("layer_types"); isSet(lt)) {
        if (!lt->isArray() || int64_t(lt->items.size()) != c.layers)
          configError(file, "\"layer_types\" must list the attention type of each of the " +
                                std::to_string(c.layers) + " layers");
        for (size_t l = 0; l < lt->items.size(); l++) {
          const json::Value& e = lt->items[l];
          if (!e.isString() || (e.string != "full_attention" && e.string != "sliding_attention"))
            configError(file,
                        "\"layer_types\" entries must be \"full_attention\" or "
                        "\"sliding_attention\"");
          c.windowLayers[l] = e.string == "sliding_attention";
        }
      } else {
        const int64_t from = intMember(cfg, file, "", "max_window_layers", 28, false, 0, 4096);
        for (int64_t l = from; l < c.layers; l++) c.windowLayers[size_t(l)] = 1;
      }
    }
  }
  c.tied = boolMember(cfg, file, "", "tie_word_embeddings", false);
  return c;
}

std::string shapeText(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); i++) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

// Every tensor the forward pass reads, with the shape the config implies, in reading order.
std::vector<std::pair<std::string, std::vector<int64_t>>> forwardTensors(const LlamaConfig& c) {
  const int64_t D = c.dim, qd = c.qDim(), kvd = c.kvDim(), F = c.hidden, V = c.vocab;
  std::vector<std::pair<std::string, std::vector<int64_t>>> t = {
      {"model.embed_tokens.weight", {V, D}}, {"model.norm.weight", {D}}};
  if (!c.tied) t.push_back({"lm_head.weight", {V, D}});
  for (int64_t l = 0; l < c.layers; l++) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    t.push_back({p + "input_layernorm.weight", {D}});
    t.push_back({p + "post_attention_layernorm.weight", {D}});
    t.push_back({p + "self_attn.q_proj.weight", {qd, D}});
    t.push_back({p + "self_attn.k_proj.weight", {kvd, D}});
    t.push_back({p + "self_attn.v_proj.weight", {kvd, D}});
    if (c.qkvBias) {
      t.push_back({p + "self_attn.q_proj.bias", {qd}});
      t.push_back({p + "self_attn.k_proj.bias", {kvd}});
      t.push_back({p + "self_attn.v_proj.bias", {kvd}});
    }
    if (c.qkNorm) {
      t.push_back({p + "self_attn.q_norm.weight", {c.headDim}});
      t.push_back({p + "self_attn.k_norm.weight", {c.headDim}});
    }
    t.push_back({p + "self_attn.o_proj.weight", {D, qd}});
    t.push_back({p + "mlp.gate_proj.weight", {F, D}});
    t.push_back({p + "mlp.up_proj.weight", {F, D}});
    t.push_back({p + "mlp.down_proj.weight", {D, F}});
  }
  return t;
}

void checkTensors(const Model& m, const LlamaConfig& c) {
  for (const auto& [name, shape] : forwardTensors(c)) {
    const TensorRef* t = m.find(name);
    if (!t)
      throw ModelError("forward/missing-tensor",
                       m.path + ": the " + c.architecture + " forward pass needs tensor \"" + name +
                           "\", which the model lacks",
                       name);
    if (t->shape != shape)
      throw ModelError("forward/shape-mismatch",
                       m.fileOf(*t).path() + ": tensor \"" + name + "\" has shape " +
                           shapeText(t->shape) + " but the config implies " + shapeText(shape),
                       name);
  }
}

LlamaConfig readConfigOnly(const Model& m) {
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
    c.rope.dim = c.headDim;
    c.tied = m.find("lm_head.weight") == nullptr;  // the reader presents an unshared classifier
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
  return configFromJson(cfg);
}

}  // namespace

LlamaConfig readConfig(const Model& m) {
  LlamaConfig c = readConfigOnly(m);
  checkTensors(m, c);
  return c;
}

}  // namespace forward
}  // namespace bitsmith
