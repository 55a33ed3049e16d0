// Reading a tensor's rows for quantization, the conversions and row permutations the
// outputs need, the output error on the calibration inputs, and the in-order delivery of
// row chunks quantized out of order.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "io/model.h"
#include "linalg/gemm.h"
#include "quant/quantize.h"
#include "quant/stored.h"
#include "run/async_writer.h"
#include "run/outputs.h"
#include "threads/pool.h"

namespace bitsmith {

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

bool sameFile(const std::string& a, const std::string& b);
[[noreturn]] void throwNonFinite(const Model& m, const TensorRef& t, int64_t r0, const float* out,
                                 int64_t n);
// The dtype output fake / compressed_tensors write a tensor's values in: the source dtype,
// except F32 for a block-quantized GGUF tensor.
DType writtenDtype(const TensorRef& t);
int64_t writtenBytes(const TensorRef& t);
// Converts rows [r0, r1) of t to f32 in parallel, and rejects NaN/Inf.
void readChunk(const Model& m, const TensorRef& t, int64_t r0, int64_t r1, float* out,
               ThreadPool& pool);
void fromF32Parallel(DType dt, const float* src, int64_t n, uint8_t* dst, ThreadPool& pool);
QuantOutput quantizeChecked(const TensorRef& ref, const float* in, int64_t rows, int64_t cols,
                            const QuantConfig& cfg, ThreadPool& pool, bool reference,
                            StoredTensor* stored = nullptr);
// llama.cpp's `llama` architecture rotates interleaved pairs (2i, 2i+1) of each head;
// Hugging Face checkpoints store q/k for rotate-half (i, i + hd/2). Row r of the HF
// tensor goes to row interleavedRow(r) of the GGUF tensor (as llama.cpp's converter does).
int64_t interleavedRow(int64_t r, int64_t rows, int64_t heads);
// dst[interleavedRow(r)] = src[r] (forward) or dst[r] = src[interleavedRow(r)] (back).
void permuteRows(const uint8_t* src, uint8_t* dst, int64_t rows, int64_t rowBytes, int64_t heads,
                 bool forward);

// Numerator and denominator of the relative output error over rows of a weight: with
// D = Q - W, sum_r d_r^T H d_r and sum_r w_r^T H w_r, as D·H and W·H (H symmetric,
// packed in f32) summed against D and W in f64.
struct OutputErr {
  double num = 0, den = 0;
};

OutputErr outputError(const float* w, const float* q, int64_t rows, int64_t n,
                      const linalg::PackedB& h, ThreadPool* pool);

// Chunks finish out of order on the workers; their output goes to the writer in order.
// A worker may start chunk k only while k < next + window, which bounds what waits here.
class Sequencer {
 public:
  Sequencer(RowChunkSink* out, int64_t window) : out_(out), window_(window) {}
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
  RowChunkSink* out_;
  int64_t window_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<int64_t, Pending> pending_;
  int64_t next_ = 0;
};

}  // namespace bitsmith
