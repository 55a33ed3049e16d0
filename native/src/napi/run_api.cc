// startRun(job, onEvent) -> { cancel(): void, done: Promise<summary> }
//   Executes a plan on a worker thread (run/runner.h). Events reach onEvent in order on
//   the main thread: start, then per tensor tensor-start and tensor, then done, or error
//   {code, message, tensor?}. done resolves with the "done" event; on failure it rejects
//   with an Error carrying `code` (and `tensor`), after the error event. cancel() sets a
//   flag checked between tensors and row chunks: done then rejects with code
//   'run/cancelled' and no output file is left behind.
// modelInfo(path) -> {path, format, architecture, tensors: [{name, shape, dtype, elements,
//   bytes, file, offset}], metadata}: the native readers' view of a model (for tests and
//   tools). Throws an Error with `code` for unreadable or hostile files.
// readTensor(path, name) -> Float32Array: one float tensor converted to f32 (Hugging
//   Face row order for llama2.c q/k).
#include <atomic>
#include <memory>
#include <thread>

#include "io/error.h"
#include "io/model.h"
#include "napi/quant_config.h"
#include "napi/register.h"
#include "run/runner.h"

namespace bitsmith {

namespace {

Napi::Value toJs(Napi::Env env, const json::Value& v) {
  switch (v.kind) {
    case json::Value::Null:
      return env.Null();
    case json::Value::Bool:
      return Napi::Boolean::New(env, v.boolean);
    case json::Value::Number:
      return Napi::Number::New(env, v.isInt ? double(v.integer) : v.number);
    case json::Value::String:
      return Napi::String::New(env, v.string);
    case json::Value::Array: {
      Napi::Array a = Napi::Array::New(env, v.items.size());
      for (size_t i = 0; i < v.items.size(); i++) a.Set(uint32_t(i), toJs(env, v.items[i]));
      return a;
    }
    case json::Value::Object: {
      Napi::Object o = Napi::Object::New(env);
      for (const auto& m : v.members) o.Set(m.first, toJs(env, m.second));
      return o;
    }
  }
  return env.Undefined();
}

Napi::Error errorValue(Napi::Env env, const std::string& code, const std::string& message,
                       const std::string& tensor) {
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("code", Napi::String::New(env, code));
  if (!tensor.empty()) e.Set("tensor", Napi::String::New(env, tensor));
  return e;
}

[[noreturn]] void throwModelError(Napi::Env env, const ModelError& e) {
  throw errorValue(env, e.code(), e.what(), e.tensor());
}

std::string requireString(Napi::Env env, const Napi::Value& v, const char* what) {
  if (!v.IsString()) throw Napi::TypeError::New(env, std::string(what) + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

// ---- modelInfo / readTensor -----------------------------------------------------------

Napi::Value ModelInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string path = requireString(env, info[0], "modelInfo(path): path");
  std::unique_ptr<Model> m;
  try {
    m = Model::open(path);
  } catch (const ModelError& e) {
    throwModelError(env, e);
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("path", m->path);
  o.Set("format", m->format);
  o.Set("architecture", m->architecture);
  Napi::Array ts = Napi::Array::New(env, m->tensors.size());
  for (size_t i = 0; i < m->tensors.size(); i++) {
    const TensorRef& t = m->tensors[i];
    Napi::Object x = Napi::Object::New(env);
    x.Set("name", t.name);
    Napi::Array shape = Napi::Array::New(env, t.shape.size());
    for (size_t k = 0; k < t.shape.size(); k++)
      shape.Set(uint32_t(k), Napi::Number::New(env, double(t.shape[k])));
    x.Set("shape", shape);
    x.Set("dtype", t.dtypeName);
    x.Set("elements", Napi::Number::New(env, double(t.elements)));
    x.Set("bytes", Napi::Number::New(env, double(t.bytes)));
    x.Set("file", m->fileOf(t).path());
    x.Set("offset", Napi::Number::New(env, double(t.offset)));
    ts.Set(uint32_t(i), x);
  }
  o.Set("tensors", ts);
  o.Set("metadata", toJs(env, m->metadata.isObject() ? m->metadata : json::Value::object()));
  return o;
}

Napi::Value ReadTensor(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string path = requireString(env, info[0], "readTensor(path, name): path");
  const std::string name = requireString(env, info[1], "readTensor(path, name): name");
  try {
    auto m = Model::open(path);
    const TensorRef* t = m->find(name);
    if (!t) throw ModelError("run/tensor-missing", m->path + ": no tensor \"" + name + "\"", name);
    m->requireReadable(*t);
    Napi::Float32Array out = Napi::Float32Array::New(env, size_t(t->elements));
    if (t->elements > 0) m->readRowsF32(*t, 0, t->rows(), out.Data());
    return out;
  } catch (const ModelError& e) {
    throwModelError(env, e);
  }
}

// ---- job parsing ----------------------------------------------------------------------

Napi::Value field(const Napi::Object& o, const char* key) {
  return o.Has(key) ? o.Get(key) : o.Env().Undefined();
}

bool isSet(const Napi::Value& v) {
  return !v.IsUndefined() && !v.IsNull();
}

// `replaces`: absent (unchecked), null (nothing may be there) or the identity of the
// Bitsmith output the caller checked (io/temp_file.h).
ReplacePolicy parseReplace(Napi::Env env, const Napi::Object& o, const std::string& where) {
  ReplacePolicy p;
  if (!o.Has("replaces") || o.Get("replaces").IsUndefined()) return p;
  Napi::Value v = o.Get("replaces");
  if (v.IsNull()) {
    p.kind = ReplacePolicy::Nothing;
    return p;
  }
  if (!v.IsString() || v.As<Napi::String>().Utf8Value().empty())
    throw Napi::TypeError::New(env, where + ".replaces must be null or an identity string");
  p.kind = ReplacePolicy::Identity;
  p.identity = v.As<Napi::String>().Utf8Value();
  return p;
}

int64_t intField(Napi::Env env, const Napi::Object& o, const char* key, int64_t def,
                 const std::string& where, int64_t min = 0) {
  Napi::Value v = field(o, key);
  if (!isSet(v)) return def;
  if (!v.IsNumber()) throw Napi::TypeError::New(env, where + "." + key + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= double(min)) || d != std::floor(d) || d > 9007199254740992.0)
    throw Napi::TypeError::New(env,
                               where + "." + key + " must be an integer >= " + std::to_string(min));
  return int64_t(d);
}

bool boolField(Napi::Env env, const Napi::Object& o, const char* key, bool def,
               const std::string& where) {
  Napi::Value v = field(o, key);
  if (!isSet(v)) return def;
  if (!v.IsBoolean()) throw Napi::TypeError::New(env, where + "." + key + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

std::string strField(Napi::Env env, const Napi::Object& o, const char* key, const std::string& def,
                     const std::string& where) {
  Napi::Value v = field(o, key);
  if (!isSet(v)) return def;
  if (!v.IsString()) throw Napi::TypeError::New(env, where + "." + key + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

SequenceSource parseSource(Napi::Env env, const Napi::Object& job, const char* key) {
  SequenceSource src;
  Napi::Value v = field(job, key);
  if (!isSet(v)) return src;
  const std::string where = std::string("job.") + key;
  if (!v.IsObject())
    throw Napi::TypeError::New(env, where +
                                        " must be an object {kind: 'generated' | 'tokens' | "
                                        "'text', path?, sequences?, samples?, length?, seed?}");
  Napi::Object o = v.As<Napi::Object>();
  src.kind = strField(env, o, "kind", "", where);
  if (src.kind != "generated" && src.kind != "tokens" && src.kind != "text")
    throw Napi::TypeError::New(env, where + ".kind must be 'generated', 'tokens' or 'text'");
  src.path = strField(env, o, "path", "", where);
  if (src.kind == "tokens" && src.path.empty())
    throw Napi::TypeError::New(env, where + ".path (the token file) is required for kind 'tokens'");
  if (src.kind == "text") {
    // The CLI tokenizes the text; ids are range-checked against the model in the runner.
    Napi::Value sv = field(o, "sequences");
    if (!sv.IsArray())
      throw Napi::TypeError::New(
          env, where + ".sequences (arrays of token ids) is required for kind 'text'");
    Napi::Array seqs = sv.As<Napi::Array>();
    for (uint32_t i = 0; i < seqs.Length(); i++) {
      Napi::Value sq = seqs.Get(i);
      if (!sq.IsArray())
        throw Napi::TypeError::New(
            env, where + ".sequences[" + std::to_string(i) + "] must be an array of token ids");
      Napi::Array ids = sq.As<Napi::Array>();
      std::vector<int32_t> out(ids.Length());
      for (uint32_t j = 0; j < ids.Length(); j++) {
        Napi::Value x = ids.Get(j);
        const double d = x.IsNumber() ? x.As<Napi::Number>().DoubleValue() : -1.0;
        if (!(d >= 0 && d <= 2147483647.0 && d == std::floor(d)))
          throw Napi::TypeError::New(env, where + ".sequences[" + std::to_string(i) + "][" +
                                              std::to_string(j) +
                                              "] must be a non-negative integer token id");
        out[j] = int32_t(d);
      }
      src.sequences.push_back(std::move(out));
    }
  }
  src.samples = intField(env, o, "samples", 0, where);
  src.length = intField(env, o, "length", 0, where);
  src.seed = uint64_t(intField(env, o, "seed", 0, where));
  src.scoreFrom = intField(env, o, "scoreFrom", 0, where);
  if (src.scoreFrom < 0)
    throw Napi::TypeError::New(env, where + ".scoreFrom must be a non-negative integer");
  return src;
}

// job.imatrix = {path, tensors: {"<model tensor>": "<imatrix entry>"}} (the CLI maps names).
ImatrixSource parseImatrix(Napi::Env env, const Napi::Object& job) {
  ImatrixSource src;
  Napi::Value v = field(job, "imatrix");
  if (!isSet(v)) return src;
  if (!v.IsObject())
    throw Napi::TypeError::New(env, "job.imatrix must be an object {path, tensors}");
  Napi::Object o = v.As<Napi::Object>();
  src.path = strField(env, o, "path", "", "job.imatrix");
  if (src.path.empty()) throw Napi::TypeError::New(env, "job.imatrix.path is required");
  Napi::Value ts = field(o, "tensors");
  if (isSet(ts)) {
    if (!ts.IsObject() || ts.IsArray())
      throw Napi::TypeError::New(env, "job.imatrix.tensors must be an object of strings");
    Napi::Object to = ts.As<Napi::Object>();
    Napi::Array keys = to.GetPropertyNames();
    for (uint32_t i = 0; i < keys.Length(); i++) {
      const std::string k = keys.Get(i).ToString().Utf8Value();
      Napi::Value e = to.Get(k);
      if (!e.IsString())
        throw Napi::TypeError::New(
            env, "job.imatrix.tensors." + k + " must be a string (an imatrix entry name)");
      src.entryOf[k] = e.As<Napi::String>().Utf8Value();
    }
  }
  return src;
}

Job parseJob(Napi::Env env, const Napi::Value& v) {
  if (!v.IsObject())
    throw Napi::TypeError::New(env, "startRun(job, onEvent): job must be an object");
  Napi::Object o = v.As<Napi::Object>();
  Job job;
  job.model = strField(env, o, "model", "", "job");
  if (job.model.empty()) throw Napi::TypeError::New(env, "job.model (the model path) is required");
  Napi::Value ts = field(o, "tensors");
  if (isSet(ts)) {
    if (!ts.IsArray()) throw Napi::TypeError::New(env, "job.tensors must be an array");
    Napi::Array a = ts.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) {
      const std::string where = "job.tensors[" + std::to_string(i) + "]";
      Napi::Value e = a.Get(i);
      if (!e.IsObject()) throw Napi::TypeError::New(env, where + " must be an object");
      Napi::Object t = e.As<Napi::Object>();
      JobTensor jt;
      jt.name = strField(env, t, "name", "", where);
      if (jt.name.empty()) throw Napi::TypeError::New(env, where + ".name is required");
      const std::string action = strField(env, t, "action", "", where);
      if (action != "quantize" && action != "keep")
        throw Napi::TypeError::New(env, where + ".action must be 'quantize' or 'keep'");
      jt.quantize = action == "quantize";
      Napi::Value shape = field(t, "shape");
      if (!isSet(shape)) throw Napi::TypeError::New(env, where + ".shape is required");
      if (!shape.IsArray())
        throw Napi::TypeError::New(env, where + ".shape must be an array of integers");
      Napi::Array sa = shape.As<Napi::Array>();
      for (uint32_t k = 0; k < sa.Length(); k++) {
        Napi::Value d = sa.Get(k);
        double x = d.IsNumber() ? d.As<Napi::Number>().DoubleValue() : -1;
        if (!(x >= 0) || x != std::floor(x))
          throw Napi::TypeError::New(env,
                                     where + ".shape must be an array of non-negative integers");
        jt.shape.push_back(int64_t(x));
      }
      jt.expectedBytes = intField(env, t, "bytesOut", -1, where);
      if (jt.quantize) {
        Napi::Value cfg = field(t, "config");
        if (!cfg.IsObject())
          throw Napi::TypeError::New(env, where + ".config is required for action 'quantize'");
        jt.config = quantConfigFromJs(env, cfg, where + ".config",
                                      {"method", "damp", "block", "actOrder", "grid"});
        const std::string method =
            strField(env, cfg.As<Napi::Object>(), "method",
                     strField(env, t, "method", "rtn", where), where + ".config");
        if (!parseMethod(method, jt.method)) jt.unknownMethod = method;  // refused by validate
        Napi::Object co = cfg.As<Napi::Object>();
        Napi::Value damp = field(co, "damp");
        if (isSet(damp)) {
          const double d = damp.IsNumber() ? damp.As<Napi::Number>().DoubleValue() : -1;
          if (!(d >= 0 && d <= 1))
            throw Napi::TypeError::New(env, where + ".config.damp must be a number from 0 to 1");
          jt.gptq.damp = d;
        }
        jt.gptq.block = intField(env, co, "block", jt.gptq.block, where + ".config", 1);
        jt.gptq.actOrder = boolField(env, co, "actOrder", false, where + ".config");
        if (jt.method == Method::Awq)
          jt.awq.grid = int(intField(env, co, "grid", 20, where + ".config", 1));
        // Method hqq runs its default 20 zero-point updates without an hqq object; its options
        // mean nothing to the other methods.
        if (jt.method == Method::Hqq && jt.config.hqq.iters == 0) jt.config.hqq.iters = 20;
        if (jt.method != Method::Hqq) jt.config.hqq = HqqOptions();
      }
      job.tensors.push_back(std::move(jt));
    }
  }
  Napi::Value out = field(o, "output");
  if (isSet(out)) {
    if (!out.IsObject())
      throw Napi::TypeError::New(env, "job.output must be an object {kind: 'fake', path}");
    Napi::Object oo = out.As<Napi::Object>();
    const std::string kind = strField(env, oo, "kind", "fake", "job.output");
    if (kind != "fake" && kind != "compressed_tensors")
      throw Napi::TypeError::New(
          env,
          "job.output.kind '" + kind + "' is not supported (only 'fake' and 'compressed_tensors')");
    job.output = true;
    job.outputKind = kind;
    if (kind == "compressed_tensors") {
      job.outputConfig = strField(env, oo, "config", "", "job.output");
      if (job.outputConfig.empty())
        throw Napi::TypeError::New(
            env, "job.output.config (config.json's text) is required for compressed_tensors");
      Napi::Value copies = field(oo, "copy");
      if (isSet(copies)) {
        if (!copies.IsArray())
          throw Napi::TypeError::New(env, "job.output.copy must be an array of {from, name}");
        Napi::Array ca = copies.As<Napi::Array>();
        for (uint32_t i = 0; i < ca.Length(); i++) {
          Napi::Value e = ca.Get(i);
          if (!e.IsObject())
            throw Napi::TypeError::New(
                env, "job.output.copy[" + std::to_string(i) + "] must be {from, name}");
          const std::string from =
              strField(env, e.As<Napi::Object>(), "from", "", "job.output.copy");
          const std::string name =
              strField(env, e.As<Napi::Object>(), "name", "", "job.output.copy");
          if (from.empty() || name.empty() || name.find('/') != std::string::npos ||
              name.find('\\') != std::string::npos || name == "." || name == "..")
            throw Napi::TypeError::New(env, "job.output.copy[" + std::to_string(i) +
                                                "] needs a source path and a plain file name");
          job.outputCopies.emplace_back(from, name);
        }
      }
    }
    job.outputPath = strField(env, oo, "path", "", "job.output");
    if (job.outputPath.empty()) throw Napi::TypeError::New(env, "job.output.path is required");
    job.outputReplace = parseReplace(env, oo, "job.output");
    Napi::Value meta = field(oo, "metadata");
    if (isSet(meta)) {
      if (!meta.IsObject())
        throw Napi::TypeError::New(env, "job.output.metadata must be an object of strings");
      Napi::Object mo = meta.As<Napi::Object>();
      Napi::Array keys = mo.GetPropertyNames();
      for (uint32_t i = 0; i < keys.Length(); i++) {
        const std::string k = keys.Get(i).ToString().Utf8Value();
        Napi::Value mv = mo.Get(k);
        if (!mv.IsString())
          throw Napi::TypeError::New(env, "job.output.metadata." + k + " must be a string");
        job.outputMetadata.set(k, json::Value::of(mv.As<Napi::String>().Utf8Value()));
      }
    }
  }
  Napi::Value gg = field(o, "gguf");
  if (isSet(gg)) {
    if (!gg.IsObject()) throw Napi::TypeError::New(env, "job.gguf must be an object {path, spec}");
    Napi::Object go = gg.As<Napi::Object>();
    job.gguf = true;
    job.ggufPath = strField(env, go, "path", "", "job.gguf");
    if (job.ggufPath.empty()) throw Napi::TypeError::New(env, "job.gguf.path is required");
    job.ggufReplace = parseReplace(env, go, "job.gguf");
    const std::string spec = strField(env, go, "spec", "{}", "job.gguf");
    std::string err;
    if (!json::parse(spec.data(), spec.size(), job.ggufSpec, err) || !job.ggufSpec.isObject())
      throw Napi::TypeError::New(env, "job.gguf.spec must be a JSON object: " + err);
    // Large arrays (tokens, merges) come as GGUF value bytes: metadata entries name them by
    // index in job.gguf.raw; each becomes the entry's `raw` bytes.
    std::vector<std::string> raw;
    Napi::Value rv = field(go, "raw");
    if (isSet(rv)) {
      if (!rv.IsArray())
        throw Napi::TypeError::New(env, "job.gguf.raw must be an array of Buffers");
      Napi::Array ra = rv.As<Napi::Array>();
      for (uint32_t i = 0; i < ra.Length(); i++) {
        Napi::Value b = ra.Get(i);
        if (!b.IsBuffer())
          throw Napi::TypeError::New(env,
                                     "job.gguf.raw[" + std::to_string(i) + "] must be a Buffer");
        Napi::Buffer<char> buf = b.As<Napi::Buffer<char>>();
        raw.emplace_back(buf.Data(), buf.Length());
      }
    }
    for (auto& [key, meta] : job.ggufSpec.members) {
      if (key != "metadata" || !meta.isArray()) continue;
      for (json::Value& e : meta.items) {
        if (!e.isObject()) continue;
        for (auto& [k, v] : e.members) {
          if (k != "raw") continue;
          if (!v.isNumber() || !v.isInt || v.integer < 0 || size_t(v.integer) >= raw.size())
            throw Napi::TypeError::New(env, "job.gguf.spec metadata: raw must index job.gguf.raw");
          v = json::Value::of(std::move(raw[size_t(v.integer)]));
        }
      }
    }
  }
  job.threads = int(intField(env, o, "threads", 0, "job"));
  if (job.threads > 1024) throw Napi::TypeError::New(env, "job.threads must be at most 1024");
  job.chunkElements = intField(env, o, "chunkElements", job.chunkElements, "job");
  job.reference = boolField(env, o, "reference", false, "job");
  job.calibration = parseSource(env, o, "calibration");
  job.evaluate = parseSource(env, o, "evaluate");
  job.imatrix = parseImatrix(env, o);
  Napi::Value io = field(o, "imatrixOutput");
  if (isSet(io)) {
    // {path, format: 'gguf' | 'dat', replaces?, tensors: {"<model tensor>": "<llama.cpp name>"},
    //  dataset, chunkSize, version}
    if (!io.IsObject()) throw Napi::TypeError::New(env, "job.imatrixOutput must be an object");
    Napi::Object oo = io.As<Napi::Object>();
    ImatrixOutputJob& out = job.imatrixOutput;
    out.path = strField(env, oo, "path", "", "job.imatrixOutput");
    if (out.path.empty()) throw Napi::TypeError::New(env, "job.imatrixOutput.path is required");
    out.format = strField(env, oo, "format", "gguf", "job.imatrixOutput");
    if (out.format != "gguf" && out.format != "dat")
      throw Napi::TypeError::New(env, "job.imatrixOutput.format must be 'gguf' or 'dat'");
    out.replace = parseReplace(env, oo, "job.imatrixOutput");
    out.dataset = strField(env, oo, "dataset", "", "job.imatrixOutput");
    out.version = strField(env, oo, "version", "", "job.imatrixOutput");
    out.chunkSize = intField(env, oo, "chunkSize", 0, "job.imatrixOutput");
    Napi::Value tv = field(oo, "tensors");
    if (!tv.IsObject())
      throw Napi::TypeError::New(env, "job.imatrixOutput.tensors must be an object");
    Napi::Object to = tv.As<Napi::Object>();
    Napi::Array keys = to.GetPropertyNames();
    for (uint32_t i = 0; i < keys.Length(); i++) {
      const std::string k = keys.Get(i).As<Napi::String>().Utf8Value();
      Napi::Value v = to.Get(k);
      if (!v.IsString())
        throw Napi::TypeError::New(env,
                                   "job.imatrixOutput.tensors[\"" + k + "\"] must be a string");
      out.names[k] = v.As<Napi::String>().Utf8Value();
    }
    if (out.names.empty())
      throw Napi::TypeError::New(env, "job.imatrixOutput.tensors names no weight");
  }
  job.sequential = boolField(env, o, "sequential", true, "job");
  if (job.imatrixOutput.enabled() && !job.calibration.enabled())
    throw Napi::TypeError::New(env,
                               "job.imatrixOutput needs job.calibration (the forward pass collects "
                               "the statistics)");
  job.activationsBf16Above = intField(env, o, "activationsBf16Above", -1, "job", -1);
  job.logitsCacheDir = strField(env, o, "logitsCache", "", "job");
  return job;
}

// ---- startRun -------------------------------------------------------------------------

struct RunState {
  Job job;
  std::atomic<bool> cancel{false};
  std::thread thread;
  Napi::ThreadSafeFunction tsfn;
  Napi::Promise::Deferred deferred;
  bool ok = false;
  json::Value result;
  std::string code, message, tensor;
  explicit RunState(Napi::Env env) : deferred(Napi::Promise::Deferred::New(env)) {}
};

class TsfnSink : public EventSink {
 public:
  explicit TsfnSink(std::shared_ptr<RunState> s) : s_(std::move(s)) {}
  bool emit(json::Value event) override {
    auto ev = std::make_shared<json::Value>(std::move(event));
    auto state = s_;
    napi_status st = s_->tsfn.BlockingCall([ev, state](Napi::Env env, Napi::Function cb) {
      try {
        cb.Call({toJs(env, *ev)});
      } catch (const Napi::Error&) {
        // The listener threw: stop the run, and let the exception surface as uncaught.
        state->cancel.store(true);
        throw;
      }
    });
    return st == napi_ok;
  }

 private:
  std::shared_ptr<RunState> s_;
};

Napi::Value StartRun(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Job job = parseJob(env, info[0]);
  if (!info[1].IsFunction())
    throw Napi::TypeError::New(env, "startRun(job, onEvent): onEvent must be a function");
  auto state = std::make_shared<RunState>(env);
  state->job = std::move(job);
  state->tsfn = Napi::ThreadSafeFunction::New(
      env, info[1].As<Napi::Function>(), "bitsmith.run", 0, 1, [state](Napi::Env env) {
        // Runs on the main thread once the worker has released the function (or the
        // environment is shutting down): every event has been delivered by now.
        state->cancel.store(true);
        if (state->thread.joinable()) state->thread.join();
        try {
          if (state->ok)
            state->deferred.Resolve(toJs(env, state->result));
          else
            state->deferred.Reject(
                errorValue(env, state->code, state->message, state->tensor).Value());
        } catch (...) {
          // Environment teardown: nobody is waiting any more.
        }
      });
  state->thread = std::thread([state] {
    TsfnSink sink(state);
    try {
      state->result = runJob(state->job, sink, state->cancel);
      state->ok = true;
    } catch (const ModelError& e) {
      state->code = e.code();
      state->message = e.what();
      state->tensor = e.tensor();
    } catch (const std::bad_alloc&) {
      state->code = "run/out-of-memory";
      state->message = "out of memory";
    } catch (const std::exception& e) {
      state->code = "run/internal";
      state->message = std::string("internal error: ") + e.what();
    }
    if (!state->ok) {
      json::Value ev = json::Value::object();
      ev.set("type", json::Value::of("error"));
      ev.set("code", json::Value::of(state->code));
      ev.set("message", json::Value::of(state->message));
      if (!state->tensor.empty()) ev.set("tensor", json::Value::of(state->tensor));
      sink.emit(std::move(ev));
    }
    state->tsfn.Release();
  });
  Napi::Object handle = Napi::Object::New(env);
  std::weak_ptr<RunState> weak = state;
  handle.Set("cancel", Napi::Function::New(
                           env,
                           [weak](const Napi::CallbackInfo& i) -> Napi::Value {
                             if (auto s = weak.lock()) s->cancel.store(true);
                             return i.Env().Undefined();
                           },
                           "cancel"));
  handle.Set("done", state->deferred.Promise());
  return handle;
}

}  // namespace

void RegisterRun(Napi::Env env, Napi::Object exports) {
  exports.Set("startRun", Napi::Function::New(env, StartRun, "startRun"));
  exports.Set("modelInfo", Napi::Function::New(env, ModelInfo, "modelInfo"));
  exports.Set("readTensor", Napi::Function::New(env, ReadTensor, "readTensor"));
}

}  // namespace bitsmith
