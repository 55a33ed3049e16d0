// N-API bindings of the single-tensor quantizer, for tests and tools (synchronous: the
// runner's asynchronous path calls quantizeTensorInto from its worker thread).
//
//   quantize(data: Float32Array, rows, cols, config) -> {
//     dequant: Float32Array, bytes: {codes, scales, zeros, outliers, lowrank, extra, total},
//     outlierCount, metrics: {relError, sqnrDb, maxAbsError, cosine, weightHist, errorHist}
//       (histograms: {min, max, counts: number[64]}), timing: {quantizeMs, metricsMs},
//     stored?: {codes, scales, zeros, outliers, lowrank, extra: Uint8Array} }
//   config: {format, group = 128, groupKind = 'size' | 'channel' | 'tensor', symmetric = true,
//     scale = 'f16' | 'bf16' | 'f32' | 'e8m0' | 'e4m3', zero = 'f16' | 'int',
//     clip = 'none' | 'mse', outliers = 0, lowrank = 0, lowrankIters = 1,
//     rotate = 'none' | 'hadamard', seed = 0 (number or bigint), threads = hardware threads,
//     importance?: Float32Array (cols per-input-channel search weights, finite and >= 0),
//     reference = false, metrics = true (false: metrics is null), stored = false (true: return
//     the stored bytes), out?: Float32Array (rows*cols, written instead of a new array),
//     hqq?: {iters = 20, lpNorm = 0.7, beta = 10, kappa = 1.01} (method hqq: quant/hqq.h)}
//   hqqPow(a, e) -> number: method hqq's pow (a^e for normal a > 0, e in [-1, 0])
//   fp8Decode(kind: 'e4m3' | 'e5m2', code) / fp8Encode(kind, value) -> number
//   f16Round(value) / bf16Round(value) -> number;  grid('nf4' | 'fp4') -> Float32Array(16)
//   poolSelfTest(threads, n) -> {eachIndexOnce, chunks, threadsUsed, nestedIndices, error, size}
// Bad arguments throw TypeError (wrong type, unknown key) or RangeError (bad value, NaN or
// Inf weights, unexecutable format), with the argument named.
#include <napi.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/fp.h"
#include "metrics/metrics.h"
#include "napi/args.h"
#include "napi/quant_config.h"
#include "napi/register.h"
#include "quant/hqq.h"
#include "quant/stored.h"
#include "threads/pool.h"

namespace bitsmith {

namespace {

std::string toChoice(Napi::Env env, const Napi::Value& v, const std::string& name,
                     std::initializer_list<const char*> choices) {
  std::string list;
  for (const char* c : choices) list += std::string(list.empty() ? "" : ", ") + "'" + c + "'";
  if (!v.IsString()) typeError(env, name + " must be a string (" + list + ")");
  const std::string s = v.As<Napi::String>().Utf8Value();
  for (const char* c : choices)
    if (s == c) return s;
  rangeError(env, name + " must be one of " + list + ", got '" + s + "'");
}

bool toBool(Napi::Env env, const Napi::Value& v, const std::string& name) {
  if (!v.IsBoolean()) typeError(env, name + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

Napi::Float32Array toFloat32Array(Napi::Env env, const Napi::Value& v, const std::string& name) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    typeError(env, name + " must be a Float32Array");
  return v.As<Napi::Float32Array>();
}

Napi::Object histogram(Napi::Env env, const Histogram& h) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("min", h.min);
  o.Set("max", h.max);
  Napi::Array counts = Napi::Array::New(env, kHistBins);
  for (int i = 0; i < kHistBins; ++i)
    counts.Set(uint32_t(i), Napi::Number::New(env, double(h.counts[size_t(i)])));
  o.Set("counts", counts);
  return o;
}

Napi::Uint8Array bytesOf(Napi::Env env, const Bytes& b) {
  Napi::Uint8Array a = Napi::Uint8Array::New(env, b.size());
  if (!b.empty()) std::memcpy(a.Data(), b.data(), b.size());
  return a;
}

Napi::Value Quantize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 4)
    typeError(env, "quantize(data, rows, cols, config) takes 4 arguments, got " +
                       std::to_string(info.Length()));
  Napi::Float32Array data = toFloat32Array(env, info[0], "data");
  const int64_t rows = toInteger(env, info[1], "rows", 1, kMaxSafe);
  const int64_t cols = toInteger(env, info[2], "cols", 1, kMaxSafe);
  if (double(rows) * double(cols) > kMaxSafe) rangeError(env, "rows*cols is too large");
  if (int64_t(data.ElementLength()) != rows * cols)
    rangeError(env, "data.length (" + std::to_string(data.ElementLength()) + ") != rows*cols (" +
                        std::to_string(rows) + "*" + std::to_string(cols) + " = " +
                        std::to_string(rows * cols) + ")");
  if (!info[3].IsObject() || info[3].IsArray() || info[3].IsFunction())
    typeError(env, "config must be an object");
  Napi::Object cfg = info[3].As<Napi::Object>();

  QuantConfig c = quantConfigFromJs(
      env, cfg, "config", {"threads", "reference", "metrics", "stored", "out", "importance"}, rows,
      cols);
  if (!isExecutableFormat(c.format))
    rangeError(env, "config.format: format " + c.format +
                        " is not executed yet (ggml block formats are written by the GGUF output)");
  auto has = [&](const char* k) { return cfg.Has(k) && !cfg.Get(k).IsUndefined(); };
  Napi::Float32Array importance;
  if (has("importance")) {
    importance = toFloat32Array(env, cfg.Get("importance"), "config.importance");
    if (int64_t(importance.ElementLength()) != cols)
      rangeError(env, "config.importance.length (" + std::to_string(importance.ElementLength()) +
                          ") != cols (" + std::to_string(cols) + ")");
    c.importance = importance.Data();
  }
  const int threads = has("threads")
                          ? int(toInteger(env, cfg.Get("threads"), "config.threads", 1, 1024))
                          : ThreadPool::defaultThreads();
  const bool reference = has("reference") && toBool(env, cfg.Get("reference"), "config.reference");
  const bool wantMetrics = !has("metrics") || toBool(env, cfg.Get("metrics"), "config.metrics");
  const bool wantStored = has("stored") && toBool(env, cfg.Get("stored"), "config.stored");

  const int64_t n = rows * cols;
  Napi::Float32Array out;
  if (has("out")) {
    out = toFloat32Array(env, cfg.Get("out"), "config.out");
    if (int64_t(out.ElementLength()) != n)
      rangeError(env, "config.out.length (" + std::to_string(out.ElementLength()) +
                          ") != rows*cols (" + std::to_string(n) + ")");
    const uint8_t* a = reinterpret_cast<const uint8_t*>(data.Data());
    const uint8_t* b = reinterpret_cast<const uint8_t*>(out.Data());
    const size_t bytes = size_t(n) * sizeof(float);
    if (a < b + bytes && b < a + bytes) rangeError(env, "config.out must not overlap data");
  } else {
    out = Napi::Float32Array::New(env, size_t(n));
  }

  ThreadPool& pool = poolFor(threads);
  // Reused across calls on this thread: its pages stay mapped (see quantizeTensorInto).
  static thread_local StoredTensor stored;
  int64_t outlierCount = 0;
  TensorMetrics m;
  double quantMs = 0, metricsMs = 0;
  try {
    const auto t0 = std::chrono::steady_clock::now();
    outlierCount =
        quantizeTensorInto(data.Data(), rows, cols, c, pool, reference, out.Data(), stored);
    const auto t1 = std::chrono::steady_clock::now();
    if (wantMetrics) m = computeMetrics(data.Data(), out.Data(), n, reference ? nullptr : &pool);
    const auto t2 = std::chrono::steady_clock::now();
    quantMs = std::chrono::duration<double, std::milli>(t1 - t0).count();
    metricsMs = std::chrono::duration<double, std::milli>(t2 - t1).count();
  } catch (const std::invalid_argument& e) {
    rangeError(env, e.what());
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, std::string("quantize failed: ") + e.what());
  }

  Napi::Object result = Napi::Object::New(env);
  result.Set("dequant", out);
  const QuantBytes qb = stored.bytes();
  Napi::Object bytes = Napi::Object::New(env);
  bytes.Set("codes", double(qb.codes));
  bytes.Set("scales", double(qb.scales));
  bytes.Set("zeros", double(qb.zeros));
  bytes.Set("outliers", double(qb.outliers));
  bytes.Set("lowrank", double(qb.lowrank));
  bytes.Set("extra", double(qb.extra));
  bytes.Set("total", double(qb.total()));
  result.Set("bytes", bytes);
  result.Set("outlierCount", double(outlierCount));
  if (wantMetrics) {
    Napi::Object mo = Napi::Object::New(env);
    mo.Set("relError", m.relError);
    mo.Set("sqnrDb", m.sqnrDb);
    mo.Set("maxAbsError", m.maxAbsError);
    mo.Set("cosine", m.cosine);
    mo.Set("weightHist", histogram(env, m.weightHist));
    mo.Set("errorHist", histogram(env, m.errorHist));
    mo.Set("dequantHist", histogram(env, m.dequantHist));
    result.Set("metrics", mo);
  } else {
    result.Set("metrics", env.Null());
  }
  Napi::Object timing = Napi::Object::New(env);
  timing.Set("quantizeMs", quantMs);
  timing.Set("metricsMs", metricsMs);
  result.Set("timing", timing);
  if (wantStored) {
    Napi::Object so = Napi::Object::New(env);
    so.Set("codes", bytesOf(env, stored.codes));
    so.Set("scales", bytesOf(env, stored.scales));
    so.Set("zeros", bytesOf(env, stored.zeros));
    so.Set("outliers", bytesOf(env, stored.outliers));
    so.Set("lowrank", bytesOf(env, stored.lowrank));
    so.Set("extra", bytesOf(env, stored.extra));
    result.Set("stored", so);
  }
  return result;
}

Fp8Kind toFp8Kind(Napi::Env env, const Napi::Value& v) {
  const std::string k = toChoice(env, v, "kind", {"e4m3", "e5m2", "fp8_e4m3", "fp8_e5m2"});
  return k == "e4m3" || k == "fp8_e4m3" ? Fp8Kind::E4M3 : Fp8Kind::E5M2;
}

double toNumber(Napi::Env env, const Napi::Value& v, const std::string& name) {
  if (!v.IsNumber()) typeError(env, name + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

Napi::Value Fp8Decode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Fp8Kind kind = toFp8Kind(env, info[0]);
  const int64_t code = toInteger(env, info[1], "code", 0, 255);
  return Napi::Number::New(env, fp8Decode(kind, uint8_t(code)));
}

Napi::Value Fp8Encode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Fp8Kind kind = toFp8Kind(env, info[0]);
  // The value is rounded to f32 first (the quantizers see f32 weights).
  const float v = float(toNumber(env, info[1], "value"));
  return Napi::Number::New(env, fp8Encode(kind, v));
}

Napi::Value F16Round(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Napi::Number::New(env, f16Round(float(toNumber(env, info[0], "value"))));
}

Napi::Value Bf16Round(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Napi::Number::New(env, bf16ToF32(bf16FromF32(float(toNumber(env, info[0], "value")))));
}

Napi::Value Grid(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string f = toChoice(env, info[0], "format", {"nf4", "fp4"});
  const float* g = f == "nf4" ? kNf4Grid : kFp4Grid;
  Napi::Float32Array a = Napi::Float32Array::New(env, 16);
  std::memcpy(a.Data(), g, 16 * sizeof(float));
  return a;
}

// poolSelfTest(threads, n): exercises the thread pool from JS tests. Runs parallelFor over
// [0, n) marking each index (checking chunks are contiguous, disjoint and cover the range),
// a nested parallelFor (runs inline), and a chunk that throws (must reach the caller).
Napi::Value PoolSelfTest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int threads = int(toInteger(env, info[0], "threads", 1, 1024));
  const int64_t n = toInteger(env, info[1], "n", 0, 1e8);
  ThreadPool pool(threads);
  std::vector<std::atomic<int>> seen(static_cast<size_t>(n));
  std::atomic<int64_t> chunks{0}, nested{0};
  std::set<std::thread::id> ids;
  std::mutex mu;
  pool.parallelFor(n, [&](int64_t b, int64_t e) {
    ++chunks;
    {
      std::lock_guard<std::mutex> lock(mu);
      ids.insert(std::this_thread::get_id());
    }
    for (int64_t i = b; i < e; ++i) seen[size_t(i)].fetch_add(1);
    pool.parallelFor(3, [&](int64_t x, int64_t y) { nested += y - x; });
  });
  bool exact = true;
  for (auto& v : seen) exact = exact && v.load() == 1;
  std::string error;
  try {
    pool.parallelFor(std::max<int64_t>(n, 2), [&](int64_t b, int64_t) {
      if (b == 0) throw std::runtime_error("chunk failed");
    });
  } catch (const std::exception& e) {
    error = e.what();
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("eachIndexOnce", exact);
  o.Set("chunks", double(chunks.load()));
  o.Set("threadsUsed", double(ids.size()));
  o.Set("nestedIndices", double(nested.load()));
  o.Set("error", error);
  o.Set("size", pool.size());
  return o;
}

}  // namespace

Napi::Value HqqPow(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 2 || !info[0].IsNumber() || !info[1].IsNumber())
    typeError(env, "hqqPow(a, e) takes two numbers");
  const float a = float(info[0].As<Napi::Number>().DoubleValue()),
              e = float(info[1].As<Napi::Number>().DoubleValue());
  if (!(a >= 1.17549435e-38f && a <= 3.4e38f) || !(e >= -1.0f && e <= 0.0f))
    rangeError(env, "hqqPow needs a normal a > 0 and e in [-1, 0]");
  return Napi::Number::New(env, double(quant::hqqPow(a, e)));
}

void RegisterQuant(Napi::Env env, Napi::Object exports) {
  exports.Set("hqqPow", Napi::Function::New(env, HqqPow, "hqqPow"));
  exports.Set("poolSelfTest", Napi::Function::New(env, PoolSelfTest, "poolSelfTest"));
  exports.Set("quantize", Napi::Function::New(env, Quantize, "quantize"));
  exports.Set("fp8Decode", Napi::Function::New(env, Fp8Decode, "fp8Decode"));
  exports.Set("fp8Encode", Napi::Function::New(env, Fp8Encode, "fp8Encode"));
  exports.Set("f16Round", Napi::Function::New(env, F16Round, "f16Round"));
  exports.Set("bf16Round", Napi::Function::New(env, Bf16Round, "bf16Round"));
  exports.Set("grid", Napi::Function::New(env, Grid, "grid"));
}

}  // namespace bitsmith
