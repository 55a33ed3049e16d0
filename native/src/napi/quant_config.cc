#include "napi/quant_config.h"

#include "napi/args.h"
#include "quant/stored.h"

namespace bitsmith {

namespace {

const char* const kKeys[] = {"format", "group", "groupKind", "symmetric", "scale",
                             "zero",   "clip",  "outliers",  "lowrank",   "lowrankIters",
                             "rotate", "seed",  "hqq"};

std::string choice(Napi::Env env, const Napi::Value& v, const std::string& name,
                   std::initializer_list<const char*> choices) {
  std::string list;
  for (const char* c : choices) list += std::string(list.empty() ? "" : ", ") + "'" + c + "'";
  if (!v.IsString()) typeError(env, name + " must be a string (" + list + ")");
  const std::string s = v.As<Napi::String>().Utf8Value();
  for (const char* c : choices)
    if (s == c) return s;
  rangeError(env, name + " must be one of " + list + ", got '" + s + "'");
}

bool boolean(Napi::Env env, const Napi::Value& v, const std::string& name) {
  if (!v.IsBoolean()) typeError(env, name + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

double number(Napi::Env env, const Napi::Value& v, const std::string& name) {
  if (!v.IsNumber()) typeError(env, name + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

}  // namespace

QuantConfig quantConfigFromJs(Napi::Env env, const Napi::Value& value, const std::string& where,
                              std::initializer_list<const char*> extra, int64_t rows,
                              int64_t cols) {
  if (!value.IsObject() || value.IsArray() || value.IsFunction() || value.IsTypedArray())
    typeError(env, where + " must be an object");
  const Napi::Object o = value.As<Napi::Object>();
  const Napi::Array keys = o.GetPropertyNames();
  for (uint32_t i = 0; i < keys.Length(); ++i) {
    const std::string k = keys.Get(i).ToString().Utf8Value();
    bool known = false;
    for (const char* x : kKeys) known |= k == x;
    for (const char* x : extra) known |= k == x;
    if (!known) typeError(env, where + " has an unknown key '" + k + "'");
  }
  const auto get = [&](const char* k) { return o.Has(k) ? o.Get(k) : env.Undefined(); };
  const auto has = [&](const char* k) {
    const Napi::Value v = get(k);
    return !v.IsUndefined() && !v.IsNull();
  };
  const auto name = [&](const char* k) { return where + "." + k; };
  const bool shaped = rows > 0 && cols > 0;

  QuantConfig c;
  if (!has("format")) typeError(env, name("format") + " is required");
  if (!get("format").IsString()) typeError(env, name("format") + " must be a string");
  c.format = get("format").As<Napi::String>().Utf8Value();
  if (!isKnownFormat(c.format))
    rangeError(env, name("format") + ": unknown format '" + c.format + "'");

  const std::string kind = has("groupKind") ? choice(env, get("groupKind"), name("groupKind"),
                                                     {"size", "channel", "tensor"})
                                            : "size";
  c.groupKind = kind == "size"      ? GroupKind::Size
                : kind == "channel" ? GroupKind::Channel
                                    : GroupKind::Tensor;
  if (has("group")) c.group = toInteger(env, get("group"), name("group"), 1, kMaxSafe);
  if (shaped && c.groupKind == GroupKind::Channel) c.group = cols;
  if (shaped && c.groupKind == GroupKind::Tensor) c.group = rows * cols;
  if (has("symmetric")) c.symmetric = boolean(env, get("symmetric"), name("symmetric"));
  if (has("scale")) {
    const std::string s =
        choice(env, get("scale"), name("scale"), {"f16", "bf16", "f32", "e8m0", "e4m3"});
    c.scale = s == "f16"    ? ScaleType::F16
              : s == "bf16" ? ScaleType::BF16
              : s == "f32"  ? ScaleType::F32
              : s == "e8m0" ? ScaleType::E8M0
                            : ScaleType::E4M3;
  }
  if (has("zero"))
    c.zero = choice(env, get("zero"), name("zero"), {"f16", "int"}) == "int" ? ZeroType::Int
                                                                             : ZeroType::F16;
  if (has("clip")) c.clipMse = choice(env, get("clip"), name("clip"), {"none", "mse"}) == "mse";
  if (has("outliers"))
    c.outliers = toInteger(env, get("outliers"), name("outliers"), 0,
                           shaped ? double(rows) * double(cols) : kMaxSafe);
  if (has("lowrank")) c.lowrank = int(toInteger(env, get("lowrank"), name("lowrank"), 0, 65536));
  if (has("lowrankIters"))
    c.lowrankIters = int(toInteger(env, get("lowrankIters"), name("lowrankIters"), 1, 100));
  if (has("rotate"))
    c.rotate = choice(env, get("rotate"), name("rotate"), {"none", "hadamard"}) == "hadamard";
  if (has("seed")) {
    const Napi::Value v = get("seed");
    if (v.IsBigInt()) {
      bool lossless = false;
      c.seed = v.As<Napi::BigInt>().Uint64Value(&lossless);
      if (!lossless) rangeError(env, name("seed") + " must fit in 64 unsigned bits");
    } else {
      c.seed = uint64_t(toInteger(env, v, name("seed"), 0, kMaxSafe));
    }
  }
  if (has("hqq")) {
    // Method hqq's options (quant/hqq.h); quantizeTensor checks the ranges of the floats.
    const Napi::Value v = get("hqq");
    if (!v.IsObject() || v.IsArray())
      typeError(env, name("hqq") + " must be an object {iters, lpNorm, beta, kappa}");
    const Napi::Object h = v.As<Napi::Object>();
    const auto hget = [&](const char* k) { return h.Has(k) ? h.Get(k) : env.Undefined(); };
    const auto hset = [&](const char* k) { return !hget(k).IsUndefined() && !hget(k).IsNull(); };
    const std::string hw = name("hqq") + ".";
    c.hqq.iters = hset("iters") ? int(toInteger(env, hget("iters"), hw + "iters", 1, 1000)) : 20;
    if (hset("lpNorm")) c.hqq.lpNorm = float(number(env, hget("lpNorm"), hw + "lpNorm"));
    if (hset("beta")) c.hqq.beta = float(number(env, hget("beta"), hw + "beta"));
    if (hset("kappa")) c.hqq.kappa = float(number(env, hget("kappa"), hw + "kappa"));
  }
  return c;
}

}  // namespace bitsmith
