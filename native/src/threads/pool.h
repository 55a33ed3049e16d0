// A small fork-join thread pool. parallelFor(n, f) splits [0, n) into contiguous chunks,
// calls f(begin, end) for each on the pool's threads and on the calling thread, and
// returns when all are done. The first exception thrown by f is rethrown to the caller
// (chunks not yet started are skipped). A parallelFor issued from inside a chunk runs
// serially on that thread; concurrent callers of one pool are serialised.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace bitsmith {

class ThreadPool {
 public:
  // threads <= 0: std::thread::hardware_concurrency() (at least 1). The pool starts
  // threads - 1 workers: the caller is the remaining one.
  explicit ThreadPool(int threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return threads_; }

  // f(int64_t begin, int64_t end). Chunks hold at least minChunk indices (except the
  // last); there are at most 4 chunks per thread, claimed dynamically.
  template <class F>
  void parallelFor(int64_t n, F&& f, int64_t minChunk = 1) {
    using Fn = std::remove_reference_t<F>;
    run(n, minChunk, const_cast<void*>(static_cast<const void*>(&f)),
        [](void* ctx, int64_t b, int64_t e) { (*static_cast<Fn*>(ctx))(b, e); });
  }

  static int defaultThreads();

 private:
  using Call = void (*)(void*, int64_t, int64_t);
  struct Job {
    void* ctx;
    Call call;
    int64_t n;
    int64_t chunks;
    std::atomic<int64_t> next{0};
    std::atomic<int64_t> pending{0};
    std::atomic<bool> failed{false};
    std::exception_ptr error;
    std::mutex errorMutex;
  };
  void run(int64_t n, int64_t minChunk, void* ctx, Call call);
  void work(Job& job);
  void workerLoop();

  int threads_;
  std::vector<std::thread> workers_;
  std::mutex runMutex_;  // one parallelFor at a time
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  Job* job_ = nullptr;
  uint64_t generation_ = 0;
  int active_ = 0;  // workers currently inside job_
  bool stop_ = false;
};

// Runs f over [0, n) on the pool, or serially on this thread when pool is null.
template <class F>
void parallelFor(ThreadPool* pool, int64_t n, F&& f, int64_t minChunk = 1) {
  if (n <= 0) return;
  if (pool == nullptr || pool->size() <= 1) {
    f(int64_t(0), n);
    return;
  }
  pool->parallelFor(n, std::forward<F>(f), minChunk);
}

}  // namespace bitsmith
