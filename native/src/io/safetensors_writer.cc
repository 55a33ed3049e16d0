#include "io/safetensors_writer.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "io/error.h"

#ifdef _WIN32
#include <io.h>
#include <process.h>
#include <fcntl.h>
#include <sys/stat.h>
#define getpid _getpid
#else
#include <fcntl.h>
#include <unistd.h>
#endif

namespace fs = std::filesystem;

namespace bitsmith {

std::string safetensorsHeader(const std::vector<OutTensor>& tensors, const json::Value& metadata) {
  std::string h = "{";
  bool first = true;
  if (metadata.isObject() && !metadata.members.empty()) {
    h += "\"__metadata__\":";
    h += json::stringify(metadata);
    first = false;
  }
  int64_t offset = 0;
  for (const auto& t : tensors) {
    if (!first) h += ",";
    first = false;
    json::appendString(h, t.name);
    h += ":{\"dtype\":";
    json::appendString(h, t.dtype);
    h += ",\"shape\":[";
    for (size_t i = 0; i < t.shape.size(); i++) {
      if (i) h += ",";
      h += std::to_string(t.shape[i]);
    }
    h += "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + t.bytes) + "]}";
    offset += t.bytes;
  }
  h += "}";
  while ((8 + h.size()) % 8 != 0) h += ' ';
  return h;
}

SafetensorsWriter::SafetensorsWriter(std::string path, std::vector<OutTensor> tensors, json::Value metadata)
    : path_(std::move(path)), tensors_(std::move(tensors)), metadata_(std::move(metadata)) {}

SafetensorsWriter::~SafetensorsWriter() { abort(); }

void SafetensorsWriter::fail(const std::string& what, int err) {
  std::string msg = path_ + ": cannot " + what + " (" + std::strerror(err) + ")";
  abort();
  throw ModelError("run/write-failed", msg);
}

void SafetensorsWriter::open() {
  static std::atomic<unsigned> counter{0};
  fs::path p(path_);
  fs::path dir = p.parent_path();
  std::error_code ec;
  if (!dir.empty() && !fs::is_directory(dir, ec))
    throw ModelError("run/write-failed", path_ + ": the output folder " + dir.string() + " does not exist");
  for (int attempt = 0; attempt < 100 && fd_ < 0; attempt++) {
    temp_ = (dir / ("." + p.filename().string() + ".bitsmith-" + std::to_string(getpid()) + "-" + std::to_string(counter++) + ".tmp")).string();
#ifdef _WIN32
    fd_ = ::_open(temp_.c_str(), _O_WRONLY | _O_CREAT | _O_EXCL | _O_BINARY, _S_IREAD | _S_IWRITE);
#else
    fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
#endif
    if (fd_ < 0 && errno != EEXIST) {
      int e = errno;
      temp_.clear();
      throw ModelError("run/write-failed", path_ + ": cannot create a temporary file in " + dir.string() + " (" + std::strerror(e) + ")");
    }
  }
  if (fd_ < 0) throw ModelError("run/write-failed", path_ + ": cannot create a temporary file");
  const std::string header = safetensorsHeader(tensors_, metadata_);
  uint8_t len[8];
  uint64_t n = header.size();
  for (int i = 0; i < 8; i++) len[i] = uint8_t(n >> (8 * i));
  current_ = 0;
  leftInCurrent_ = tensors_.empty() ? 0 : tensors_[0].bytes;
  while (current_ < tensors_.size() && leftInCurrent_ == 0 && ++current_ < tensors_.size()) leftInCurrent_ = tensors_[current_].bytes;
  const uint64_t saved = written_;
  // The header goes through the same path as data, without counting against tensors.
  auto raw = [&](const void* d, size_t k) {
    const char* q = static_cast<const char*>(d);
    while (k > 0) {
#ifdef _WIN32
      int w = ::_write(fd_, q, unsigned(k > (1u << 30) ? (1u << 30) : k));
#else
      ssize_t w = ::write(fd_, q, k > (size_t(1) << 30) ? (size_t(1) << 30) : k);
#endif
      if (w < 0) {
        if (errno == EINTR) continue;
        fail("write", errno);
      }
      q += w;
      k -= size_t(w);
    }
  };
  raw(len, 8);
  raw(header.data(), header.size());
  written_ = saved;
}

void SafetensorsWriter::write(const void* data, size_t n) {
  if (fd_ < 0) throw ModelError("run/write-failed", path_ + ": write after close");
  const char* q = static_cast<const char*>(data);
  size_t left = n;
  while (left > 0) {
    if (current_ >= tensors_.size())
      throw ModelError("run/internal", path_ + ": more data written than the header declares");
    size_t k = size_t(std::min<int64_t>(int64_t(left), leftInCurrent_));
    size_t done = 0;
    while (done < k) {
      size_t chunk = std::min<size_t>(k - done, size_t(1) << 30);
#ifdef _WIN32
      int w = ::_write(fd_, q + done, unsigned(chunk));
#else
      ssize_t w = ::write(fd_, q + done, chunk);
#endif
      if (w < 0) {
        if (errno == EINTR) continue;
        fail("write", errno);
      }
      done += size_t(w);
    }
    q += k;
    left -= k;
    written_ += k;
    leftInCurrent_ -= int64_t(k);
    while (current_ < tensors_.size() && leftInCurrent_ == 0) {
      if (++current_ < tensors_.size()) leftInCurrent_ = tensors_[current_].bytes;
    }
  }
}

void SafetensorsWriter::commit() {
  if (fd_ < 0) throw ModelError("run/write-failed", path_ + ": commit without an open file");
  if (current_ < tensors_.size())
    throw ModelError("run/internal", path_ + ": tensor \"" + tensors_[current_].name + "\" was not written completely", tensors_[current_].name);
#ifdef _WIN32
  int rc = ::_close(fd_);
#else
  int rc = ::close(fd_);
#endif
  fd_ = -1;
  if (rc != 0) fail("close", errno);
  std::error_code ec;
  fs::rename(temp_, path_, ec);
  if (ec) {
    std::string msg = path_ + ": cannot rename the finished file into place (" + ec.message() + ")";
    abort();
    throw ModelError("run/write-failed", msg);
  }
  committed_ = true;
  temp_.clear();
}

void SafetensorsWriter::abort() noexcept {
  if (fd_ >= 0) {
#ifdef _WIN32
    ::_close(fd_);
#else
    ::close(fd_);
#endif
    fd_ = -1;
  }
  if (!committed_ && !temp_.empty()) {
    std::remove(temp_.c_str());
    temp_.clear();
  }
}

}  // namespace bitsmith
