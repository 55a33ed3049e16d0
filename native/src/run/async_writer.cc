#include "run/async_writer.h"

namespace bitsmith {

AsyncWriter::AsyncWriter(SafetensorsWriter& out, size_t maxBytes) : out_(out), maxBytes_(maxBytes) {
  thread_ = std::thread([this] { loop(); });
}

AsyncWriter::~AsyncWriter() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    queue_.clear();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void AsyncWriter::rethrow() {
  if (error_) std::rethrow_exception(error_);
}

void AsyncWriter::enqueue(Item item) {
  std::unique_lock<std::mutex> lock(mu_);
  // Wait for room (an item larger than the limit goes alone).
  cv_.wait(lock, [&] { return error_ || inFlight_ == 0 || inFlight_ + item.n <= maxBytes_; });
  rethrow();
  inFlight_ += item.n;
  queue_.push_back(std::move(item));
  lock.unlock();
  cv_.notify_all();
}

void AsyncWriter::push(std::unique_ptr<uint8_t[]> data, size_t n) {
  Item it;
  it.data = data.get();
  it.owned = std::move(data);
  it.n = n;
  enqueue(std::move(it));
}

void AsyncWriter::push(std::vector<float>&& values) {
  Item it;
  it.n = values.size() * sizeof(float);
  it.values = std::move(values);
  it.data = reinterpret_cast<const uint8_t*>(it.values.data());
  enqueue(std::move(it));
}

void AsyncWriter::finish() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return error_ || (queue_.empty() && !busy_); });
  rethrow();
}

void AsyncWriter::loop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (stop_) return;
    Item it = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    lock.unlock();
    std::exception_ptr err;
    try {
      if (!error_) out_.write(it.data, it.n);
    } catch (...) {
      err = std::current_exception();
    }
    it.owned.reset();
    std::vector<float>().swap(it.values);
    lock.lock();
    busy_ = false;
    if (err && !error_) error_ = err;
    inFlight_ -= it.n;
    cv_.notify_all();
  }
}

}  // namespace bitsmith
