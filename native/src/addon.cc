// Bitsmith native addon: N-API entry point (node-addon-api, NAPI_VERSION 8).
#include <napi.h>

#include "napi/register.h"

#include <string>
#include <thread>

#ifndef BITSMITH_VERSION
#define BITSMITH_VERSION "0.1.0"
#endif

#if defined(__VERSION__)
#define BITSMITH_COMPILER __VERSION__
#elif defined(_MSC_FULL_VER)
#define BITSMITH_STR2(x) #x
#define BITSMITH_STR(x) BITSMITH_STR2(x)
#define BITSMITH_COMPILER "MSVC " BITSMITH_STR(_MSC_FULL_VER)
#else
#define BITSMITH_COMPILER "unknown"
#endif

namespace {

Napi::Value Version(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), BITSMITH_VERSION);
}

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object result = Napi::Object::New(env);
  result.Set("version", Napi::String::New(env, BITSMITH_VERSION));
  result.Set("napiVersion", Napi::Number::New(env, NAPI_VERSION));
  result.Set("threads", Napi::Number::New(env, std::thread::hardware_concurrency()));
  result.Set("compiler", Napi::String::New(env, BITSMITH_COMPILER));
  return result;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("version", Napi::Function::New(env, Version, "version"));
  exports.Set("info", Napi::Function::New(env, Info, "info"));
  bitsmith::RegisterQuant(env, exports);
  bitsmith::RegisterRun(env, exports);
  bitsmith::RegisterGgml(env, exports);
  bitsmith::RegisterLinalg(env, exports);
  bitsmith::RegisterForward(env, exports);
  bitsmith::RegisterImatrix(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(bitsmith, Init)
