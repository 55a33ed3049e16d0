#include "run/tensor_stage.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <tuple>

#include "io/error.h"
#include "metrics/metrics.h"
#include "quant/gptq.h"
#include "run/async_writer.h"
#include "run/describe.h"
#include "run/events.h"
#include "run/runner.h"
#include "threads/pool.h"

namespace bitsmith {

using json::Value;
using Clock = std::chrono::steady_clock;

namespace {

// The bytes a tensor produced must be the plan's: checked as each tensor finishes, so a
// mismatch fails the run before any output is renamed into place.
void checkPlannedBytes(const JobTensor* jt, const std::string& name, int64_t bytes) {
  if (jt && jt->expectedBytes >= 0 && jt->expectedBytes != bytes)
    throw ModelError("run/internal",
                     "tensor \"" + name + "\": the plan says " + std::to_string(jt->expectedBytes) +
                         " bytes, the backend produced " + std::to_string(bytes) +
                         " (no output was replaced)",
                     name);
}
double secondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}
}  // namespace

TensorStage::TensorStage(const Job& job, const Model& model, ThreadPool& pool, RunEvents& events,
                         Outputs& outputs)
    : job_(job),
      model_(model),
      pool_(pool),
      events_(events),
      outputs_(outputs),
      streamMetrics_(pool.size()),
      workerBufs_(size_t(pool.size())) {}

QuantConfig TensorStage::configFor(const JobTensor& jt, const Importance* importance,
                                   int64_t cols) {
  QuantConfig c = jt.config;
  if (importance && jt.method == Method::Rtn) c.importance = importance->forTensor(jt.name, cols);
  return c;
}

void TensorStage::keepTensor(size_t index, const TensorRef& ref, const TensorCalibration& cal) {
  const auto ts = Clock::now();
  // method awq with an output of codes: this norm weight is written as g / s (run/awq_run.h);
  // the fake-quant output keeps it as it is.
  std::vector<uint8_t> folded;
  bool isFolded = false;
  if (cal.awq && outputs_.storesCodes()) {
    const auto fold = cal.awq->norms.find(ref.name);
    if (fold != cal.awq->norms.end()) {
      folded = awqFoldedNorm(model_, ref, *fold->second);
      isFolded = true;
    }
  }
  outputs_.keep(index, ref, isFolded ? &folded : nullptr, events_);
  Value ev = Value::object();
  ev.set("type", Value::of("tensor"));
  ev.set("index", Value::of(int64_t(index)));
  ev.set("name", Value::of(ref.name));
  ev.set("shape", shapeValue(ref.shape));
  ev.set("dtype", Value::of(ref.dtypeName));
  ev.set("action", Value::of("keep"));
  ev.set("format", Value::of("keep"));
  ev.set("bpw", Value::of(ref.elements ? 8.0 * double(ref.bytes) / double(ref.elements) : 0.0));
  ev.set("bytesIn", Value::of(ref.bytes));
  ev.set("bytesOut", Value::of(ref.bytes));
  ev.set("seconds", Value::of(secondsSince(ts)));
  bytesOut_ += ref.bytes;
  events_.emit(std::move(ev));
}

void TensorStage::run(size_t index, const Item& item, const TensorCalibration& cal,
                      std::vector<float>* keep) {
  events_.checkCancel();
  const TensorRef& ref = *item.ref;
  const JobTensor* jt = item.job;
  {
    Value ev = Value::object();
    ev.set("type", Value::of("tensor-start"));
    ev.set("index", Value::of(int64_t(index)));
    ev.set("name", Value::of(ref.name));
    events_.emit(std::move(ev));
  }
  if (!jt || !jt->quantize) {
    checkPlannedBytes(jt, ref.name, ref.bytes);
    keepTensor(index, ref, cal);
    return;
  }
  const auto ts = Clock::now();
  const int64_t rows = ref.rows(), cols = ref.cols();
  const forward::HessianCollector* hessians = cal.hessians;
  const Importance* importance = cal.importance;
  const AwqRun* awq = cal.awq;
  RowChunkSink* rowChunks = outputs_.any() ? outputs_.rowChunks(index) : nullptr;
  const bool noOutput = !outputs_.any();
  Value ev = Value::object();
  ev.set("type", Value::of("tensor"));
  ev.set("index", Value::of(int64_t(index)));
  ev.set("name", Value::of(ref.name));
  ev.set("shape", shapeValue(ref.shape));
  ev.set("dtype", Value::of(ref.dtypeName));
  QuantConfig cfgW = configFor(*jt, importance, cols);
  const QuantConfig& cfg = cfgW;
  const linalg::PackedB* hq = nullptr;
  const forward::Hessian* hGptq = nullptr;
  if (jt->method == Method::Gptq) {
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
      auto it = packedH_.find(h);
      if (it == packedH_.end()) {
        std::vector<float> hf(h->h.begin(), h->h.end());
        it = packedH_.emplace(h, linalg::PackedB()).first;
        linalg::packB(hf.data(), cols, cols, cols, it->second, &pool_);
      }
      hq = &it->second;
    }
  }
  // Without the full Hessian: the diagonal estimate of the output error from the imatrix.
  const float* diagD = !hq && importance && importance->kind() == "imatrix"
                           ? importance->forTensor(ref.name, cols)
                           : nullptr;
  if (keep) keep->assign(size_t(rows * cols), 0.0f);
  const auto awqIt = awq ? awq->tensors.find(ref.name) : AwqChoices::const_iterator();
  const AwqSiteChoice* aw = !awq || awqIt == awq->tensors.end() ? nullptr : awqIt->second.get();
  // up_proj under a fold: down_proj's 1/s in its rows
  const float* awqRowScale = nullptr;
  if (awq) {
    const auto awqRows = awq->rows.find(ref.name);
    if (awqRows != awq->rows.end()) awqRowScale = awqRows->second->choice.s.data();
  }
  OutputErr outErr;
  int64_t chunkRows = rows;
  if (job_.chunkElements > 0 && rowLocal(cfg) && cols > 0 && (rowChunks || noOutput) && !hGptq &&
      !aw) {
    int64_t r = job_.chunkElements / cols;
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
    const int workers = int(std::min<int64_t>(pool_.size(), chunks));
    streamMetrics_.reset(chunks);
    std::vector<QuantBytes> chunkBytes(static_cast<size_t>(chunks));
    std::vector<int64_t> chunkOutliers(size_t(chunks), 0);
    std::vector<OutputErr> chunkOut(static_cast<size_t>(chunks));
    Sequencer sequencer(rowChunks, 4 * int64_t(workers));
    std::atomic<int64_t> nextChunk{0};
    std::atomic<bool> stop{false};
    try {
      parallelFor(
          &pool_, workers,
          [&](int64_t w0, int64_t w1) {
            for (int64_t slot = w0; slot < w1; slot++) {
              Buffer<float>& buf = workerBufs_[size_t(slot)];
              try {
                for (;;) {
                  if (stop.load() || events_.cancelFlag().load(std::memory_order_relaxed)) return;
                  const int64_t k = nextChunk.fetch_add(1);
                  if (k >= chunks) return;
                  if (!sequencer.admit(k, stop)) return;
                  const int64_t r0 = k * chunkRows, r1 = std::min(rows, r0 + chunkRows),
                                n = (r1 - r0) * cols;
                  float* in = buf.get(size_t(n));
                  if (!model_.readRowsF32(ref, r0, r1, in)) throwNonFinite(model_, ref, r0, in, n);
                  StoredTensor stored;
                  const bool codes = rowChunks && rowChunks->wantsStored();
                  QuantOutput q = quantizeChecked(ref, in, r1 - r0, cols, cfg, pool_,
                                                  job_.reference, codes ? &stored : nullptr);
                  streamMetrics_.add(int(slot), k, in, q.dequant.data(), n);
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
                  model_.release(ref, r0, r1);
                  if (!rowChunks) {
                    sequencer.submit(k, nullptr, 0, {});
                  } else if (codes) {
                    const size_t nb = stored.codes.size();
                    std::unique_ptr<uint8_t[]> out(new uint8_t[nb ? nb : 1]);
                    if (nb) std::memcpy(out.get(), stored.codes.data(), nb);
                    sequencer.submit(k, std::move(out), nb, {});
                  } else if (outDtype == DType::F32)
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
    events_.checkCancel();
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
    metrics = streamMetrics_.finish();
  } else {
    // One piece: the quantizer and the metrics use the whole pool.
    float* in = inBuf_.get(size_t(rows * cols));
    readChunk(model_, ref, 0, rows, in, pool_);
    QuantOutput q;
    StoredTensor stored;  // the codes as stored: GGUF blocks, compressed-tensors packing
    StoredTensor* st = outputs_.needsStored() ? &stored : nullptr;
    // GPTQ's stored form has RTN's layout and byte counts (the same grids, scales, zeros
    // or ggml block headers, fitted by the same rules) with GPTQ's codes: the
    // compressed-tensors and GGUF writers take it as they take RTN's.
    if (aw) {
      q = awqQuantize(ref, in, rows, cols, cfg, *aw, pool_, job_.reference, st, awqRowScale);
    } else if (hGptq) {
      GptqOptions o = jt->gptq;
      o.reference = job_.reference;
      o.cancel = &events_.cancelFlag();
      try {
        q.dequant = gptqQuantize(in, rows, cols, hGptq->h.data(), cfg, o, &pool_, &stored);
      } catch (const std::invalid_argument& e) {
        throw ModelError("run/unsupported", "tensor \"" + ref.name + "\": " + e.what(), ref.name);
      } catch (const std::bad_alloc&) {
        throw ModelError(
            "run/out-of-memory",
            "tensor \"" + ref.name + "\" " + shapeText(ref.shape) + ": out of memory in gptq",
            ref.name);
      }
      events_.checkCancel();
      q.bytes = stored.bytes();
    } else {
      q = quantizeChecked(ref, in, rows, cols, cfg, pool_, job_.reference, st);
    }
    bytes = q.bytes;
    outlierCount = q.outlierCount;
    metrics = computeMetrics(in, q.dequant.data(), rows * cols, &pool_);
    if (hq)
      outErr = outputError(in, q.dequant.data(), rows, cols, *hq, &pool_);
    else if (diagD)
      std::tie(outErr.num, outErr.den) =
          diagonalOutputError(in, q.dequant.data(), rows, cols, diagD);
    if (keep) std::memcpy(keep->data(), q.dequant.data(), size_t(rows * cols) * sizeof(float));
    model_.release(ref, 0, rows);
    outputs_.quantized(index, ref, cfg, q.dequant, stored, pool_);
  }
  if (!streamed &&
      inBuf_.capacity() > size_t(std::max<int64_t>(job_.chunkElements, int64_t(1) << 22))) {
    // A whole-tensor pass of a large tensor: give the memory back.
    inBuf_.free();
  }
  const int64_t total = bytes.total();
  checkPlannedBytes(jt, ref.name, total);
  bytesOut_ += total;
  quantized_++;
  ev.set("action", Value::of("quantize"));
  ev.set("format", Value::of(cfg.format));
  ev.set("method", Value::of(methodName(jt->method)));
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
  events_.emit(std::move(ev));
}

}  // namespace bitsmith
