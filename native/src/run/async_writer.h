// Writes the output on its own thread so that the kernel's copy into the page cache
// overlaps the quantization of the next chunk. Items are owned buffers; at most `maxBytes`
// are in flight, after which push() waits. The first write error is rethrown by the next push()
// or by finish(). Destroying it without finish() discards what is queued.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "io/safetensors_writer.h"

namespace bitsmith {

class AsyncWriter {
 public:
  AsyncWriter(SafetensorsWriter& out, size_t maxBytes);
  ~AsyncWriter();
  AsyncWriter(const AsyncWriter&) = delete;
  AsyncWriter& operator=(const AsyncWriter&) = delete;

  /** Queues an owned buffer of n bytes. */
  void push(std::unique_ptr<uint8_t[]> data, size_t n);
  /** Queues an owned vector of floats (written as its bytes). */
  void push(std::vector<float>&& values);
  /** Waits until everything queued is written; rethrows a write error. */
  void finish();

 private:
  struct Item {
    std::unique_ptr<uint8_t[]> owned;
    std::vector<float> values;
    const uint8_t* data = nullptr;
    size_t n = 0;
  };
  void enqueue(Item item);
  void loop();
  void rethrow();

  SafetensorsWriter& out_;
  size_t maxBytes_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;
  size_t inFlight_ = 0;
  bool stop_ = false;
  bool busy_ = false;
  std::exception_ptr error_;
  std::thread thread_;
};

}  // namespace bitsmith
