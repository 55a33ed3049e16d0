// Each family of N-API functions registers itself here; addon.cc stays the only entry.
#pragma once
#include <napi.h>

namespace bitsmith {
// quantize(), quantizeReference(), grids: single-tensor quantization for tests and tools.
void RegisterQuant(Napi::Env env, Napi::Object exports);
// startRun(): executes a plan on a worker thread with progress events and cancellation.
void RegisterRun(Napi::Env env, Napi::Object exports);
// ggmlEncode(), ggmlDecode(), ggmlTypes(): the ggml block codecs, for tests and tools.
void RegisterGgml(Napi::Env env, Napi::Object exports);
// linalg.{gemm, gram, rmsNorm, softmax, ...}: the dense kernels, for tests and benchmarks.
void RegisterLinalg(Napi::Env env, Napi::Object exports);
// forward.{...}: the Llama-family forward pass, calibration and evaluation, for tests and
// benchmarks.
void RegisterForward(Napi::Env env, Napi::Object exports);
// readImatrix(): llama.cpp importance matrices (both formats), for tests and tools.
void RegisterImatrix(Napi::Env env, Napi::Object exports);
}  // namespace bitsmith
