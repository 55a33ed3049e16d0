// N-API binding of the imatrix reader, for tests and tools:
//   readImatrix(path) -> {path, format: 'gguf' | 'dat', entries: [{name, nIn, nMat, mean:
//   Float32Array}]}
// (mean: nMat * nIn means of x^2). Errors carry `code` (calibration/...) and `tensor` (the entry).
#include <napi.h>

#include <cstring>

#include "io/error.h"
#include "io/imatrix.h"
#include "napi/register.h"

namespace bitsmith {

namespace {

Napi::Value ReadImatrix(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsString())
    throw Napi::TypeError::New(env, "readImatrix(path): path must be a string");
  Imatrix im;
  try {
    im = readImatrix(info[0].As<Napi::String>().Utf8Value());
  } catch (const ModelError& e) {
    Napi::Error err = Napi::Error::New(env, e.what());
    err.Set("code", Napi::String::New(env, e.code()));
    if (!e.tensor().empty()) err.Set("tensor", Napi::String::New(env, e.tensor()));
    throw err;
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("path", im.path);
  o.Set("format", im.format);
  Napi::Array entries = Napi::Array::New(env, im.entries.size());
  for (size_t i = 0; i < im.entries.size(); i++) {
    const ImatrixEntry& e = im.entries[i];
    Napi::Object x = Napi::Object::New(env);
    x.Set("name", e.name);
    x.Set("nIn", double(e.nIn));
    x.Set("nMat", double(e.nMat));
    Napi::Float32Array mean = Napi::Float32Array::New(env, e.mean.size());
    if (!e.mean.empty()) std::memcpy(mean.Data(), e.mean.data(), e.mean.size() * sizeof(float));
    x.Set("mean", mean);
    entries.Set(uint32_t(i), x);
  }
  o.Set("entries", entries);
  return o;
}

}  // namespace

void RegisterImatrix(Napi::Env env, Napi::Object exports) {
  exports.Set("readImatrix", Napi::Function::New(env, ReadImatrix, "readImatrix"));
}

}  // namespace bitsmith
