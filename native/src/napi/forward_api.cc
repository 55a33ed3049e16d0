// N-API bindings of the forward pass (native/src/forward), synchronous, for tests and
// benchmarks; `bitsmith run` reaches the same code through the runner. All take a model
// path (HF folder, .safetensors with config.json beside it, or llama2.c .bin) and
// options {threads = 0 (all cores)}. Errors are Error objects with `code` (and `tensor`).
//   config(path) -> {architecture, dim, hidden, layers, heads, kvHeads, headDim, vocab, ...,
//     rope: {type, theta, factor, ...}, windowLayers: number[]}
//   rope(path, start, count) -> {invFreq: Float64Array [headDim/2], cos, sin: Float32Array
//     [count * headDim/2]}  the rotary table of positions [start, start + count)
//   generate(path, prompt: number[], steps, {temperature = 0 (greedy), seed = 0}) -> number[]
//   logits(path, tokens: number[], {incremental = false}) -> Float32Array [T * vocab]
//     (incremental: one token at a time through the KV cache, for comparison)
//   sequences(path, {kind: 'generated' | 'tokens', samples, length, seed, file}) -> number[][]
//   calibrate(path, sequences, {reference = false}) -> [{layer, site, n, tokens, tensors, h:
//   Float64Array}] inputs(path, tokens) -> [{layer, site, n, t, x: Float32Array}]  every linear
//   layer's input evaluate(originalPath, quantizedPath, sequences, {scoreFrom}) -> the
//   evaluation event's figures; summarize({nllA, nllB, kl, sameTop}) -> the same from
//   per-position scores; bench(path, sequences, {hessians = true, mode = 'batched' |
//   'incremental'}) -> {seconds, cpuSeconds, tokens, loadSeconds, threads}
//     batched: one forward call per sequence (with Hessian collection unless hessians is
//     false); incremental: one token per call with the KV cache and next-token logits.
#include <napi.h>

#include <chrono>
#include <ctime>
#include <memory>
#include <string>

#include "forward/calibrate.h"
#include "forward/llama.h"
#include "io/error.h"
#include "io/model.h"
#include "napi/args.h"
#include "napi/register.h"
#include "threads/pool.h"

namespace bitsmith {

namespace {

using namespace forward;

[[noreturn]] void rethrow(Napi::Env env, const ModelError& e) {
  Napi::Error err = Napi::Error::New(env, e.what());
  err.Set("code", Napi::String::New(env, e.code()));
  if (!e.tensor().empty()) err.Set("tensor", Napi::String::New(env, e.tensor()));
  throw err;
}

std::string str(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (!info[i].IsString())
    throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

Napi::Object opts(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() > i && info[i].IsObject()) return info[i].As<Napi::Object>();
  return Napi::Object::New(info.Env());
}

double num(const Napi::Object& o, const char* k, double def) {
  return o.Has(k) && o.Get(k).IsNumber() ? o.Get(k).As<Napi::Number>().DoubleValue() : def;
}
bool flag(const Napi::Object& o, const char* k) {
  return o.Has(k) && o.Get(k).ToBoolean().Value();
}

std::vector<int32_t> ids(Napi::Env env, const Napi::Value& v, const char* what) {
  if (!v.IsArray())
    throw Napi::TypeError::New(env, std::string(what) + " must be an array of token ids");
  Napi::Array a = v.As<Napi::Array>();
  std::vector<int32_t> out;
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value x = a.Get(i);
    const double d = x.IsNumber() ? x.As<Napi::Number>().DoubleValue() : -1;
    if (!(d >= 0) || d != double(int64_t(d)) || d > 2147483647.0)
      throw Napi::RangeError::New(
          env, std::string(what) + "[" + std::to_string(i) + "] is not a token id");
    out.push_back(int32_t(d));
  }
  return out;
}

Sequences seqs(Napi::Env env, const Napi::Value& v) {
  if (!v.IsArray())
    throw Napi::TypeError::New(env, "sequences must be an array of arrays of token ids");
  Napi::Array a = v.As<Napi::Array>();
  Sequences out;
  for (uint32_t i = 0; i < a.Length(); i++) out.push_back(ids(env, a.Get(i), "sequence"));
  return out;
}

Napi::Array toArray(Napi::Env env, const std::vector<int32_t>& v) {
  Napi::Array a = Napi::Array::New(env, v.size());
  for (size_t i = 0; i < v.size(); i++) a.Set(uint32_t(i), Napi::Number::New(env, v[i]));
  return a;
}

struct Loaded {
  std::unique_ptr<Model> model;
  LlamaConfig config;
  std::unique_ptr<LlamaModel> llama;
};

Loaded load(const std::string& path, ThreadPool* pool) {
  Loaded l;
  l.model = Model::open(path);
  l.config = readConfig(*l.model);
  l.llama = std::make_unique<LlamaModel>(*l.model, l.config, pool);
  return l;
}

Napi::Value Config(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    auto m = Model::open(str(info, 0, "path"));
    LlamaConfig c = readConfig(*m);
    Napi::Object o = Napi::Object::New(env);
    o.Set("architecture", c.architecture);
    o.Set("source", c.source);
    for (auto [k, v] :
         std::initializer_list<std::pair<const char*, int64_t>>{{"dim", c.dim},
                                                                {"hidden", c.hidden},
                                                                {"layers", c.layers},
                                                                {"heads", c.heads},
                                                                {"kvHeads", c.kvHeads},
                                                                {"headDim", c.headDim},
                                                                {"vocab", c.vocab},
                                                                {"maxPositions", c.maxPositions},
                                                                {"slidingWindow", c.slidingWindow},
                                                                {"bosToken", c.bosToken}})
      o.Set(k, Napi::Number::New(env, double(v)));
    o.Set("normEps", c.normEps);
    o.Set("qkvBias", c.qkvBias);
    o.Set("qkNorm", c.qkNorm);
    o.Set("tied", c.tied);
    Napi::Array windowed = Napi::Array::New(env);  // the layers the sliding window applies to
    for (int64_t l = 0, n = 0; l < c.layers; l++)
      if (c.slidingWindow > 0 && c.windowAt(l) > 0)
        windowed.Set(uint32_t(n++), Napi::Number::New(env, double(l)));
    o.Set("windowLayers", windowed);
    Napi::Object rope = Napi::Object::New(env);
    rope.Set("type", forward::ropeTypeName(c.rope.type));
    rope.Set("theta", c.rope.theta);
    rope.Set("factor", c.rope.factor);
    rope.Set("maxPositions", Napi::Number::New(env, double(c.rope.maxPositions)));
    rope.Set("originalMaxPositions", Napi::Number::New(env, double(c.rope.originalMaxPositions)));
    rope.Set("lowFreqFactor", c.rope.lowFreqFactor);
    rope.Set("highFreqFactor", c.rope.highFreqFactor);
    rope.Set("betaFast", c.rope.betaFast);
    rope.Set("betaSlow", c.rope.betaSlow);
    rope.Set("truncate", c.rope.truncate);
    rope.Set("attentionFactor", c.rope.attentionFactor);
    o.Set("rope", rope);
    return o;
  } catch (const ModelError& e) {
    rethrow(env, e);
  }
}

Napi::Value RopeFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    auto m = Model::open(str(info, 0, "path"));
    LlamaConfig c = readConfig(*m);
    if (info.Length() < 3 || !info[1].IsNumber() || !info[2].IsNumber())
      throw Napi::TypeError::New(env, "rope(path, start, count): start and count are numbers");
    const int64_t start = info[1].As<Napi::Number>().Int64Value();
    const int64_t count = info[2].As<Napi::Number>().Int64Value();
    if (start < 0 || count < 1 || count > (int64_t(1) << 16) || start > (int64_t(1) << 40))
      throw Napi::RangeError::New(env, "rope: start >= 0 and 1 <= count <= 65536");
    const std::vector<double> inv = ropeInverseFrequencies(c.rope, start + count);
    std::vector<float> cosT, sinT;
    ropeTable(c.rope, start, count, cosT, sinT);
    Napi::Object o = Napi::Object::New(env);
    Napi::Float64Array f = Napi::Float64Array::New(env, inv.size());
    for (size_t i = 0; i < inv.size(); i++) f[i] = inv[i];
    Napi::Float32Array co = Napi::Float32Array::New(env, cosT.size());
    Napi::Float32Array si = Napi::Float32Array::New(env, sinT.size());
    for (size_t i = 0; i < cosT.size(); i++) {
      co[i] = cosT[i];
      si[i] = sinT[i];
    }
    o.Set("invFreq", f);
    o.Set("cos", co);
    o.Set("sin", si);
    return o;
  } catch (const ModelError& e) {
    rethrow(env, e);
  }
}

Napi::Value Generate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string path = str(info, 0, "path");
  std::vector<int32_t> prompt = ids(env, info[1], "prompt");
  const int64_t steps = int64_t(info[2].ToNumber().DoubleValue());
  Napi::Object o = opts(info, 3);
  try {
    ThreadPool& pool = poolFor(int(num(o, "threads", 0)));
    Loaded l = load(path, &pool);
    return toArray(env, l.llama->generate(prompt, steps, num(o, "temperature", 0),
                                          uint64_t(num(o, "seed", 0))));
  } catch (const ModelError& e) {
    rethrow(env, e);
  }
}

Napi::Value Logits(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string path = str(info, 0, "path");
  std::vector<int32_t> toks = ids(env, info[1], "tokens");
  Napi::Object o = opts(info, 2);
  try {
    ThreadPool& pool = poolFor(int(num(o, "threads", 0)));
    Loaded l = load(path, &pool);
    const int64_t T = int64_t(toks.size()), V = l.config.vocab;
    Napi::Float32Array out = Napi::Float32Array::New(env, size_t(T * V));
    KVCache cache = l.llama->newCache(T);
    if (flag(o, "incremental")) {
      for (int64_t t = 0; t < T; t++)
        l.llama->forward(&toks[size_t(t)], 1, cache, out.Data() + t * V, false);
    } else {
      l.llama->forward(toks.data(), T, cache, out.Data(), true);
    }
    return out;
  } catch (const ModelError& e) {
    rethrow(env, e);
  }
}

Napi::Value SequencesFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string path = str(info, 0, "path");
  Napi::Object o = opts(info, 1);
  try {
    ThreadPool& pool = poolFor(int(num(o, "threads", 0)));
    const std::string kind = o.Has("kind") ? o.Get("kind").ToString().Utf8Value() : "generated";
    Sequences s;
    if (kind == "tokens") {
      auto m = Model::open(path);
      LlamaConfig c = readConfig(*m);
      if (!o.Has("file")) throw Napi::TypeError::New(env, "sequences: kind 'tokens' needs file");
      s = readTokenFile(o.Get("file").ToString().Utf8Value(), c.vocab, c.maxPositions,
                        int64_t(num(o, "samples", 0)), int64_t(num(o, "length", 0)));
    } else if (kind == "generated") {
      Loaded l = load(path, &pool);
      s = generateSequences(*l.llama, int64_t(num(o, "samples", 1)), int64_t(num(o, "length", 16)),
                            uint64_t(num(o, "seed", 0)));
    } else {
      throw Napi::RangeError::New(env, "sequences: kind must be 'generated' or 'tokens'");
    }
    Napi::Array a = Napi::Array::New(env, s.size());
    for (size_t i = 0; i < s.size(); i++) a.Set(uint32_t(i), toArray(env, s[i]));
    return a;
  } catch (const ModelError& e) {
    rethrow(env, e);
  }
}

Napi::Value Calibrate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string path = str(info, 0, "path");
  Sequences s = seqs(env, info[1]);
  Napi::Object o = opts(info, 2);
  try {
    ThreadPool& pool = poolFor(int(num(o, "threads", 0)));
    Loaded l = load(path, &pool);
    HessianCollector hc(l.config, &pool,
                        flag(o, "reference") ? linalg::Path::Reference : linalg::Path::Auto);
    collectHessians(*l.llama, s, hc);
    Napi::Array out = Napi::Array::New(env, hc.hessians().size());
    uint32_t i = 0;
    for (const Hessian& h : hc.hessians()) {
      Napi::Object x = Napi::Object::New(env);
      x.Set("layer", Napi::Number::New(env, double(h.layer)));
      x.Set("site", siteName(h.site));
      x.Set("n", Napi::Number::New(env, double(h.n)));
      x.Set("tokens", Napi::Number::New(env, double(h.tokens)));
      Napi::Array names = Napi::Array::New(env, h.tensors.size());
      for (size_t k = 0; k < h.tensors.size(); k++) names.Set(uint32_t(k), h.tensors[k]);
      x.Set("tensors", names);
      Napi::Float64Array H = Napi::Float64Array::New(env, h.h.size());
      std::copy(h.h.begin(), h.h.end(), H.Data());
      x.Set("h", H);
      out.Set(i++, x);
    }
    return out;
  } catch (const ModelError& e) {
    rethrow(env, e);
  }
}

class Recorder : public InputObserver {
 public:
  Recorder(Napi::Env env, Napi::Array out) : env_(env), out_(out) {}
  void onInput(int64_t layer, Site site, const float* x, int64_t t, int64_t n) override {
    Napi::Object o = Napi::Object::New(env_);
    o.Set("layer", Napi::Number::New(env_, double(layer)));
    o.Set("site", siteName(site));
    o.Set("n", Napi::Number::New(env_, double(n)));
    o.Set("t", Napi::Number::New(env_, double(t)));
    Napi::Float32Array a = Napi::Float32Array::New(env_, size_t(t * n));
    std::copy(x, x + t * n, a.Data());
    o.Set("x", a);
    out_.Set(i_++, o);
  }

 private:
  Napi::Env env_;
  Napi::Array out_;
  uint32_t i_ = 0;
};

Napi::Value Inputs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string path = str(info, 0, "path");
  std::vector<int32_t> toks = ids(env, info[1], "tokens");
  Napi::Object o = opts(info, 2);
  try {
    ThreadPool& pool = poolFor(int(num(o, "threads", 0)));
    Loaded l = load(path, &pool);
    Napi::Array out = Napi::Array::New(env);
    Recorder r(env, out);
    KVCache cache = l.llama->newCache(int64_t(toks.size()));
    l.llama->forward(toks.data(), int64_t(toks.size()), cache, nullptr, false, &r);
    return out;
  } catch (const ModelError& e) {
    rethrow(env, e);
  }
}

// The figures as the run's evaluation event carries them (forward/eval_stats.h).
Napi::Value evaluationValue(Napi::Env env, const Evaluation& e) {
  json::Value v = json::Value::object();
  v.set("sequences", json::Value::of(e.sequences));
  setEvaluationFields(v, e.stats);
  Napi::Object JSON = env.Global().Get("JSON").As<Napi::Object>();
  return JSON.Get("parse").As<Napi::Function>().Call(JSON,
                                                     {Napi::String::New(env, json::stringify(v))});
}

Napi::Value Evaluate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string a = str(info, 0, "originalPath"), b = str(info, 1, "quantizedPath");
  Sequences s = seqs(env, info[2]);
  Napi::Object o = opts(info, 3);
  try {
    ThreadPool& pool = poolFor(int(num(o, "threads", 0)));
    Loaded la = load(a, &pool);
    Loaded lb = load(b.empty() ? a : b, &pool);
    return evaluationValue(
        env, evaluate(*la.llama, *lb.llama, s, nullptr, int64_t(num(o, "scoreFrom", 0))));
  } catch (const ModelError& e) {
    rethrow(env, e);
  }
}

Napi::Value Bench(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string path = str(info, 0, "path");
  Sequences s = seqs(env, info[1]);
  Napi::Object o = opts(info, 2);
  const bool hessians = !o.Has("hessians") || o.Get("hessians").ToBoolean().Value();
  try {
    ThreadPool& pool = poolFor(int(num(o, "threads", 0)));
    auto t0 = std::chrono::steady_clock::now();
    Loaded l = load(path, &pool);
    auto t1 = std::chrono::steady_clock::now();
    std::clock_t cpu0 = std::clock();
    int64_t tokens = 0;
    for (auto& q : s) tokens += int64_t(q.size());
    const std::string mode = o.Has("mode") ? o.Get("mode").ToString().Utf8Value() : "batched";
    if (mode == "incremental") {
      // One token at a time through the KV cache, next-token logits each step (as llama2.c's
      // run.c).
      std::vector<float> logits(size_t(l.config.vocab));
      for (auto& q : s) {
        KVCache cache = l.llama->newCache(int64_t(q.size()));
        for (size_t t = 0; t < q.size(); t++)
          l.llama->forward(&q[t], 1, cache, logits.data(), false);
      }
    } else if (mode != "batched") {
      throw Napi::RangeError::New(env, "bench: mode must be 'batched' or 'incremental'");
    } else if (hessians) {
      HessianCollector hc(l.config, &pool);
      t1 = std::chrono::steady_clock::now();
      cpu0 = std::clock();
      collectHessians(*l.llama, s, hc);
    } else {
      for (auto& q : s) {
        KVCache cache = l.llama->newCache(int64_t(q.size()));
        l.llama->forward(q.data(), int64_t(q.size()), cache, nullptr, false);
      }
    }
    auto t2 = std::chrono::steady_clock::now();
    const double cpu = double(std::clock() - cpu0) / CLOCKS_PER_SEC;
    Napi::Object r = Napi::Object::New(env);
    r.Set("cpuSeconds", cpu);  // process CPU time (all threads) of the timed part
    r.Set("loadSeconds", std::chrono::duration<double>(t1 - t0).count());
    r.Set("seconds", std::chrono::duration<double>(t2 - t1).count());
    r.Set("tokens", Napi::Number::New(env, double(tokens)));
    r.Set("threads", Napi::Number::New(env, pool.size()));
    return r;
  } catch (const ModelError& e) {
    rethrow(env, e);
  }
}

// summarize({nllA, nllB, kl, sameTop}: number arrays) -> the evaluation's figures, for
// tests of the statistics against an independent implementation.
Napi::Value Summarize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = opts(info, 0);
  auto arr = [&](const char* k) {
    Napi::Value v = o.Get(k);
    if (!v.IsArray()) throw Napi::TypeError::New(env, std::string(k) + " must be an array");
    Napi::Array a = v.As<Napi::Array>();
    std::vector<double> out(a.Length());
    for (uint32_t i = 0; i < a.Length(); i++) out[i] = a.Get(i).ToNumber().DoubleValue();
    return out;
  };
  const std::vector<double> a = arr("nllA"), b = arr("nllB"), k = arr("kl"), t = arr("sameTop");
  if (b.size() != a.size() || k.size() != a.size() || t.size() != a.size())
    throw Napi::TypeError::New(env, "nllA, nllB, kl and sameTop must have the same length");
  std::vector<PositionScore> scores(a.size());
  for (size_t i = 0; i < a.size(); i++) scores[i] = {a[i], b[i], k[i], t[i] != 0};
  try {
    Evaluation e;
    e.sequences = 1;
    e.stats = summarize(scores);
    return evaluationValue(env, e);
  } catch (const ModelError& e) {
    rethrow(env, e);
  }
}

}  // namespace

void RegisterForward(Napi::Env env, Napi::Object exports) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("config", Napi::Function::New(env, Config, "config"));
  o.Set("rope", Napi::Function::New(env, RopeFn, "rope"));
  o.Set("generate", Napi::Function::New(env, Generate, "generate"));
  o.Set("logits", Napi::Function::New(env, Logits, "logits"));
  o.Set("sequences", Napi::Function::New(env, SequencesFn, "sequences"));
  o.Set("calibrate", Napi::Function::New(env, Calibrate, "calibrate"));
  o.Set("inputs", Napi::Function::New(env, Inputs, "inputs"));
  o.Set("evaluate", Napi::Function::New(env, Evaluate, "evaluate"));
  o.Set("summarize", Napi::Function::New(env, Summarize, "summarize"));
  o.Set("bench", Napi::Function::New(env, Bench, "bench"));
  exports.Set("forward", o);
}

}  // namespace bitsmith
