// The one conversion of a JavaScript config object into a QuantConfig, shared by every
// binding that takes one (quantize, gptq, awq, startRun's tensors):
//   {format, group = 128, groupKind = 'size' | 'channel' | 'tensor', symmetric = true,
//    scale = 'f16' | 'bf16' | 'f32' | 'e8m0' | 'e4m3', zero = 'f16' | 'int',
//    clip = 'none' | 'mse', outliers = 0, lowrank = 0, lowrankIters = 1,
//    rotate = 'none' | 'hadamard', seed = 0 (number or bigint),
//    hqq?: {iters = 20, lpNorm = 0.7, beta = 10, kappa = 1.01}}
// A wrong type or an unknown key is a TypeError, a bad value a RangeError, each naming
// `where`.key. Undefined and null mean "not given".
#pragma once
#include <napi.h>

#include <cstdint>
#include <initializer_list>
#include <string>

#include "quant/quantize.h"

namespace bitsmith {

/** `extra`: the keys the caller reads itself (allowed here, not read). With a shape
 *  (rows, cols > 0), group kinds channel and tensor resolve to cols and rows*cols, and
 *  outliers is bounded by rows*cols; without one, the group stays as given (the runner
 *  resolves it per tensor). */
QuantConfig quantConfigFromJs(Napi::Env env, const Napi::Value& value, const std::string& where,
                              std::initializer_list<const char*> extra = {}, int64_t rows = 0,
                              int64_t cols = 0);

}  // namespace bitsmith
