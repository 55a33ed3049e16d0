// N-API bindings of the ggml block codecs (quant/ggml/ggml.h), for tests and tools:
//
//   ggmlEncode(type: string, data: Float32Array, rows, cols,
//              {reference = false, importance?: Float32Array (cols), threads = hardware}) ->
//              Uint8Array
//   ggmlDecode(type: string, bytes: Uint8Array, rows, cols) -> Float32Array
//   ggmlTypes() -> [{name, blockWeights, blockBytes, ggmlId}]
// Every size and length is checked before any data is read: TypeError for a wrong type or
// an unknown option, RangeError for a bad value (naming the argument).
#include <napi.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>

#include "napi/args.h"
#include "napi/register.h"
#include "quant/ggml/ggml.h"
#include "threads/pool.h"

namespace bitsmith {

namespace {

const GgmlTypeInfo& toType(Napi::Env env, const Napi::Value& v) {
  std::string list;
  for (const GgmlTypeInfo& t : ggmlTypes()) list += std::string(list.empty() ? "" : ", ") + t.name;
  if (!v.IsString()) typeError(env, "type must be a string (" + list + ")");
  const std::string s = v.As<Napi::String>().Utf8Value();
  const GgmlTypeInfo* t = findGgmlType(s);
  if (!t) rangeError(env, "type must be one of " + list + ", got '" + s + "'");
  return *t;
}

// rows, cols and the row size; throws RangeError naming the argument.
size_t checkShape(Napi::Env env, const GgmlTypeInfo& t, const Napi::CallbackInfo& info) {
  const int64_t rows = toInteger(env, info[2], "rows", 0, kMaxSafe);
  const int64_t cols = toInteger(env, info[3], "cols", 1, kMaxSafe);
  if (cols % t.blockWeights != 0)
    rangeError(env, "cols (" + std::to_string(cols) + ") must be a multiple of " + t.name +
                        "'s block of " + std::to_string(t.blockWeights) + " weights");
  if (double(rows) * double(cols) > 4294967296.0 * 16) rangeError(env, "rows*cols is too large");
  (void)rows;
  return ggmlRowBytes(t.type, cols);
}

Napi::Value Encode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || info.Length() > 5)
    typeError(env, "ggmlEncode(type, data, rows, cols, options?) takes 4 or 5 arguments, got " +
                       std::to_string(info.Length()));
  const GgmlTypeInfo& t = toType(env, info[0]);
  if (!info[1].IsTypedArray() ||
      info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    typeError(env, "data must be a Float32Array");
  Napi::Float32Array data = info[1].As<Napi::Float32Array>();
  const size_t rb = checkShape(env, t, info);
  const int64_t rows = int64_t(info[2].As<Napi::Number>().DoubleValue());
  const int64_t cols = int64_t(info[3].As<Napi::Number>().DoubleValue());
  if (double(data.ElementLength()) != double(rows) * double(cols))
    rangeError(env, "data.length (" + std::to_string(data.ElementLength()) + ") != rows*cols (" +
                        std::to_string(rows) + "*" + std::to_string(cols) + ")");
  bool reference = false;
  int threads = ThreadPool::defaultThreads();
  Napi::Float32Array importance;
  bool hasImportance = false;
  if (info.Length() == 5 && !info[4].IsUndefined()) {
    if (!info[4].IsObject() || info[4].IsArray() || info[4].IsFunction() || info[4].IsTypedArray())
      typeError(env, "options must be an object");
    Napi::Object o = info[4].As<Napi::Object>();
    static const std::set<std::string> known = {"reference", "importance", "threads"};
    Napi::Array keys = o.GetPropertyNames();
    for (uint32_t i = 0; i < keys.Length(); ++i) {
      const std::string k = keys.Get(i).ToString().Utf8Value();
      if (!known.count(k)) typeError(env, "options has an unknown key '" + k + "'");
    }
    auto has = [&](const char* k) { return o.Has(k) && !o.Get(k).IsUndefined(); };
    if (has("reference")) {
      if (!o.Get("reference").IsBoolean()) typeError(env, "options.reference must be a boolean");
      reference = o.Get("reference").As<Napi::Boolean>().Value();
    }
    if (has("threads")) threads = int(toInteger(env, o.Get("threads"), "options.threads", 1, 1024));
    if (has("importance")) {
      Napi::Value v = o.Get("importance");
      if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
        typeError(env, "options.importance must be a Float32Array");
      importance = v.As<Napi::Float32Array>();
      if (int64_t(importance.ElementLength()) != cols)
        rangeError(env, "options.importance.length (" + std::to_string(importance.ElementLength()) +
                            ") != cols (" + std::to_string(cols) + ")");
      hasImportance = true;
    }
  }
  const float* x = data.Data();
  // ggmlEncodeRows checks the weights row by row as it encodes (NonFiniteWeight, a RangeError
  // here).
  Napi::Uint8Array out = Napi::Uint8Array::New(env, size_t(rows) * rb);
  try {
    ggmlEncodeRows(t.type, x, rows, cols, out.Data(), hasImportance ? importance.Data() : nullptr,
                   poolFor(threads), reference);
  } catch (const std::invalid_argument& e) {
    rangeError(env, e.what());
  }
  return out;
}

Napi::Value Decode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 4)
    typeError(env, "ggmlDecode(type, bytes, rows, cols) takes 4 arguments, got " +
                       std::to_string(info.Length()));
  const GgmlTypeInfo& t = toType(env, info[0]);
  if (!info[1].IsTypedArray() ||
      info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    typeError(env, "bytes must be a Uint8Array");
  Napi::Uint8Array bytes = info[1].As<Napi::Uint8Array>();
  const size_t rb = checkShape(env, t, info);
  const int64_t rows = int64_t(info[2].As<Napi::Number>().DoubleValue());
  const int64_t cols = int64_t(info[3].As<Napi::Number>().DoubleValue());
  if (double(bytes.ElementLength()) != double(rows) * double(rb))
    rangeError(env, "bytes.length (" + std::to_string(bytes.ElementLength()) +
                        ") != rows * row bytes (" + std::to_string(rows) + "*" +
                        std::to_string(rb) + ")");
  Napi::Float32Array out = Napi::Float32Array::New(env, size_t(rows * cols));
  ggmlDecodeRows(t.type, bytes.Data(), rows, cols, out.Data());
  return out;
}

Napi::Value Types(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto& types = ggmlTypes();
  Napi::Array a = Napi::Array::New(env, types.size());
  for (size_t i = 0; i < types.size(); ++i) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", types[i].name);
    o.Set("blockWeights", types[i].blockWeights);
    o.Set("blockBytes", types[i].blockBytes);
    o.Set("ggmlId", types[i].ggmlId);
    a.Set(uint32_t(i), o);
  }
  return a;
}

}  // namespace

void RegisterGgml(Napi::Env env, Napi::Object exports) {
  exports.Set("ggmlEncode", Napi::Function::New(env, Encode, "ggmlEncode"));
  exports.Set("ggmlDecode", Napi::Function::New(env, Decode, "ggmlDecode"));
  exports.Set("ggmlTypes", Napi::Function::New(env, Types, "ggmlTypes"));
}

}  // namespace bitsmith
