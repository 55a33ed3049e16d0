// Standalone self-test of the quantizers, without N-API or Node: every fast path against its
// scalar reference path on random data, bit for bit (reconstruction) and byte for byte (stored
// form). It exists for builds no Node test runs on: scripts/arm64-check.sh cross-compiles it
// for linux-arm64 and runs it under qemu-user, where the fast paths are the portable ones (no
// x86 kernels are compiled in). On x86 it checks the AVX2 kernels too (BITSMITH_NO_AVX2=1:
// the portable ones). Exits 1 on the first mismatching case of each kind, listing them all.
//
//   quant_selftest [--quick]   (--quick: smaller shapes, for slow emulation)
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <random>
#include <string>
#include <vector>

#include "common/cpu.h"
#include "quant/ggml/ggml.h"
#include "quant/quantize.h"
#include "quant/stored.h"
#include "threads/pool.h"

using namespace bitsmith;

namespace {

int failures = 0;
int cases = 0;

// Gaussian weights with a few large outliers (the shapes quantizers meet in real checkpoints).
std::vector<float> weights(int64_t n, uint64_t seed, float sigma) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, sigma);
  std::uniform_int_distribution<int64_t> pick(0, n - 1);
  std::vector<float> w(static_cast<size_t>(n));
  for (float& x : w) x = normal(rng);
  for (int k = 0; k < 3 && n > 8; ++k) w[size_t(pick(rng))] *= 25.0f;
  return w;
}

template <class V>
bool sameBytes(const V& a, const V& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(a[0])) == 0);
}

void fail(const std::string& what, const std::string& detail) {
  ++failures;
  std::printf("FAIL %s: %s\n", what.c_str(), detail.c_str());
}

// One quantizeTensorInto config on both paths.
void checkTensor(const std::string& label, const QuantConfig& c, int64_t rows, int64_t cols,
                 uint64_t seed, ThreadPool& pool) {
  ++cases;
  const std::string what = label + " " + std::to_string(rows) + "x" + std::to_string(cols);
  const std::vector<float> w = weights(rows * cols, seed, 0.05f);
  std::vector<float> fast(size_t(rows * cols)), ref(size_t(rows * cols));
  StoredTensor sf, sr;
  try {
    const int64_t of = quantizeTensorInto(w.data(), rows, cols, c, pool, false, fast.data(), sf);
    const int64_t orf = quantizeTensorInto(w.data(), rows, cols, c, pool, true, ref.data(), sr);
    if (of != orf) fail(what, "outlier counts differ");
  } catch (const std::exception& e) {
    fail(what, std::string("threw: ") + e.what());
    return;
  }
  if (!sameBytes(fast, ref)) {
    size_t i = 0;
    while (i < fast.size() && std::memcmp(&fast[i], &ref[i], sizeof(float)) == 0) ++i;
    fail(what, "dequant differs at " + std::to_string(i) + ": fast " + std::to_string(fast[i]) +
                   ", reference " + std::to_string(ref[i]));
  }
  const char* names[] = {"codes", "scales", "zeros", "outliers", "lowrank", "extra"};
  const Bytes* a[] = {&sf.codes, &sf.scales, &sf.zeros, &sf.outliers, &sf.lowrank, &sf.extra};
  const Bytes* b[] = {&sr.codes, &sr.scales, &sr.zeros, &sr.outliers, &sr.lowrank, &sr.extra};
  for (int k = 0; k < 6; ++k)
    if (!sameBytes(*a[k], *b[k])) fail(what, std::string("stored ") + names[k] + " differ");
  const QuantBytes want = expectedBytes(rows, cols, c);
  const QuantBytes got = sf.bytes();
  if (got.total() != want.total())
    fail(what, "stored " + std::to_string(got.total()) + " bytes, the formula says " +
                   std::to_string(want.total()));
}

// One ggml type on both encoder paths, with and without an importance vector; the bytes
// must also decode to finite weights.
void checkGgml(const GgmlTypeInfo& t, int64_t rows, int64_t cols, uint64_t seed, ThreadPool& pool) {
  const std::vector<float> w = weights(rows * cols, seed, 0.02f);
  std::vector<float> imp(static_cast<size_t>(cols));
  std::mt19937_64 rng(seed ^ 0x9e3779b97f4a7c15ull);
  std::uniform_real_distribution<float> u(0.01f, 4.0f);
  for (float& x : imp) x = u(rng);
  const size_t bytes = ggmlRowBytes(t.type, cols) * size_t(rows);
  for (const float* importance :
       {static_cast<const float*>(nullptr), static_cast<const float*>(imp.data())}) {
    ++cases;
    const std::string what = std::string(t.name) + (importance ? " (importance) " : " ") +
                             std::to_string(rows) + "x" + std::to_string(cols);
    std::vector<uint8_t> fast(bytes), ref(bytes);
    try {
      ggmlEncodeRows(t.type, w.data(), rows, cols, fast.data(), importance, pool, false);
      ggmlEncodeRows(t.type, w.data(), rows, cols, ref.data(), importance, pool, true);
    } catch (const std::exception& e) {
      fail(what, std::string("threw: ") + e.what());
      continue;
    }
    if (!sameBytes(fast, ref)) {
      size_t i = 0;
      while (i < bytes && fast[i] == ref[i]) ++i;
      fail(what, "encoded bytes differ from byte " + std::to_string(i) + " (block " +
                     std::to_string(i / size_t(t.blockBytes)) + ")");
      continue;
    }
    std::vector<float> back(size_t(rows * cols));
    ggmlDecodeRows(t.type, fast.data(), rows, cols, back.data());
    for (float x : back)
      if (!std::isfinite(x)) {
        fail(what, "decodes to a non-finite weight");
        break;
      }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  ThreadPool pool(2);
  std::printf("quant_selftest: %s, x86 kernels %s, %s\n",
#if defined(__aarch64__)
              "aarch64",
#elif BITSMITH_X86
              "x86",
#else
              "other architecture",
#endif
              BITSMITH_X86 ? (cpuHasAvx2() ? "on (AVX2)" : "compiled in, off") : "not compiled",
              quick ? "quick shapes" : "full shapes");
  uint64_t seed = 1;

  // Int grids: every width, symmetric / asymmetric (f16 and int zeros), grouping kinds, odd shapes.
  const int64_t shapes[][2] = {{1, 7}, {5, 33}, {7, 130}, {16, 256}, {3, 1000}};
  for (int bits = 2; bits <= 8; ++bits)
    for (int variant = 0; variant < 3; ++variant)
      for (int grouping = 0; grouping < 3; ++grouping)
        for (const auto& s : shapes) {
          QuantConfig c;
          c.format = "int" + std::to_string(bits);
          c.symmetric = variant == 0;
          c.zero = variant == 2 ? ZeroType::Int : ZeroType::F16;
          c.groupKind = grouping == 0   ? GroupKind::Size
                        : grouping == 1 ? GroupKind::Channel
                                        : GroupKind::Tensor;
          c.group = grouping == 0 ? 32 : grouping == 1 ? s[1] : s[0] * s[1];
          checkTensor(c.format +
                          (c.symmetric    ? " sym"
                           : variant == 2 ? " asym zero int"
                                          : " asym") +
                          (grouping == 0   ? " g32"
                           : grouping == 1 ? " channel"
                                           : " tensor"),
                      c, s[0], s[1], ++seed, pool);
        }

  // Float, micro-scaled and sign formats; every scale type; clip mse.
  const char* floats[] = {"nf4",   "fp4",   "fp8_e4m3", "fp8_e5m2", "mxfp4",
                          "mxfp8", "nvfp4", "binary",   "ternary"};
  const ScaleType scaleTypes[] = {ScaleType::F16, ScaleType::BF16, ScaleType::F32, ScaleType::E8M0,
                                  ScaleType::E4M3};
  const char* scaleNames[] = {"f16", "bf16", "f32", "e8m0", "e4m3"};
  for (const char* f : floats) {
    const bool micro = std::strncmp(f, "mx", 2) == 0 || std::strcmp(f, "nvfp4") == 0;
    for (int s = 0; s < 5; ++s) {
      if (micro && s > 0) break;  // micro formats fix their scale type
      for (bool clip : {false, true}) {
        QuantConfig c;
        c.format = f;
        c.group = micro ? (std::strcmp(f, "nvfp4") == 0 ? 16 : 32) : 32;
        c.scale = micro ? (std::strcmp(f, "nvfp4") == 0 ? ScaleType::E4M3 : ScaleType::E8M0)
                        : scaleTypes[s];
        c.clipMse = clip;
        c.symmetric = true;
        checkTensor(std::string(f) + " scale " + (micro ? "fixed" : scaleNames[s]) +
                        (clip ? " clip mse" : ""),
                    c, 9, 320, ++seed, pool);
      }
    }
  }
  // int4 with clip mse, outliers, rotation, and a large tensor (parallel row blocks).
  {
    QuantConfig c;
    c.format = "int4";
    c.symmetric = false;
    c.clipMse = true;
    c.outliers = 16;
    checkTensor("int4 asym clip mse outliers 16", c, 12, 512, ++seed, pool);
    QuantConfig r;
    r.format = "int4";
    r.rotate = true;
    r.seed = 7;
    checkTensor("int4 rotate", r, 8, 512, ++seed, pool);
    QuantConfig big;
    big.format = "int4";
    big.symmetric = false;
    checkTensor("int4 asym g128 large", big, quick ? 32 : 64, quick ? 1024 : 4096, ++seed, pool);
  }

  // ggml: legacy, k-quants, i-quants, ternary types.
  for (const GgmlTypeInfo& t : ggmlTypes()) {
    const int64_t cols = quick ? 512 : 1024;
    checkGgml(t, quick ? 4 : 8, cols, ++seed, pool);
  }

  std::printf("quant_selftest: %d cases, %d failures\n", cases, failures);
  return failures == 0 ? 0 : 1;
}
