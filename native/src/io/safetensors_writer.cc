#include "io/safetensors_writer.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "io/error.h"

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
    h += "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + t.bytes) +
         "]}";
    offset += t.bytes;
  }
  h += "}";
  while ((8 + h.size()) % 8 != 0) h += ' ';
  return h;
}

SafetensorsWriter::SafetensorsWriter(std::string path, std::vector<OutTensor> tensors,
                                     json::Value metadata)
    : file_(std::move(path)), tensors_(std::move(tensors)), metadata_(std::move(metadata)) {}

SafetensorsWriter::~SafetensorsWriter() {
  abort();
}

void SafetensorsWriter::open() {
  file_.open();
  const std::string header = safetensorsHeader(tensors_, metadata_);
  uint8_t len[8];
  uint64_t n = header.size();
  for (int i = 0; i < 8; i++) len[i] = uint8_t(n >> (8 * i));
  current_ = 0;
  leftInCurrent_ = tensors_.empty() ? 0 : tensors_[0].bytes;
  while (current_ < tensors_.size() && leftInCurrent_ == 0 && ++current_ < tensors_.size())
    leftInCurrent_ = tensors_[current_].bytes;
  // The header does not count against the tensors.
  file_.write(len, 8);
  file_.write(header.data(), header.size());
}

void SafetensorsWriter::write(const void* data, size_t n) {
  if (!file_.isOpen()) throw ModelError("run/write-failed", path() + ": write after close");
  const char* q = static_cast<const char*>(data);
  size_t left = n;
  while (left > 0) {
    if (current_ >= tensors_.size())
      throw ModelError("run/internal", path() + ": more data written than the header declares");
    size_t k = size_t(std::min<int64_t>(int64_t(left), leftInCurrent_));
    file_.write(q, k);
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
  if (!file_.isOpen())
    throw ModelError("run/write-failed", path() + ": commit without an open file");
  if (current_ < tensors_.size())
    throw ModelError(
        "run/internal",
        path() + ": tensor \"" + tensors_[current_].name + "\" was not written completely",
        tensors_[current_].name);
  file_.commit();
}

void SafetensorsWriter::abort() noexcept {
  file_.abort();
}

}  // namespace bitsmith
