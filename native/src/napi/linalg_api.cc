// N-API bindings of native/src/linalg, for tests and benchmarks (synchronous).
//   gemm(A: Float32Array, B: Float32Array, m, n, k, {path = 'auto' | 'portable' |
//     'reference', threads = 0, accumulate = false, C?: Float32Array}) -> Float32Array
//     C[m, n] (+)= A[m, k] · B[n, k]^T
//   gram(X: Float32Array, t, n, {path, threads}) -> Float64Array  X^T X (n x n)
//   rmsNorm(x, w | null, eps) / softmax(x) / logSoftmax(x) / silu(x) -> Float32Array
//   gemmKernel() -> 'avx2-fma' | 'portable'
// and at the top level:
//   gptq(W: Float32Array, rows, cols, H: Float64Array (cols x cols), config: {format,
//     group = 128, groupKind = 'size' | 'channel', symmetric = true, scale = 'f16' | 'bf16' |
//     'f32' | 'e8m0' | 'e4m3', zero = 'int' | 'f16', clip?: 'mse'}, {damp = 0.01,
//     block = 128, actOrder = false, threads, reference = false (the scalar f64 spec),
//     detail = false})
//     -> Float32Array (the dequantized result); with detail: {dequant, stored: {codes,
//     scales, zeros, extra: Uint8Array}, times: {hessian, pass} (seconds)}
//   awq(members: [{w: Float32Array, rows, config (as gptq's, any format)}], n, H: Float64Array
//     (n x n), meanAbs: Float64Array (n), {grid = 20, threads, reference = false}) ->
//     {alpha, point, sMin, sMax, err, errRtn, errs: number[], s: Float32Array,
//      dequant: Float32Array[] (W' per member at the chosen alpha)}
#include <napi.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "linalg/gemm.h"
#include "linalg/ops.h"
#include "napi/args.h"
#include "napi/quant_config.h"
#include "napi/register.h"
#include "quant/awq.h"
#include "quant/gptq.h"
#include "threads/pool.h"

namespace bitsmith {

namespace {

int64_t dimArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsNumber())
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a number");
  const double d = info[i].As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || d != double(int64_t(d)) || d > 1e9)
    throw Napi::RangeError::New(info.Env(), std::string(name) + " must be a non-negative integer");
  return int64_t(d);
}

Napi::Float32Array f32Arg(const Napi::CallbackInfo& info, size_t i, const char* name,
                          int64_t need) {
  if (!info[i].IsTypedArray() ||
      info[i].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a Float32Array");
  auto a = info[i].As<Napi::Float32Array>();
  if (int64_t(a.ElementLength()) != need)
    throw Napi::RangeError::New(info.Env(), std::string(name) + " has " +
                                                std::to_string(a.ElementLength()) +
                                                " values, expected " + std::to_string(need));
  return a;
}

struct Opts {
  linalg::Path path = linalg::Path::Auto;
  int threads = 0;
  bool accumulate = false;
};

Opts optsArg(const Napi::CallbackInfo& info, size_t i) {
  Opts o;
  if (info.Length() <= i || info[i].IsUndefined()) return o;
  if (!info[i].IsObject()) throw Napi::TypeError::New(info.Env(), "options must be an object");
  auto obj = info[i].As<Napi::Object>();
  if (obj.Has("path")) {
    const std::string p = obj.Get("path").ToString().Utf8Value();
    if (p == "auto")
      o.path = linalg::Path::Auto;
    else if (p == "portable")
      o.path = linalg::Path::Portable;
    else if (p == "reference")
      o.path = linalg::Path::Reference;
    else
      throw Napi::RangeError::New(info.Env(), "path must be 'auto', 'portable' or 'reference'");
  }
  if (obj.Has("threads")) o.threads = int(obj.Get("threads").ToNumber().Int32Value());
  if (o.threads < 0 || o.threads > 1024)
    throw Napi::RangeError::New(info.Env(), "threads must be in [0, 1024]");
  if (obj.Has("accumulate")) o.accumulate = obj.Get("accumulate").ToBoolean().Value();
  return o;
}

Napi::Value Gemm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t m = dimArg(info, 2, "m"), n = dimArg(info, 3, "n"), k = dimArg(info, 4, "k");
  auto A = f32Arg(info, 0, "A", m * k);
  auto B = f32Arg(info, 1, "B", n * k);
  Opts o = optsArg(info, 5);
  Napi::Float32Array C;
  auto obj = info.Length() > 5 && info[5].IsObject() ? info[5].As<Napi::Object>() : Napi::Object();
  if (!obj.IsEmpty() && obj.Has("C")) {
    Napi::Value c = obj.Get("C");
    if (!c.IsTypedArray() || c.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
      throw Napi::TypeError::New(env, "C must be a Float32Array");
    C = c.As<Napi::Float32Array>();
    if (int64_t(C.ElementLength()) != m * n)
      throw Napi::RangeError::New(env, "C must have m*n values");
  } else {
    C = Napi::Float32Array::New(env, size_t(m * n));
  }
  ThreadPool& pool = poolFor(o.threads);
  try {
    linalg::gemmABt(A.Data(), k, B.Data(), k, C.Data(), n, m, n, k, &pool, o.accumulate, o.path);
  } catch (const std::exception& e) {
    throw Napi::RangeError::New(env, e.what());
  }
  return C;
}

Napi::Value Gram(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t t = dimArg(info, 1, "t"), n = dimArg(info, 2, "n");
  auto X = f32Arg(info, 0, "X", t * n);
  Opts o = optsArg(info, 3);
  auto H = Napi::Float64Array::New(env, size_t(n * n));
  for (int64_t i = 0; i < n * n; i++) H.Data()[i] = 0;
  ThreadPool& pool = poolFor(o.threads);
  linalg::gramAccumulate(X.Data(), n, t, n, H.Data(), &pool, o.path);
  return H;
}

Napi::Value RmsNorm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray()) throw Napi::TypeError::New(env, "x must be a Float32Array");
  const int64_t n = int64_t(info[0].As<Napi::TypedArray>().ElementLength());
  auto x = f32Arg(info, 0, "x", n);
  const float* w = nullptr;
  if (!info[1].IsNull() && !info[1].IsUndefined()) w = f32Arg(info, 1, "w", n).Data();
  auto out = Napi::Float32Array::New(env, size_t(n));
  linalg::rmsNorm(x.Data(), w, out.Data(), n, float(info[2].ToNumber().DoubleValue()));
  return out;
}

Napi::Value Softmax(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray()) throw Napi::TypeError::New(env, "x must be a Float32Array");
  const int64_t n = int64_t(info[0].As<Napi::TypedArray>().ElementLength());
  auto x = f32Arg(info, 0, "x", n);
  auto out = Napi::Float32Array::New(env, size_t(n));
  for (int64_t i = 0; i < n; i++) out.Data()[i] = x.Data()[i];
  linalg::softmax(out.Data(), n);
  return out;
}

Napi::Value LogSoftmax(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray()) throw Napi::TypeError::New(env, "x must be a Float32Array");
  const int64_t n = int64_t(info[0].As<Napi::TypedArray>().ElementLength());
  auto x = f32Arg(info, 0, "x", n);
  auto out = Napi::Float32Array::New(env, size_t(n));
  linalg::logSoftmax(x.Data(), out.Data(), n);
  return out;
}

Napi::Value Silu(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray()) throw Napi::TypeError::New(env, "x must be a Float32Array");
  const int64_t n = int64_t(info[0].As<Napi::TypedArray>().ElementLength());
  auto x = f32Arg(info, 0, "x", n);
  auto out = Napi::Float32Array::New(env, size_t(n));
  for (int64_t i = 0; i < n; i++) out.Data()[i] = linalg::silu(x.Data()[i]);
  return out;
}

Napi::Value Gptq(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t rows = dimArg(info, 1, "rows"), cols = dimArg(info, 2, "cols");
  auto W = f32Arg(info, 0, "W", rows * cols);
  if (!info[3].IsTypedArray() ||
      info[3].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    throw Napi::TypeError::New(env, "H must be a Float64Array");
  auto H = info[3].As<Napi::Float64Array>();
  if (int64_t(H.ElementLength()) != cols * cols)
    throw Napi::RangeError::New(env, "H must have cols*cols values");
  const QuantConfig cfg = quantConfigFromJs(env, info[4], "config", {}, rows, cols);
  GptqOptions o;
  Napi::Object oo =
      info.Length() > 5 && info[5].IsObject() ? info[5].As<Napi::Object>() : Napi::Object::New(env);
  if (oo.Has("damp")) o.damp = oo.Get("damp").ToNumber().DoubleValue();
  if (oo.Has("block")) o.block = int64_t(oo.Get("block").ToNumber().DoubleValue());
  if (oo.Has("actOrder")) o.actOrder = oo.Get("actOrder").ToBoolean().Value();
  if (oo.Has("reference")) o.reference = oo.Get("reference").ToBoolean().Value();
  const bool detail = oo.Has("detail") && oo.Get("detail").ToBoolean().Value();
  const int threads = oo.Has("threads") ? int(oo.Get("threads").ToNumber().Int32Value()) : 0;
  try {
    StoredTensor st;
    GptqTimes times;
    std::vector<float> q =
        gptqQuantize(W.Data(), rows, cols, H.Data(), cfg, o, &poolFor(threads), &st, &times);
    auto out = Napi::Float32Array::New(env, q.size());
    std::copy(q.begin(), q.end(), out.Data());
    if (!detail) return out;
    auto bytes = [&](const Bytes& b) {
      auto a = Napi::Uint8Array::New(env, b.size());
      std::copy(b.begin(), b.end(), a.Data());
      return a;
    };
    Napi::Object so = Napi::Object::New(env);
    so.Set("codes", bytes(st.codes));
    so.Set("scales", bytes(st.scales));
    so.Set("zeros", bytes(st.zeros));
    so.Set("extra", bytes(st.extra));
    Napi::Object to = Napi::Object::New(env);
    to.Set("hessian", times.hessian);
    to.Set("pass", times.pass);
    Napi::Object r = Napi::Object::New(env);
    r.Set("dequant", out);
    r.Set("stored", so);
    r.Set("times", to);
    return r;
  } catch (const std::invalid_argument& e) {
    throw Napi::RangeError::New(env, e.what());
  }
}

Napi::Value Awq(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArray()) throw Napi::TypeError::New(env, "members must be an array");
  const int64_t n = dimArg(info, 1, "n");
  auto f64 = [&](size_t i, const char* name, int64_t need) {
    if (!info[i].IsTypedArray() ||
        info[i].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
      throw Napi::TypeError::New(env, std::string(name) + " must be a Float64Array");
    auto a = info[i].As<Napi::Float64Array>();
    if (int64_t(a.ElementLength()) != need)
      throw Napi::RangeError::New(env, std::string(name) + " has the wrong length");
    return a;
  };
  auto H = f64(2, "H", n * n);
  auto m = f64(3, "meanAbs", n);
  Napi::Object oo =
      info.Length() > 4 && info[4].IsObject() ? info[4].As<Napi::Object>() : Napi::Object::New(env);
  quant::AwqOptions o;
  if (oo.Has("grid")) o.grid = int(oo.Get("grid").ToNumber().Int32Value());
  const int threads = oo.Has("threads") ? int(oo.Get("threads").ToNumber().Int32Value()) : 0;
  const bool reference = oo.Has("reference") && oo.Get("reference").ToBoolean().Value();
  Napi::Array ma = info[0].As<Napi::Array>();
  std::vector<quant::AwqMember> members;
  std::vector<Napi::Float32Array> keep;
  for (uint32_t i = 0; i < ma.Length(); i++) {
    Napi::Object e = ma.Get(i).As<Napi::Object>();
    quant::AwqMember mb;
    mb.rows = int64_t(e.Get("rows").ToNumber().DoubleValue());
    Napi::Value wv = e.Get("w");
    if (!wv.IsTypedArray() || wv.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
      throw Napi::TypeError::New(env, "members[].w must be a Float32Array");
    auto w = wv.As<Napi::Float32Array>();
    if (mb.rows < 1 || int64_t(w.ElementLength()) != mb.rows * n)
      throw Napi::RangeError::New(env, "members[].w must have rows * n values");
    mb.w = w.Data();
    mb.cfg = quantConfigFromJs(env, e.Get("config"), "members[" + std::to_string(i) + "].config",
                               {}, mb.rows, n);
    keep.push_back(w);
    members.push_back(mb);
  }
  ThreadPool& pool = poolFor(threads);
  try {
    const quant::AwqChoice c = quant::awqSearch(members, n, H.Data(), m.Data(), o, pool, reference);
    Napi::Object r = Napi::Object::New(env);
    r.Set("alpha", c.alpha);
    r.Set("point", c.point);
    r.Set("sMin", c.sMin);
    r.Set("sMax", c.sMax);
    r.Set("err", c.err);
    r.Set("errRtn", c.errRtn);
    Napi::Array errs = Napi::Array::New(env, c.errs.size());
    for (size_t i = 0; i < c.errs.size(); i++) errs.Set(uint32_t(i), c.errs[i]);
    r.Set("errs", errs);
    auto s = Napi::Float32Array::New(env, size_t(n));
    std::copy(c.s.begin(), c.s.end(), s.Data());
    r.Set("s", s);
    Napi::Array dqs = Napi::Array::New(env, members.size());
    StoredTensor st;
    for (size_t i = 0; i < members.size(); i++) {
      auto dq = Napi::Float32Array::New(env, size_t(members[i].rows * n));
      quant::awqApply(members[i].w, members[i].rows, n, c.s.data(), members[i].cfg, pool, reference,
                      dq.Data(), st);
      dqs.Set(uint32_t(i), dq);
    }
    r.Set("dequant", dqs);
    return r;
  } catch (const std::invalid_argument& e) {
    throw Napi::RangeError::New(env, e.what());
  }
}

}  // namespace

void RegisterLinalg(Napi::Env env, Napi::Object exports) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("gemm", Napi::Function::New(env, Gemm, "gemm"));
  o.Set("gram", Napi::Function::New(env, Gram, "gram"));
  o.Set("rmsNorm", Napi::Function::New(env, RmsNorm, "rmsNorm"));
  o.Set("softmax", Napi::Function::New(env, Softmax, "softmax"));
  o.Set("logSoftmax", Napi::Function::New(env, LogSoftmax, "logSoftmax"));
  o.Set("silu", Napi::Function::New(env, Silu, "silu"));
  o.Set("gemmKernel", Napi::Function::New(
                          env,
                          [](const Napi::CallbackInfo& i) -> Napi::Value {
                            return Napi::String::New(i.Env(), linalg::gemmKernelName());
                          },
                          "gemmKernel"));
  exports.Set("linalg", o);
  exports.Set("gptq", Napi::Function::New(env, Gptq, "gptq"));
  exports.Set("awq", Napi::Function::New(env, Awq, "awq"));
}

}  // namespace bitsmith
