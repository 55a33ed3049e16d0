#include "threads/pool.h"

#include <algorithm>

namespace bitsmith {

namespace {
thread_local bool tInsideChunk = false;
}

int ThreadPool::defaultThreads() {
  const unsigned hc = std::thread::hardware_concurrency();
  return hc == 0 ? 1 : int(hc);
}

ThreadPool::ThreadPool(int threads) : threads_(threads <= 0 ? defaultThreads() : threads) {
  workers_.reserve(size_t(threads_ - 1));
  for (int i = 1; i < threads_; ++i) workers_.emplace_back([this] { workerLoop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::work(Job& job) {
  const bool saved = tInsideChunk;
  tInsideChunk = true;
  for (;;) {
    const int64_t c = job.next.fetch_add(1, std::memory_order_relaxed);
    if (c >= job.chunks) break;
    if (!job.failed.load(std::memory_order_relaxed)) {
      const int64_t b = job.n * c / job.chunks;
      const int64_t e = job.n * (c + 1) / job.chunks;
      try {
        job.call(job.ctx, b, e);
      } catch (...) {
        std::lock_guard<std::mutex> lock(job.errorMutex);
        if (!job.error) job.error = std::current_exception();
        job.failed.store(true, std::memory_order_relaxed);
      }
    }
    job.pending.fetch_sub(1, std::memory_order_acq_rel);
  }
  tInsideChunk = saved;
}

void ThreadPool::workerLoop() {
  uint64_t seen = 0;
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    wake_.wait(lock, [&] { return stop_ || (job_ != nullptr && generation_ != seen); });
    if (stop_) return;
    seen = generation_;
    Job* job = job_;
    ++active_;
    lock.unlock();
    work(*job);
    lock.lock();
    if (--active_ == 0) done_.notify_all();
  }
}

void ThreadPool::run(int64_t n, int64_t minChunk, void* ctx, Call call) {
  if (n <= 0) return;
  if (minChunk < 1) minChunk = 1;
  const int64_t maxChunks = (n + minChunk - 1) / minChunk;
  const int64_t chunks = std::min<int64_t>(maxChunks, int64_t(threads_) * 4);
  if (threads_ <= 1 || chunks <= 1 || tInsideChunk) {
    const bool saved = tInsideChunk;
    tInsideChunk = true;
    struct Restore {
      bool v;
      ~Restore() { tInsideChunk = v; }
    } restore{saved};
    call(ctx, 0, n);
    return;
  }
  std::lock_guard<std::mutex> runLock(runMutex_);
  Job job;
  job.ctx = ctx;
  job.call = call;
  job.n = n;
  job.chunks = chunks;
  job.pending.store(chunks);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job_ = &job;
    ++generation_;
  }
  wake_.notify_all();
  work(job);
  {
    std::unique_lock<std::mutex> lock(mutex_);
    // Every chunk was claimed (work() returns only then); wait until the claimed ones are
    // finished and no worker still holds a pointer to this stack-allocated job.
    done_.wait(lock,
               [&] { return job.pending.load(std::memory_order_acquire) == 0 && active_ == 0; });
    job_ = nullptr;
  }
  if (job.error) std::rethrow_exception(job.error);
}

}  // namespace bitsmith
