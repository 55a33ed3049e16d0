#include "napi/args.h"

#include <cmath>
#include <map>
#include <mutex>

#include "threads/pool.h"

namespace bitsmith {

void typeError(Napi::Env env, const std::string& msg) {
  throw Napi::TypeError::New(env, msg);
}
void rangeError(Napi::Env env, const std::string& msg) {
  throw Napi::RangeError::New(env, msg);
}

int64_t toInteger(Napi::Env env, const Napi::Value& v, const std::string& name, double lo,
                  double hi) {
  if (!v.IsNumber()) typeError(env, name + " must be a number, got " + v.ToString().Utf8Value());
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::floor(d) != d)
    rangeError(env, name + " must be an integer, got " + v.ToString().Utf8Value());
  if (d < lo || d > hi)
    rangeError(env, name + " must be in [" + std::to_string(int64_t(lo)) + ", " +
                        std::to_string(int64_t(hi)) + "], got " + v.ToString().Utf8Value());
  return int64_t(d);
}

ThreadPool& poolFor(int threads) {
  static std::mutex mu;
  static std::map<int, ThreadPool*>* pools =
      new std::map<int, ThreadPool*>();  // never freed: lives to exit
  std::lock_guard<std::mutex> lock(mu);
  ThreadPool*& p = (*pools)[threads];
  if (p == nullptr) p = new ThreadPool(threads);
  return *p;
}

}  // namespace bitsmith
