// Argument checks shared by the N-API bindings: every value from JavaScript is validated
// here before any data is touched (TypeError for a wrong type, RangeError for a bad value,
// naming the argument), and the thread pools the bindings run on.
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>

namespace bitsmith {

class ThreadPool;

/** The largest integer a JavaScript number holds exactly. */
constexpr double kMaxSafe = 9007199254740991.0;

[[noreturn]] void typeError(Napi::Env env, const std::string& msg);
[[noreturn]] void rangeError(Napi::Env env, const std::string& msg);

/** An integral number in [lo, hi]. */
int64_t toInteger(Napi::Env env, const Napi::Value& v, const std::string& name, double lo,
                  double hi);

/** A pool of `threads` workers, created on first use and kept for the process's life. */
ThreadPool& poolFor(int threads);

}  // namespace bitsmith
