#include "run/runner.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "forward/calibrate.h"
#include "forward/llama.h"
#include "io/error.h"
#include "io/gguf_writer.h"
#include "io/model.h"
#include "io/safetensors_writer.h"
#include "linalg/gemm.h"
#include "metrics/metrics.h"
#include "quant/ggml/ggml.h"
#include "quant/stored.h"
#include "run/async_writer.h"
#include "run/awq_run.h"
#include "run/compressed_tensors.h"
#include "run/stream_metrics.h"
#include "threads/pool.h"

#ifndef _WIN32
#include <sys/resource.h>
#endif

#ifndef BITSMITH_VERSION
#define BITSMITH_VERSION "0.0.0"
#endif

namespace fs = std::filesystem;

namespace bitsmith {

using Clock = std::chrono::steady_clock;
using json::Value;

const char* groupKindName(GroupKind k) {
  switch (k) {
    case GroupKind::Size:
      return "size";
    case GroupKind::Channel:
      return "channel";
    case GroupKind::Tensor:
      return "tensor";
  }
  return "size";
}

const char* scaleTypeName(ScaleType s) {
  switch (s) {
    case ScaleType::F16:
      return "f16";
    case ScaleType::BF16:
      return "bf16";
    case ScaleType::F32:
      return "f32";
    case ScaleType::E8M0:
      return "e8m0";
    case ScaleType::E4M3:
      return "e4m3";
  }
  return "f16";
}

bool rowLocal(const QuantConfig& c) {
  // What couples rows: a per-tensor scale (group tensor, nvfp4's global f32 scale), outliers
  // chosen over the whole tensor, and the low-rank correction. The Hadamard rotation is
  // row-local (one seeded sign per column, shared by all rows: quant/rotate.cc).
  return c.outliers == 0 && c.lowrank == 0 && c.groupKind != GroupKind::Tensor &&
         c.format != "nvfp4";
}

int64_t peakRssBytes() {
#ifndef _WIN32
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
#ifdef __APPLE__
  return int64_t(ru.ru_maxrss);
#else
  return int64_t(ru.ru_maxrss) * 1024;
#endif
#else
  return 0;
#endif
}

namespace {

template <class T>
class Buffer {
 public:
  T* get(size_t n) {
    if (n > cap_) {
      p_.reset();
      p_.reset(new T[n]);
      cap_ = n;
    }
    return p_.get();
  }
  void free() {
    p_.reset();
    cap_ = 0;
  }
  size_t capacity() const { return cap_; }

 private:
  std::unique_ptr<T[]> p_;
  size_t cap_ = 0;
};

double secondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

Value shapeValue(const std::vector<int64_t>& shape) {
  Value a = Value::array();
  for (auto d : shape) a.push(Value::of(d));
  return a;
}

std::string shapeText(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); i++) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

Value histValue(const Histogram& h) {
  Value v = Value::object();
  v.set("min", Value::of(h.min));
  v.set("max", Value::of(h.max));
  Value c = Value::array();
  for (auto x : h.counts) c.push(Value::of(int64_t(x)));
  v.set("counts", std::move(c));
  return v;
}

Value configValue(const JobTensor& t) {
  const QuantConfig& c = t.config;
  Value v = Value::object();
  v.set("format", Value::of(c.format));
  v.set("method", Value::of(t.method));
  v.set("group", Value::of(c.group));
  v.set("groupKind", Value::of(groupKindName(c.groupKind)));
  v.set("symmetric", Value::of(c.symmetric));
  v.set("scale", Value::of(scaleTypeName(c.scale)));
  if (!c.symmetric) v.set("zero", Value::of(c.zero == ZeroType::Int ? "int" : "f16"));
  if (c.clipMse) v.set("clip", Value::of("mse"));
  if (c.outliers) v.set("outliers", Value::of(c.outliers));
  if (c.lowrank) v.set("lowrank", Value::of(int64_t(c.lowrank)));
  if (c.rotate) v.set("rotate", Value::of("hadamard"));
  if (t.method == "hqq") {
    // The f32 options as the recipe wrote them (shortest decimal that round-trips).
    auto f32 = [](float x) {
      char b[32];
      std::snprintf(b, sizeof b, "%.9g", double(x));
      for (int p = 1; p <= 9; p++) {
        std::snprintf(b, sizeof b, "%.*g", p, double(x));
        if (std::strtof(b, nullptr) == x) break;
      }
      return Value::of(std::strtod(b, nullptr));
    };
    Value h = Value::object();
    h.set("iters", Value::of(int64_t(c.hqq.iters)));
    h.set("lpNorm", f32(c.hqq.lpNorm));
    h.set("beta", f32(c.hqq.beta));
    h.set("kappa", f32(c.hqq.kappa));
    v.set("hqq", std::move(h));
  }
  if (t.method == "awq") v.set("grid", Value::of(int64_t(t.awq.grid)));
  return v;
}

bool sameFile(const std::string& a, const std::string& b) {
  std::error_code ec;
  if (fs::exists(a, ec) && fs::exists(b, ec) && fs::equivalent(a, b, ec)) return true;
  return fs::absolute(a, ec).lexically_normal() == fs::absolute(b, ec).lexically_normal();
}

[[noreturn]] void throwNonFinite(const Model& m, const TensorRef& t, int64_t r0, const float* out,
                                 int64_t n);

// The dtype output fake / compressed_tensors write a tensor's values in: the source dtype,
// except F32 for a block-quantized GGUF tensor (see the writer setup in runJob).
DType writtenDtype(const TensorRef& t) {
  return t.dtype == DType::Ggml ? DType::F32 : t.dtype;
}
int64_t writtenBytes(const TensorRef& t) {
  return t.dtype == DType::Ggml ? t.elements * 4 : t.bytes;
}

// Converts rows [r0, r1) of t to f32 in parallel, and rejects NaN/Inf.
void readChunk(const Model& m, const TensorRef& t, int64_t r0, int64_t r1, float* out,
               ThreadPool& pool) {
  const int64_t cols = t.cols();
  const int64_t minRows = std::max<int64_t>(1, (int64_t(1) << 16) / std::max<int64_t>(1, cols));
  std::atomic<bool> bad{false};
  parallelFor(
      &pool, r1 - r0,
      [&](int64_t a, int64_t b) {
        if (!m.readRowsF32(t, r0 + a, r0 + b, out + a * cols))
          bad.store(true, std::memory_order_relaxed);
      },
      minRows);
  if (bad.load()) throwNonFinite(m, t, r0, out, (r1 - r0) * cols);
}

void fromF32Parallel(DType dt, const float* src, int64_t n, uint8_t* dst, ThreadPool& pool) {
  const int es = dtypeSize(dt);
  parallelFor(
      &pool, n, [&](int64_t a, int64_t b) { fromF32(dt, src + a, b - a, dst + a * es); },
      int64_t(1) << 16);
}

[[noreturn]] void throwNonFinite(const Model& m, const TensorRef& t, int64_t r0, const float* out,
                                 int64_t n) {
  const int64_t cols = t.cols();
  for (int64_t i = 0; i < n; i++) {
    if (!std::isfinite(out[i])) {
      const int64_t row = r0 + i / cols, col = i % cols;
      throw ModelError("run/non-finite",
                       m.fileOf(t).path() + ": tensor \"" + t.name + "\" has a " +
                           (std::isnan(out[i]) ? "NaN" : "infinite") + " weight at [" +
                           std::to_string(row) + ", " + std::to_string(col) +
                           "]; quantizing it would poison its group's scale. Repair the "
                           "checkpoint, or keep this tensor.",
                       t.name);
    }
  }
  throw ModelError("run/non-finite",
                   m.fileOf(t).path() + ": tensor \"" + t.name + "\" has a NaN or infinite weight",
                   t.name);
}

QuantOutput quantizeChecked(const TensorRef& ref, const float* in, int64_t rows, int64_t cols,
                            const QuantConfig& cfg, ThreadPool& pool, bool reference,
                            StoredTensor* stored = nullptr) {
  QuantOutput q;
  try {
    if (stored) {
      if (rows > 0 && cols > 0) q.dequant.resize(size_t(rows * cols));
      q.outlierCount =
          quantizeTensorInto(in, rows, cols, cfg, pool, reference, q.dequant.data(), *stored);
      q.bytes = stored->bytes();
    } else {
      q = quantizeTensor(in, rows, cols, cfg, pool, reference);
    }
  } catch (const ModelError&) {
    throw;
  } catch (const std::invalid_argument& e) {
    throw ModelError("run/unsupported", "tensor \"" + ref.name + "\": " + e.what(), ref.name);
  } catch (const std::bad_alloc&) {
    throw ModelError(
        "run/out-of-memory",
        "tensor \"" + ref.name + "\" " + shapeText(ref.shape) + ": out of memory while quantizing",
        ref.name);
  } catch (const std::exception& e) {
    throw ModelError("run/quantize-failed", "tensor \"" + ref.name + "\": " + e.what(), ref.name);
  }
  if (int64_t(q.dequant.size()) != rows * cols)
    throw ModelError("run/internal",
                     "tensor \"" + ref.name + "\": the quantizer returned " +
                         std::to_string(q.dequant.size()) + " values for " +
                         std::to_string(rows * cols),
                     ref.name);
  return q;
}

// Chunks finish out of order on the workers; their output goes to the writer in order.
// A worker may start chunk k only while k < next + window, which bounds what waits here.
class Sequencer {
 public:
  Sequencer(AsyncWriter* out, int64_t window) : out_(out), window_(window) {}
  /** Waits for chunk k's turn to start; false if the run is stopping. */
  bool admit(int64_t k, const std::atomic<bool>& stop) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return k < next_ + window_ || stop.load(); });
    return !stop.load();
  }
  void wake() { cv_.notify_all(); }
  /** Chunk k's output (owned bytes or floats; both empty without output). */
  void submit(int64_t k, std::unique_ptr<uint8_t[]> bytes, size_t n, std::vector<float> floats) {
    std::unique_lock<std::mutex> lock(mu_);
    pending_[k] = Pending{std::move(bytes), n, std::move(floats)};
    while (!pending_.empty() && pending_.begin()->first == next_) {
      Pending p = std::move(pending_.begin()->second);
      pending_.erase(pending_.begin());
      if (out_) {
        if (p.bytes)
          out_->push(std::move(p.bytes), p.n);
        else
          out_->push(std::move(p.floats));
      }
      next_++;
    }
    lock.unlock();
    cv_.notify_all();
  }

 private:
  struct Pending {
    std::unique_ptr<uint8_t[]> bytes;
    size_t n = 0;
    std::vector<float> floats;
  };
  AsyncWriter* out_;
  int64_t window_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<int64_t, Pending> pending_;
  int64_t next_ = 0;
};

// Numerator and denominator of the relative output error over rows of a weight: with
// D = Q - W, sum_r d_r^T H d_r and sum_r w_r^T H w_r, as D·H and W·H (H symmetric,
// packed in f32) summed against D and W in f64.
struct OutputErr {
  double num = 0, den = 0;
};

OutputErr outputError(const float* w, const float* q, int64_t rows, int64_t n,
                      const linalg::PackedB& h, ThreadPool* pool) {
  std::vector<float> d(size_t(rows * n)), e(size_t(rows * n));
  for (int64_t i = 0; i < rows * n; i++) d[size_t(i)] = q[i] - w[i];
  OutputErr r;
  linalg::gemmPacked(d.data(), n, rows, h, e.data(), n, pool);
  for (int64_t i = 0; i < rows * n; i++) r.num += double(e[size_t(i)]) * double(d[size_t(i)]);
  linalg::gemmPacked(w, n, rows, h, e.data(), n, pool);
  for (int64_t i = 0; i < rows * n; i++) r.den += double(e[size_t(i)]) * double(w[i]);
  return r;
}

forward::Sequences loadSequences(const SequenceSource& src, const forward::LlamaModel& lm,
                                 const std::atomic<bool>& cancel) {
  const forward::LlamaConfig& c = lm.config();
  if (src.kind == "tokens")
    return forward::readTokenFile(src.path, c.vocab, c.maxPositions, src.samples, src.length);
  if (src.kind == "text") {
    auto fail = [&](const std::string& what) {
      return ModelError("calibration/bad-tokens", src.path + ": " + what);
    };
    if (src.sequences.empty()) throw fail("the text gives no token sequences");
    for (size_t s = 0; s < src.sequences.size(); s++) {
      const auto& q = src.sequences[s];
      if (q.size() < 2)
        throw fail("window " + std::to_string(s) + " has " + std::to_string(q.size()) +
                   " tokens; at least 2 are needed");
      if (c.maxPositions > 0 && int64_t(q.size()) > c.maxPositions)
        throw fail("window " + std::to_string(s) + " has " + std::to_string(q.size()) +
                   " tokens, more than the model's " + std::to_string(c.maxPositions) +
                   " positions");
      for (size_t i = 0; i < q.size(); i++)
        if (q[i] < 0 || int64_t(q[i]) >= c.vocab)
          throw fail("window " + std::to_string(s) + ", position " + std::to_string(i) +
                     ": token id " + std::to_string(q[i]) +
                     " is outside the model's vocabulary (0.." + std::to_string(c.vocab - 1) +
                     "): does the tokenizer belong to this model?");
    }
    return src.sequences;
  }
  const int64_t samples = src.samples > 0 ? src.samples : 16;
  int64_t length = src.length > 0 ? src.length : 128;
  if (src.length <= 0 && c.maxPositions > 0) length = std::min(length, c.maxPositions);
  return forward::generateSequences(lm, samples, length, src.seed, &cancel);
}

Value sourceValue(const SequenceSource& src, const forward::Sequences& seqs) {
  int64_t tokens = 0;
  for (const auto& q : seqs) tokens += int64_t(q.size());
  Value v = Value::object();
  v.set("kind", Value::of(src.kind));
  if (src.kind == "tokens" || src.kind == "text")
    v.set("path", Value::of(src.path));
  else
    v.set("seed", Value::of(int64_t(src.seed)));
  v.set("sequences", Value::of(int64_t(seqs.size())));
  v.set("tokens", Value::of(tokens));
  return v;
}

struct Item {
  const TensorRef* ref;
  const JobTensor* job;  // null: not in the plan, copied unchanged
};

// llama.cpp's `llama` architecture rotates interleaved pairs (2i, 2i+1) of each head;
// Hugging Face checkpoints store q/k for rotate-half (i, i + hd/2). Row r of the HF
// tensor goes to row interleavedRow(r) of the GGUF tensor (as llama.cpp's converter does).
int64_t interleavedRow(int64_t r, int64_t rows, int64_t heads) {
  const int64_t hd = rows / heads, half = hd / 2;
  const int64_t h = r / hd, j = r % hd;
  return h * hd + 2 * (j % half) + j / half;
}

// dst[interleavedRow(r)] = src[r] (forward) or dst[r] = src[interleavedRow(r)] (back).
void permuteRows(const uint8_t* src, uint8_t* dst, int64_t rows, int64_t rowBytes, int64_t heads,
                 bool forward) {
  for (int64_t r = 0; r < rows; r++) {
    const int64_t g = interleavedRow(r, rows, heads);
    if (forward)
      std::memcpy(dst + g * rowBytes, src + r * rowBytes, size_t(rowBytes));
    else
      std::memcpy(dst + r * rowBytes, src + g * rowBytes, size_t(rowBytes));
  }
}

struct GgufPlan {
  std::string name;
  int64_t permuteHeads = 0;
  uint32_t type = 0;
  bool viaF32 = false;  // a kept tensor converted to F32 (F64 sources)
  bool omit = false;    // not written (a tied lm_head, rotary tables)
};

}  // namespace

json::Value runJob(const Job& job, EventSink& sink, const std::atomic<bool>& cancel) {
  const auto t0 = Clock::now();
  auto checkCancel = [&] {
    if (cancel.load(std::memory_order_relaxed))
      throw ModelError("run/cancelled", "the run was cancelled");
  };
  auto emit = [&](Value ev) {
    if (!sink.emit(std::move(ev)))
      throw ModelError("run/cancelled",
                       "the run was cancelled (no one is listening to its events)");
  };

  std::unique_ptr<Model> model = Model::open(job.model);

  // Re-validate the plan against the model before anything runs.
  std::vector<Item> items;
  std::unordered_set<std::string> named;
  for (const JobTensor& jt : job.tensors) {
    if (!named.insert(jt.name).second)
      throw ModelError("run/bad-job", "tensor \"" + jt.name + "\" appears twice in the job",
                       jt.name);
    const TensorRef* ref = model->find(jt.name);
    if (!ref)
      throw ModelError("run/tensor-missing",
                       model->path + ": tensor \"" + jt.name +
                           "\" of the plan is not in the model (was the model changed?)",
                       jt.name);
    if (ref->shape != jt.shape)
      throw ModelError("run/shape-mismatch",
                       model->path + ": tensor \"" + jt.name + "\" has shape " +
                           shapeText(ref->shape) + " in the model but " + shapeText(jt.shape) +
                           " in the plan (was the model changed?)",
                       jt.name);
    if (jt.quantize) {
      model->requireReadable(*ref);
      // gptq and awq need the whole X^T X; an imatrix is its diagonal.
      if ((jt.method == "gptq" || jt.method == "awq") && job.imatrix.enabled() &&
          !job.calibration.enabled())
        throw ModelError("run/needs-hessian",
                         "tensor \"" + jt.name + "\": method " + jt.method +
                             " needs the full Hessian X^T X; an imatrix has only its diagonal " +
                             "(use calibration generated or calibration tokens)",
                         jt.name);
      if (jt.method == "gptq" || jt.method == "awq") {
        if (!job.calibration.enabled())
          throw ModelError("run/needs-calibration",
                           "tensor \"" + jt.name + "\": method " + jt.method +
                               " needs calibration (calibration generated, tokens or text)",
                           jt.name);
      } else if (jt.method != "rtn" && jt.method != "hqq") {  // hqq: QuantConfig::hqq (quant/hqq.h)
        throw ModelError("run/unsupported",
                         "tensor \"" + jt.name + "\": method " + jt.method +
                             " is not executed yet (only rtn, gptq, hqq and awq)",
                         jt.name);
      }
      if (ref->elements == 0)
        throw ModelError("run/bad-job", "tensor \"" + jt.name + "\" has no elements to quantize",
                         jt.name);
    }
    items.push_back({ref, &jt});
  }
  for (const TensorRef& ref : model->tensors)
    if (!named.count(ref.name)) items.push_back({&ref, nullptr});

  int64_t params = 0, bytesIn = 0;
  for (const Item& it : items) {
    params += it.ref->elements;
    bytesIn += it.ref->bytes;
  }

  const bool ct = job.output && job.outputKind == "compressed_tensors";
  // Declared before the writer: removed (unless committed) after the writer's temporary file.
  std::unique_ptr<OutputFolder> folder;
  std::unique_ptr<SafetensorsWriter> writer;
  if (job.output) {
    for (const auto& f : model->files) {
      if (sameFile(f->path(), job.outputPath) ||
          (ct && sameFile(fs::path(f->path()).parent_path().string(), job.outputPath)))
        throw ModelError("run/output-is-input", job.outputPath +
                                                    ": the output would overwrite the model " +
                                                    (ct ? "folder" : "file") + " it reads");
    }
    std::vector<OutTensor> outs;
    Value formats = Value::object();
    for (const Item& it : items) {
      // safetensors cannot hold ggml blocks: a block-quantized GGUF tensor is written as its
      // decoded values in F32 (exact: every block decodes to f32 products of f16 scales and
      // small integers), kept or quantized alike.
      if (it.ref->dtype == DType::Ggml) model->requireReadable(*it.ref);
      if (ct && it.job && it.job->quantize) {
        const std::string why = ctProblem(it.ref->name, it.ref->shape, it.job->config);
        if (!why.empty())
          throw ModelError("run/unsupported", "tensor \"" + it.ref->name + "\": " + why,
                           it.ref->name);
        for (OutTensor& o : ctTensors(it.ref->name, it.ref->rows(), it.ref->cols(), it.job->config))
          outs.push_back(std::move(o));
      } else {
        outs.push_back(
            {it.ref->name, dtypeName(writtenDtype(*it.ref)), it.ref->shape, writtenBytes(*it.ref)});
      }
      const bool decoded = it.ref->dtype == DType::Ggml;
      formats.set(it.ref->name,
                  it.job && it.job->quantize
                      ? configValue(*it.job)
                      : Value::of(decoded ? "keep: " + it.ref->dtypeName + " blocks decoded to F32"
                                          : std::string("keep")));
    }
    Value meta = Value::object();
    meta.set("format", Value::of("pt"));
    meta.set("bitsmith.version", Value::of(BITSMITH_VERSION));
    meta.set("bitsmith.kind",
             Value::of(ct ? "compressed-tensors"
                          : "fake-quant: weights dequantized to their source dtype"));
    meta.set("bitsmith.source", Value::of(model->path));
    for (const auto& [k, v] : job.outputMetadata.members)
      if (v.isString()) meta.set(k, v);
    meta.set("bitsmith.tensors", Value::of(json::stringify(formats)));
    std::string file = job.outputPath;
    if (ct) {
      folder = std::make_unique<OutputFolder>(job.outputPath);
      folder->open();
      file = (fs::path(folder->temp()) / "model.safetensors").string();
    }
    writer = std::make_unique<SafetensorsWriter>(file, std::move(outs), std::move(meta));
    writer->open();
  }
  std::unique_ptr<GgufWriter> gguf;
  std::vector<GgufPlan> ggufPlans(items.size());
  if (job.gguf) {
    for (const auto& f : model->files)
      if (sameFile(f->path(), job.ggufPath))
        throw ModelError("run/output-is-input",
                         job.ggufPath + ": the output would overwrite the model file it reads");
    if (job.output && sameFile(job.outputPath, job.ggufPath))
      throw ModelError("run/bad-job",
                       job.ggufPath + ": output fake and output gguf name the same file");
    const Value* specTensors = job.ggufSpec.get("tensors");
    const Value* specMeta = job.ggufSpec.get("metadata");
    std::vector<GgufKv> kvs = parseGgufKvs(specMeta ? *specMeta : Value::array());
    if (const Value* cp = job.ggufSpec.get("copySourceMetadata");
        cp && cp->kind == Value::Bool && cp->boolean) {
      // A GGUF source: its key/values first (architecture parameters, tokenizer, ...), byte
      // for byte, except those the spec sets.
      std::unordered_set<std::string> ours;
      for (const GgufKv& kv : kvs) ours.insert(kv.key);
      std::vector<GgufKv> all;
      for (const auto& [key, raw] : model->ggufKvs) {
        if (ours.count(key)) continue;
        GgufKv kv;
        kv.key = key;
        kv.raw = raw;
        all.push_back(std::move(kv));
      }
      for (GgufKv& kv : kvs) all.push_back(std::move(kv));
      kvs = std::move(all);
    }
    std::vector<GgufTensor> outs = ggufExtraTensors(job.ggufSpec);  // rope_freqs: first
    std::unordered_set<std::string> ggufNames;
    for (const GgufTensor& t : outs) ggufNames.insert(t.name);
    for (size_t i = 0; i < items.size(); i++) {
      const TensorRef& ref = *items[i].ref;
      const JobTensor* jt = items[i].job;
      GgufPlan& gp = ggufPlans[i];
      const Value* ts = specTensors ? specTensors->get(ref.name) : nullptr;
      if (const Value* om = ts ? ts->get("omit") : nullptr;
          om && om->kind == Value::Bool && om->boolean) {
        gp.omit = true;
        continue;
      }
      const Value* nm = ts ? ts->get("name") : nullptr;
      if (!nm || !nm->isString() || nm->string.empty())
        throw ModelError(
            "run/unsupported",
            job.ggufPath + ": tensor \"" + ref.name +
                "\" has no llama.cpp name; output gguf writes Llama-family models only",
            ref.name);
      gp.name = nm->string;
      if (!ggufNames.insert(gp.name).second)
        throw ModelError("run/bad-job",
                         job.ggufPath + ": two tensors would be named \"" + gp.name + "\"",
                         ref.name);
      if (const Value* ph = ts->get("permuteHeads"); ph && ph->isNumber() && ph->number > 0) {
        gp.permuteHeads = int64_t(ph->number);
        if (ref.shape.size() != 2 || ref.rows() % (2 * gp.permuteHeads) != 0)
          throw ModelError("run/bad-job",
                           "tensor \"" + ref.name + "\" " + shapeText(ref.shape) +
                               ": its rows cannot be split into " +
                               std::to_string(gp.permuteHeads) + " heads of rotary pairs",
                           ref.name);
      }
      if (jt && jt->quantize) {
        const QuantConfig& c = jt->config;
        const GgmlTypeInfo* gt = findGgmlType(c.format);
        if (!gt)
          throw ModelError("run/unsupported",
                           job.ggufPath + ": tensor \"" + ref.name + "\" is quantized to " +
                               c.format +
                               ", which GGUF cannot store (ggml block types only: q4_0 ... q6_k, "
                               "iq4_nl, iq4_xs)",
                           ref.name);
        if (c.outliers || c.lowrank || c.rotate)
          throw ModelError("run/unsupported",
                           job.ggufPath + ": tensor \"" + ref.name +
                               "\": GGUF cannot store outliers, lowrank or rotate",
                           ref.name);
        gp.type = uint32_t(gt->ggmlId);
      } else {
        switch (ref.dtype) {
          case DType::F32:
            gp.type = 0;
            break;
          case DType::F16:
          case DType::BF16:
            // Norms and 1-D tensors as F32 when the spec says so: llama.cpp computes with them in
            // F32.
            if (const Value* f = ts->get("f32"); f && f->kind == Value::Bool && f->boolean) {
              gp.type = 0;
              gp.viaF32 = true;
            } else {
              gp.type = ref.dtype == DType::F16 ? 1 : 30;
            }
            break;
          case DType::F64:
            gp.type = 0;
            gp.viaF32 = true;
            break;
          case DType::Ggml: {
            // A kept block-quantized tensor of a GGUF source: copied as it is.
            std::string lower = ref.dtypeName;
            for (auto& ch : lower) ch = char(std::tolower(static_cast<unsigned char>(ch)));
            if (const GgmlTypeInfo* gt = findGgmlType(lower); gt && !gp.permuteHeads) {
              gp.type = uint32_t(gt->ggmlId);
              break;
            }
            throw ModelError("run/unsupported",
                             model->fileOf(ref).path() + ": tensor \"" + ref.name +
                                 "\" is stored as " + ref.dtypeName +
                                 ", which output gguf does not copy",
                             ref.name);
          }
          default:
            throw ModelError("run/unsupported",
                             model->fileOf(ref).path() + ": tensor \"" + ref.name +
                                 "\" is stored as " + ref.dtypeName +
                                 ", which output gguf does not write",
                             ref.name);
        }
      }
      GgufTensor t;
      t.name = gp.name;
      t.ne.assign(ref.shape.rbegin(), ref.shape.rend());
      if (t.ne.empty()) t.ne.push_back(1);
      t.type = gp.type;
      t.bytes = ggmlTensorBytes(t.type, t.ne, ref.name);
      outs.push_back(std::move(t));
    }
    gguf = std::make_unique<GgufWriter>(job.ggufPath, std::move(kvs), std::move(outs), 32);
    gguf->open();
  }
  // Declared after `writer` (and `model`): destroyed first, so its thread is gone before
  // the temporary file is removed and the model unmapped.
  std::unique_ptr<AsyncWriter> async;
  if (writer) async = std::make_unique<AsyncWriter>(*writer, size_t(64) << 20);
  const Model* mp = model.get();

  ThreadPool pool(job.threads);
  {
    Value ev = Value::object();
    ev.set("type", Value::of("start"));
    ev.set("tensors", Value::of(int64_t(items.size())));
    ev.set("params", Value::of(params));
    ev.set("bytesIn", Value::of(bytesIn));
    ev.set("model", Value::of(model->path));
    ev.set("modelFormat", Value::of(model->format));
    ev.set("threads", Value::of(pool.size()));
    ev.set("output", job.output ? Value::of(job.outputPath) : Value::null());
    if (job.gguf) ev.set("gguf", Value::of(job.ggufPath));
    emit(std::move(ev));
  }

  // The forward pass, for calibration (Hessians before quantizing) and evaluation.
  std::unique_ptr<forward::LlamaModel> original;
  std::unique_ptr<forward::HessianCollector> hessians;
  std::map<const forward::Hessian*, linalg::PackedB> packedH;  // f32 copies for output error
  if (job.calibration.enabled() || job.evaluate.enabled()) {
    const forward::LlamaConfig fc = forward::readConfig(*model);
    original = std::make_unique<forward::LlamaModel>(*model, fc, &pool);
  }
  if (job.calibration.enabled()) {
    const auto tc = Clock::now();
    forward::Sequences seqs = loadSequences(job.calibration, *original, cancel);
    hessians = std::make_unique<forward::HessianCollector>(original->config(), &pool);
    forward::collectHessians(*original, seqs, *hessians, &cancel);
    Value ev = Value::object();
    ev.set("type", Value::of("calibration"));
    ev.set("source", sourceValue(job.calibration, seqs));
    ev.set("hessians", Value::of(int64_t(hessians->hessians().size())));
    ev.set("seconds", Value::of(secondsSince(tc)));
    emit(std::move(ev));
    if (!job.evaluate.enabled()) original.reset();  // the Hessians are all quantizing needs
  }
  AwqRun awq;  // method awq: the scales per input site, searched before any tensor is written
  {
    std::vector<AwqRunTensor> awqTensors;
    std::unordered_set<std::string> quantizedNames;
    for (const Item& it : items) {
      if (it.job && it.job->quantize) quantizedNames.insert(it.ref->name);
      if (it.job && it.job->quantize && it.job->method == "awq")
        awqTensors.push_back({it.ref, it.job});
    }
    if (!awqTensors.empty()) {
      const forward::LlamaConfig fc = forward::readConfig(*model);
      awq = awqSearchSites(*model, awqTensors, *hessians, pool, job.reference, ct || job.gguf,
                           quantizedNames, AwqHeads{fc.heads, fc.kvHeads}, cancel);
    }
  }
  // Per-input-channel importance for the searches (and, with an imatrix only, the
  // diagonal output error).
  std::unique_ptr<Importance> importance;
  if (job.imatrix.enabled()) {
    const auto ti = Clock::now();
    std::vector<std::pair<std::string, int64_t>> quantized;
    for (const Item& it : items)
      if (it.job && it.job->quantize) quantized.emplace_back(it.ref->name, it.ref->cols());
    importance = Importance::fromImatrix(job.imatrix, quantized);
    emit(importance->event(secondsSince(ti)));
  } else if (hessians) {
    importance = Importance::fromHessians(*hessians);
  }
  // Dequantized weights kept for the evaluation's fake-quantized model.
  std::unordered_map<std::string, std::vector<float>> fake;

  StreamMetrics streamMetrics(pool.size());
  Buffer<float> inBuf;
  std::vector<Buffer<float>> workerBufs(size_t(pool.size()));
  int64_t bytesOut = 0, quantized = 0;

  for (size_t index = 0; index < items.size(); index++) {
    checkCancel();
    const TensorRef& ref = *items[index].ref;
    const JobTensor* jt = items[index].job;
    const bool quantize = jt && jt->quantize;
    const auto ts = Clock::now();
    {
      Value ev = Value::object();
      ev.set("type", Value::of("tensor-start"));
      ev.set("index", Value::of(int64_t(index)));
      ev.set("name", Value::of(ref.name));
      emit(std::move(ev));
    }
    const int64_t rows = ref.rows(), cols = ref.cols();
    Value ev = Value::object();
    ev.set("type", Value::of("tensor"));
    ev.set("index", Value::of(int64_t(index)));
    ev.set("name", Value::of(ref.name));
    ev.set("shape", shapeValue(ref.shape));
    ev.set("dtype", Value::of(ref.dtypeName));

    if (!quantize) {
      // method awq with an output of codes: this norm weight is written as g / s (run/awq_run.h);
      // the fake-quant output keeps it as it is.
      const auto fold = awq.norms.find(ref.name);
      const bool folded = fold != awq.norms.end() && (gguf || ct);
      if (folded) {
        const std::vector<uint8_t> b = awqFoldedNorm(*model, ref, *fold->second);
        if (gguf && !ggufPlans[index].omit && ggufPlans[index].viaF32) {
          std::vector<float> f(size_t(ref.elements));
          toF32(ref.dtype, b.data(), ref.elements, f.data());
          gguf->write(f.data(), f.size() * 4);
        } else if (gguf && !ggufPlans[index].omit) {
          gguf->write(b.data(), b.size());
        }
        if (ct && async) {
          std::unique_ptr<uint8_t[]> o(new uint8_t[b.size()]);
          std::memcpy(o.get(), b.data(), b.size());
          async->push(std::move(o), b.size());
        }
      }
      if (gguf && !folded && ref.elements > 0 && !ggufPlans[index].omit) {
        const GgufPlan& gp = ggufPlans[index];
        if (gp.viaF32) {
          std::vector<float> f(size_t(ref.elements));
          if (!model->readRowsF32(ref, 0, rows, f.data()))
            throwNonFinite(*model, ref, 0, f.data(), ref.elements);
          std::vector<float> g(f.size());
          if (gp.permuteHeads)
            permuteRows(reinterpret_cast<const uint8_t*>(f.data()),
                        reinterpret_cast<uint8_t*>(g.data()), rows, cols * 4, gp.permuteHeads,
                        true);
          else
            g.swap(f);
          gguf->write(g.data(), g.size() * 4);
        } else {
          std::unique_ptr<uint8_t[]> tmp(new uint8_t[size_t(ref.bytes)]);
          model->readRowsRaw(ref, 0, rows, tmp.get());
          if (gp.permuteHeads) {
            std::unique_ptr<uint8_t[]> p(new uint8_t[size_t(ref.bytes)]);
            permuteRows(tmp.get(), p.get(), rows, ref.rowBytes(), gp.permuteHeads, true);
            tmp.swap(p);
          }
          gguf->write(tmp.get(), size_t(ref.bytes));
        }
      }
      if (async && ref.bytes > 0 && ref.dtype == DType::Ggml && !(folded && ct)) {
        // Decoded to F32 a chunk at a time (whole rows: the blocks never straddle rows).
        const int64_t chunkRows =
            std::max<int64_t>(1, (int64_t(4) << 20) / std::max<int64_t>(1, cols));
        for (int64_t r0 = 0; r0 < rows; r0 += chunkRows) {
          checkCancel();
          const int64_t r1 = std::min(rows, r0 + chunkRows);
          std::vector<float> f(size_t((r1 - r0) * cols));
          model->readRowsF32(
              ref, r0, r1,
              f.data());  // a non-finite value is copied as it is, like any kept weight
          model->release(ref, r0, r1);
          async->push(std::move(f));
        }
      } else if (async && ref.bytes > 0 && !(folded && ct)) {
        const int64_t rb = ref.rowBytes();
        const int64_t chunkRows =
            std::max<int64_t>(1, (int64_t(8) << 20) / std::max<int64_t>(1, rb));
        const uint8_t* base = model->fileOf(ref).data() + ref.offset;
        const TensorRef* rp = &ref;
        if (ref.permuteHeads <= 0) {
          // Straight from the map to the file; pages are dropped once written.
          for (int64_t r0 = 0; r0 < rows; r0 += chunkRows) {
            checkCancel();
            const int64_t r1 = std::min(rows, r0 + chunkRows);
            async->pushBorrowed(base + r0 * rb, size_t((r1 - r0) * rb),
                                [mp, rp, r0, r1] { mp->release(*rp, r0, r1); });
          }
        } else {
          std::unique_ptr<uint8_t[]> tmp(new uint8_t[size_t(ref.bytes)]);
          model->readRowsRaw(ref, 0, rows, tmp.get());
          model->release(ref, 0, rows);
          async->push(std::move(tmp), size_t(ref.bytes));
        }
      }
      ev.set("action", Value::of("keep"));
      ev.set("format", Value::of("keep"));
      ev.set("bpw", Value::of(ref.elements ? 8.0 * double(ref.bytes) / double(ref.elements) : 0.0));
      ev.set("bytesIn", Value::of(ref.bytes));
      ev.set("bytesOut", Value::of(ref.bytes));
      ev.set("seconds", Value::of(secondsSince(ts)));
      bytesOut += ref.bytes;
      emit(std::move(ev));
      continue;
    }

    QuantConfig cfgW = jt->config;
    if (importance && jt->method == "rtn") cfgW.importance = importance->forTensor(ref.name, cols);
    const QuantConfig& cfg = cfgW;
    const linalg::PackedB* hq = nullptr;
    const forward::Hessian* hGptq = nullptr;
    if (jt->method == "gptq") {
      hGptq = hessians ? hessians->forTensor(ref.name) : nullptr;
      if (!hGptq || hGptq->n != cols)
        throw ModelError(
            "run/needs-calibration",
            "tensor \"" + ref.name +
                "\": method gptq needs the Hessian of the tensor's input, which the forward pass " +
                "collects for the q/k/v/o/gate/up/down projections only",
            ref.name);
    }
    if (hessians) {
      const forward::Hessian* h = hessians->forTensor(ref.name);
      if (h && h->n == cols && rows > 0) {
        auto it = packedH.find(h);
        if (it == packedH.end()) {
          std::vector<float> hf(h->h.begin(), h->h.end());
          it = packedH.emplace(h, linalg::PackedB()).first;
          linalg::packB(hf.data(), cols, cols, cols, it->second, &pool);
        }
        hq = &it->second;
      }
    }
    // Without the full Hessian: the diagonal estimate of the output error from the imatrix.
    const float* diagD = !hq && importance && importance->kind() == "imatrix"
                             ? importance->forTensor(ref.name, cols)
                             : nullptr;
    std::vector<float>* keep = nullptr;
    if (job.evaluate.enabled()) {
      keep = &fake[ref.name];
      keep->assign(size_t(rows * cols), 0.0f);
    }
    const auto awqIt = awq.tensors.find(ref.name);
    const AwqSiteChoice* aw = awqIt == awq.tensors.end() ? nullptr : awqIt->second.get();
    const auto awqRows =
        awq.rows.find(ref.name);  // up_proj under a fold: down_proj's 1/s in its rows
    const float* awqRowScale =
        awqRows == awq.rows.end() ? nullptr : awqRows->second->choice.s.data();
    OutputErr outErr;
    int64_t chunkRows = rows;
    if (job.chunkElements > 0 && rowLocal(cfg) && cols > 0 && !ct && !hGptq && !gguf && !aw) {
      int64_t r = job.chunkElements / cols;
      // Multiples of 40 rows keep every packed component byte-aligned per chunk (b-bit codes
      // and zeros: 8 rows; ternary's 5 trits per byte: 5 rows), so the chunks' byte counts
      // add up exactly to the whole tensor's.
      r = std::max<int64_t>(40, r / 40 * 40);
      if (r < rows) chunkRows = r;
    }
    const bool streamed = chunkRows < rows;
    TensorMetrics metrics;
    QuantBytes bytes;
    int64_t outlierCount = 0;
    const DType outDtype = writtenDtype(ref);
    const int es = dtypeSize(outDtype);
    if (streamed) {
      // Row chunks are independent: each worker takes the next chunk and runs it end to
      // end (read, quantize, measure, convert) on its own core; outputs are written in order.
      const int64_t chunks = (rows + chunkRows - 1) / chunkRows;
      const int workers = int(std::min<int64_t>(pool.size(), chunks));
      streamMetrics.reset(chunks);
      std::vector<QuantBytes> chunkBytes(static_cast<size_t>(chunks));
      std::vector<int64_t> chunkOutliers(size_t(chunks), 0);
      std::vector<OutputErr> chunkOut(static_cast<size_t>(chunks));
      Sequencer sequencer(async.get(), 4 * int64_t(workers));
      std::atomic<int64_t> nextChunk{0};
      std::atomic<bool> stop{false};
      try {
        parallelFor(
            &pool, workers,
            [&](int64_t w0, int64_t w1) {
              for (int64_t slot = w0; slot < w1; slot++) {
                Buffer<float>& buf = workerBufs[size_t(slot)];
                try {
                  for (;;) {
                    if (stop.load() || cancel.load(std::memory_order_relaxed)) return;
                    const int64_t k = nextChunk.fetch_add(1);
                    if (k >= chunks) return;
                    if (!sequencer.admit(k, stop)) return;
                    const int64_t r0 = k * chunkRows, r1 = std::min(rows, r0 + chunkRows),
                                  n = (r1 - r0) * cols;
                    float* in = buf.get(size_t(n));
                    if (!model->readRowsF32(ref, r0, r1, in))
                      throwNonFinite(*model, ref, r0, in, n);
                    QuantOutput q =
                        quantizeChecked(ref, in, r1 - r0, cols, cfg, pool, job.reference);
                    streamMetrics.add(int(slot), k, in, q.dequant.data(), n);
                    chunkBytes[size_t(k)] = q.bytes;
                    chunkOutliers[size_t(k)] = q.outlierCount;
                    if (hq)
                      chunkOut[size_t(k)] =
                          outputError(in, q.dequant.data(), r1 - r0, cols, *hq, nullptr);
                    else if (diagD)
                      std::tie(chunkOut[size_t(k)].num, chunkOut[size_t(k)].den) =
                          diagonalOutputError(in, q.dequant.data(), r1 - r0, cols, diagD);
                    if (keep)
                      std::memcpy(keep->data() + r0 * cols, q.dequant.data(),
                                  size_t(n) * sizeof(float));
                    model->release(ref, r0, r1);
                    if (!async)
                      sequencer.submit(k, nullptr, 0, {});
                    else if (outDtype == DType::F32)
                      sequencer.submit(k, nullptr, 0, std::move(q.dequant));
                    else {
                      std::unique_ptr<uint8_t[]> out(new uint8_t[size_t(n) * size_t(es)]);
                      fromF32(outDtype, q.dequant.data(), n, out.get());
                      sequencer.submit(k, std::move(out), size_t(n) * size_t(es), {});
                    }
                  }
                } catch (...) {
                  stop.store(true);
                  sequencer.wake();
                  throw;
                }
              }
            },
            1);
      } catch (...) {
        stop.store(true);
        throw;
      }
      checkCancel();
      for (int64_t k = 0; k < chunks; k++) {
        const QuantBytes& b = chunkBytes[size_t(k)];
        bytes.codes += b.codes;
        bytes.scales += b.scales;
        bytes.zeros += b.zeros;
        bytes.outliers += b.outliers;
        bytes.lowrank += b.lowrank;
        bytes.extra += b.extra;
        outlierCount += chunkOutliers[size_t(k)];
        outErr.num += chunkOut[size_t(k)].num;
        outErr.den += chunkOut[size_t(k)].den;
      }
      metrics = streamMetrics.finish();
    } else {
      // One piece: the quantizer and the metrics use the whole pool.
      float* in = inBuf.get(size_t(rows * cols));
      readChunk(*model, ref, 0, rows, in, pool);
      QuantOutput q;
      StoredTensor stored;  // the codes as stored: GGUF blocks, compressed-tensors packing
      // GPTQ's stored form has RTN's layout and byte counts (the same grids, scales, zeros
      // or ggml block headers, fitted by the same rules) with GPTQ's codes: the
      // compressed-tensors and GGUF writers take it as they take RTN's.
      auto quantize = [&](const float* x) {
        if (!hGptq)
          return quantizeChecked(ref, x, rows, cols, cfg, pool, job.reference,
                                 (ct || gguf) ? &stored : nullptr);
        GptqOptions o = jt->gptq;
        o.reference = job.reference;
        QuantOutput g;
        try {
          g.dequant = gptqQuantize(x, rows, cols, hGptq->h.data(), cfg, o, &pool, &stored);
        } catch (const std::invalid_argument& e) {
          throw ModelError("run/unsupported", "tensor \"" + ref.name + "\": " + e.what(), ref.name);
        } catch (const std::bad_alloc&) {
          throw ModelError(
              "run/out-of-memory",
              "tensor \"" + ref.name + "\" " + shapeText(ref.shape) + ": out of memory in gptq",
              ref.name);
        }
        g.bytes = stored.bytes();
        return g;
      };
      if (gguf && !ggufPlans[index].omit) {
        // The GGUF blocks are the quantizer's stored codes; q/k rows are permuted first so
        // the blocks hold llama.cpp's row order (ggml blocks are row-local: the same rows
        // quantize to the same blocks in any order, so the reconstruction, put back in the
        // source order, is what the fake-quant output holds; GPTQ's rows are independent
        // too, its Hessian being over the columns).
        const GgufPlan& gp = ggufPlans[index];
        // method awq: the blocks are those of W diag(s) (1/s is in the norm before), and the
        // reconstruction is divided by s back (columns: the row permutation commutes).
        std::vector<float> scaled;
        const float* src = in;
        if (aw) {
          scaled.resize(size_t(rows * cols));
          quant::awqScaleInput(in, rows, cols, aw->choice.s.data(), awqRowScale, scaled.data(),
                               &pool);
          src = scaled.data();
        }
        if (gp.permuteHeads) {
          std::vector<float> pin(size_t(rows * cols));
          permuteRows(reinterpret_cast<const uint8_t*>(src), reinterpret_cast<uint8_t*>(pin.data()),
                      rows, cols * 4, gp.permuteHeads, true);
          q = quantize(pin.data());
          std::vector<float> back(q.dequant.size());
          permuteRows(reinterpret_cast<const uint8_t*>(q.dequant.data()),
                      reinterpret_cast<uint8_t*>(back.data()), rows, cols * 4, gp.permuteHeads,
                      false);
          q.dequant.swap(back);
        } else {
          q = quantize(src);
        }
        if (aw)
          quant::awqUnscale(q.dequant.data(), rows, cols, aw->choice.s.data(), awqRowScale, &pool);
        if (int64_t(stored.codes.size()) !=
                int64_t(rows) * int64_t(ggmlRowBytes(findGgmlType(cfg.format)->type, cols)) ||
            stored.bytes().total() != int64_t(stored.codes.size()))
          throw ModelError(
              "run/internal",
              "tensor \"" + ref.name + "\": the quantizer produced " +
                  std::to_string(stored.codes.size()) + " block bytes, the GGUF layout needs " +
                  std::to_string(rows *
                                 int64_t(ggmlRowBytes(findGgmlType(cfg.format)->type, cols))),
              ref.name);
        gguf->write(stored.codes.data(), stored.codes.size());
      } else if (aw) {
        q = awqQuantize(ref, in, rows, cols, cfg, *aw, pool, job.reference, ct ? &stored : nullptr,
                        awqRowScale);
      } else {
        q = quantize(in);
      }
      bytes = q.bytes;
      outlierCount = q.outlierCount;
      metrics = computeMetrics(in, q.dequant.data(), rows * cols, &pool);
      if (hq)
        outErr = outputError(in, q.dequant.data(), rows, cols, *hq, &pool);
      else if (diagD)
        std::tie(outErr.num, outErr.den) =
            diagonalOutputError(in, q.dequant.data(), rows, cols, diagD);
      if (keep) std::memcpy(keep->data(), q.dequant.data(), size_t(rows * cols) * sizeof(float));
      model->release(ref, 0, rows);
      if (async && ct) {
        for (Bytes& b : ctConvert(ref.name, rows, cols, cfg, stored)) {
          std::unique_ptr<uint8_t[]> out(new uint8_t[b.size() ? b.size() : 1]);
          if (!b.empty()) std::memcpy(out.get(), b.data(), b.size());
          async->push(std::move(out), b.size());
        }
      } else if (async) {
        if (outDtype == DType::F32) {
          async->push(std::move(q.dequant));
        } else {
          const int64_t n = rows * cols;
          std::unique_ptr<uint8_t[]> out(new uint8_t[size_t(n) * size_t(es)]);
          fromF32Parallel(outDtype, q.dequant.data(), n, out.get(), pool);
          async->push(std::move(out), size_t(n) * size_t(es));
        }
      }
    }
    if (!streamed &&
        inBuf.capacity() > size_t(std::max<int64_t>(job.chunkElements, int64_t(1) << 22))) {
      // A whole-tensor pass of a large tensor: give the memory back.
      inBuf.free();
    }
    const int64_t total = bytes.total();
    bytesOut += total;
    quantized++;
    ev.set("action", Value::of("quantize"));
    ev.set("format", Value::of(cfg.format));
    ev.set("method", Value::of(jt->method));
    ev.set("config", configValue(*jt));
    ev.set("bpw", Value::of(8.0 * double(total) / double(ref.elements)));
    ev.set("bytesIn", Value::of(ref.bytes));
    ev.set("bytesOut", Value::of(total));
    Value b = Value::object();
    b.set("codes", Value::of(bytes.codes));
    b.set("scales", Value::of(bytes.scales));
    b.set("zeros", Value::of(bytes.zeros));
    b.set("outliers", Value::of(bytes.outliers));
    b.set("lowrank", Value::of(bytes.lowrank));
    b.set("extra", Value::of(bytes.extra));
    ev.set("bytes", std::move(b));
    ev.set("relError", Value::of(metrics.relError));
    ev.set("squaredError", Value::of(metrics.squaredError));
    ev.set("sqnrDb", Value::of(metrics.sqnrDb));
    ev.set("maxAbsError", Value::of(metrics.maxAbsError));
    ev.set("cosine", Value::of(metrics.cosine));
    if (hq || diagD) {
      // Relative output error on the calibration inputs, and its SQNR.
      ev.set("outputError", Value::of(outErr.den > 0 ? outErr.num / outErr.den : 0.0));
      ev.set("outputErrorSum", Value::of(outErr.num));  // tr(dW H dW^T): additive across tensors
      ev.set("outputSqnrDb", Value::of(outErr.num > 0 ? 10.0 * std::log10(outErr.den / outErr.num)
                                                      : std::numeric_limits<double>::infinity()));
      ev.set("outputErrorKind", Value::of(hq ? "hessian" : "diagonal"));
    }
    if (aw) ev.set("awq", awqEventValue(*aw));
    if (cfg.importance) ev.set("importance", Value::of(importance->kind()));
    ev.set("outliers", Value::of(outlierCount));
    ev.set("chunks", Value::of((rows + chunkRows - 1) / std::max<int64_t>(1, chunkRows)));
    ev.set("seconds", Value::of(secondsSince(ts)));
    ev.set("weightHist", histValue(metrics.weightHist));
    ev.set("errorHist", histValue(metrics.errorHist));
    ev.set("dequantHist", histValue(metrics.dequantHist));
    emit(std::move(ev));
  }

  checkCancel();
  if (async) async->finish();
  checkCancel();
  if (job.evaluate.enabled()) {
    const auto te = Clock::now();
    hessians.reset();
    packedH.clear();
    forward::LlamaModel::Overrides ov;
    for (const auto& [name, v] : fake) ov[name] = v.data();
    forward::LlamaModel quantized(*model, original->config(), &pool, &ov);
    fake.clear();
    forward::Sequences seqs = loadSequences(job.evaluate, *original, cancel);
    const forward::Evaluation e = forward::evaluate(*original, quantized, seqs, &cancel);
    Value ev = Value::object();
    ev.set("type", Value::of("evaluation"));
    ev.set("source", sourceValue(job.evaluate, seqs));
    ev.set("sequences", Value::of(e.sequences));
    ev.set("tokens", Value::of(e.tokens));
    ev.set("perplexityOriginal", Value::of(e.perplexityOriginal));
    ev.set("perplexityQuantized", Value::of(e.perplexityQuantized));
    ev.set("nllOriginal", Value::of(e.nllOriginal));
    ev.set("nllQuantized", Value::of(e.nllQuantized));
    ev.set("klMean", Value::of(e.klMean));
    ev.set("klP99", Value::of(e.klP99));
    ev.set("klMax", Value::of(e.klMax));
    ev.set("top1Agreement", Value::of(e.top1Agreement));
    ev.set("seconds", Value::of(secondsSince(te)));
    emit(std::move(ev));
  }
  checkCancel();
  if (gguf) gguf->commit();
  if (writer) writer->commit();
  if (folder) {
    checkCancel();
    folder->writeText("config.json", job.outputConfig);
    for (const auto& [from, name] : job.outputCopies) {
      checkCancel();
      folder->copyFile(from, name);
    }
    checkCancel();
    folder->commit();
  }
  Value done = Value::object();
  done.set("type", Value::of("done"));
  Value totals = Value::object();
  totals.set("tensors", Value::of(int64_t(items.size())));
  totals.set("quantized", Value::of(quantized));
  totals.set("params", Value::of(params));
  totals.set("bytesIn", Value::of(bytesIn));
  totals.set("bytesOut", Value::of(bytesOut));
  totals.set("bpw", Value::of(params ? 8.0 * double(bytesOut) / double(params) : 0.0));
  totals.set("seconds", Value::of(secondsSince(t0)));
  totals.set("peakRssBytes", Value::of(peakRssBytes()));
  done.set("totals", std::move(totals));
  done.set("output", job.output ? Value::of(job.outputPath) : Value::null());
  if (job.gguf) done.set("gguf", Value::of(job.ggufPath));
  done.set("threads", Value::of(pool.size()));
  emit(done);
  return done;
}

}  // namespace bitsmith
