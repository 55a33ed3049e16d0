#include "io/gguf_writer.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "io/error.h"
#include "io/model.h"
#include "quant/ggml/ggml.h"

namespace bitsmith {

namespace {

bool typeBlock(uint32_t type, int64_t& blockWeights, int64_t& blockBytes) {
  switch (type) {
    case 0:
      blockWeights = 1;
      blockBytes = 4;
      return true;  // F32
    case 1:
      blockWeights = 1;
      blockBytes = 2;
      return true;  // F16
    case 30:
      blockWeights = 1;
      blockBytes = 2;
      return true;  // BF16
    default:
      break;
  }
  for (const GgmlTypeInfo& t : ggmlTypes()) {
    if (uint32_t(t.ggmlId) == type) {
      blockWeights = t.blockWeights;
      blockBytes = t.blockBytes;
      return true;
    }
  }
  return false;
}

void putU32(std::string& s, uint32_t v) {
  for (int i = 0; i < 4; i++) s += char(uint8_t(v >> (8 * i)));
}
void putU64(std::string& s, uint64_t v) {
  for (int i = 0; i < 8; i++) s += char(uint8_t(v >> (8 * i)));
}
void putStr(std::string& s, const std::string& v) {
  putU64(s, v.size());
  s += v;
}

uint32_t typeOf(const std::string& name, const std::string& key) {
  static const char* names[] = {"u8",   "i8",     "u16",   "i16", "u32", "i32", "f32",
                                "bool", "string", "array", "u64", "i64", "f64"};
  for (uint32_t i = 0; i < 13; i++)
    if (name == names[i]) return i;
  throw ModelError("run/bad-job",
                   "GGUF metadata \"" + key + "\": unknown value type '" + name + "'");
}

// Appends one scalar value of `type`, checking that it is representable.
void putValue(std::string& s, uint32_t type, const json::Value& v, const std::string& key) {
  auto bad = [&](const std::string& why) {
    return ModelError("run/bad-job", "GGUF metadata \"" + key + "\": " + why);
  };
  if (type == kGgufString) {
    if (!v.isString()) throw bad("expected a string");
    putStr(s, v.string);
    return;
  }
  if (type == kGgufBool) {
    if (v.kind != json::Value::Bool) throw bad("expected a boolean");
    s += char(v.boolean ? 1 : 0);
    return;
  }
  if (!v.isNumber()) throw bad("expected a number");
  const double d = v.number;
  auto integer = [&](double lo, double hi) {
    if (!(d >= lo && d <= hi) || d != std::floor(d))
      throw bad("value " + std::to_string(d) + " is not representable");
  };
  switch (type) {
    case kGgufU8:
      integer(0, 255);
      s += char(uint8_t(d));
      return;
    case kGgufI8:
      integer(-128, 127);
      s += char(int8_t(d));
      return;
    case kGgufU16:
      integer(0, 65535);
      {
        uint16_t x = uint16_t(d);
        s += char(x & 0xff);
        s += char(x >> 8);
      }
      return;
    case kGgufI16:
      integer(-32768, 32767);
      {
        uint16_t x = uint16_t(int16_t(d));
        s += char(x & 0xff);
        s += char(x >> 8);
      }
      return;
    case kGgufU32:
      integer(0, 4294967295.0);
      putU32(s, uint32_t(d));
      return;
    case kGgufI32:
      integer(-2147483648.0, 2147483647.0);
      putU32(s, uint32_t(int32_t(d)));
      return;
    case kGgufU64:
      integer(0, 9007199254740992.0);
      putU64(s, v.isInt ? uint64_t(v.integer) : uint64_t(d));
      return;
    case kGgufI64:
      integer(-9007199254740992.0, 9007199254740992.0);
      putU64(s, uint64_t(v.isInt ? v.integer : int64_t(d)));
      return;
    case kGgufF32: {
      float f = float(d);
      uint32_t b;
      std::memcpy(&b, &f, 4);
      putU32(s, b);
      return;
    }
    case kGgufF64: {
      uint64_t b;
      std::memcpy(&b, &d, 8);
      putU64(s, b);
      return;
    }
    default:
      throw bad("unsupported value type");
  }
}

}  // namespace

int64_t ggmlTensorBytes(uint32_t type, const std::vector<int64_t>& ne, const std::string& tensor) {
  int64_t bw = 0, bb = 0;
  if (!typeBlock(type, bw, bb))
    throw ModelError(
        "run/internal",
        "tensor \"" + tensor + "\": ggml type " + std::to_string(type) + " is not written", tensor);
  if (ne.empty() || ne.size() > 4)
    throw ModelError("run/internal",
                     "tensor \"" + tensor + "\": GGUF tensors have 1 to 4 dimensions", tensor);
  if (ne[0] % bw != 0)
    throw ModelError("run/unsupported",
                     "tensor \"" + tensor + "\": its input dimension " + std::to_string(ne[0]) +
                         " is not a multiple of the ggml block (" + std::to_string(bw) + ")",
                     tensor);
  int64_t n = ne[0] / bw * bb;
  for (size_t i = 1; i < ne.size(); i++)
    if (!mulOk(n, ne[i], n))
      throw ModelError("run/internal", "tensor \"" + tensor + "\": size overflows", tensor);
  return n;
}

std::vector<GgufKv> parseGgufKvs(const json::Value& list) {
  std::vector<GgufKv> out;
  if (!list.isArray())
    throw ModelError("run/bad-job", "GGUF metadata must be an array of {key, type, value}");
  for (const json::Value& e : list.items) {
    const json::Value* k = e.get("key");
    const json::Value* t = e.get("type");
    const json::Value* v = e.get("value");
    if (!e.isObject() || !k || !k->isString() || k->string.empty() || !t || !t->isString() ||
        (!v && !e.get("raw")))
      throw ModelError("run/bad-job", "GGUF metadata entries need a key, a type and a value");
    GgufKv kv;
    kv.key = k->string;
    kv.type = typeOf(t->string, kv.key);
    if (const json::Value* raw = e.get("raw")) {
      // Encoded in JS (core/src/export/ggufEncode.ts): check the type words, then keep the bytes.
      auto u32At = [&](size_t at) {
        uint32_t x = 0;
        for (int i = 0; i < 4; i++) x |= uint32_t(uint8_t(raw->string[at + size_t(i)])) << (8 * i);
        return x;
      };
      const json::Value* it = e.get("itemType");
      const bool array = kv.type == kGgufArray;
      if (!raw->isString() || raw->string.size() < (array ? 16u : 4u) || u32At(0) != kv.type ||
          (array && (!it || !it->isString() || u32At(4) != typeOf(it->string, kv.key))))
        throw ModelError("run/bad-job", "GGUF metadata \"" + kv.key +
                                            "\": its encoded value does not match its type");
      if (array) kv.itemType = u32At(4);
      for (const GgufKv& o : out)
        if (o.key == kv.key)
          throw ModelError("run/bad-job", "GGUF metadata \"" + kv.key + "\" appears twice");
      kv.raw = raw->string;
      out.push_back(std::move(kv));
      continue;
    }
    if (kv.type == kGgufArray) {
      const json::Value* it = e.get("itemType");
      if (!it || !it->isString())
        throw ModelError("run/bad-job",
                         "GGUF metadata \"" + kv.key + "\": an array needs itemType");
      kv.itemType = typeOf(it->string, kv.key);
      if (kv.itemType == kGgufArray)
        throw ModelError("run/bad-job",
                         "GGUF metadata \"" + kv.key + "\": nested arrays are not written");
      if (!v->isArray())
        throw ModelError("run/bad-job", "GGUF metadata \"" + kv.key + "\": expected an array");
    }
    for (const GgufKv& o : out)
      if (o.key == kv.key)
        throw ModelError("run/bad-job", "GGUF metadata \"" + kv.key + "\" appears twice");
    kv.value = *v;
    out.push_back(std::move(kv));
  }
  return out;
}

std::vector<GgufTensor> ggufExtraTensors(const json::Value& spec) {
  std::vector<GgufTensor> out;
  const json::Value* list = spec.get("extraTensors");
  if (!list) return out;
  if (!list->isArray()) throw ModelError("run/bad-job", "GGUF extraTensors must be an array");
  for (const json::Value& e : list->items) {
    const json::Value* n = e.get("name");
    const json::Value* vs = e.get("values");
    if (!e.isObject() || !n || !n->isString() || n->string.empty() || !vs || !vs->isArray() ||
        vs->items.empty() || vs->items.size() > (size_t(1) << 20))
      throw ModelError("run/bad-job", "GGUF extra tensors need a name and 1 to 2^20 values");
    GgufTensor t;
    t.name = n->string;
    t.type = 0;  // F32
    t.ne = {int64_t(vs->items.size())};
    t.bytes = int64_t(vs->items.size()) * 4;
    t.data.reserve(size_t(t.bytes));
    for (const json::Value& x : vs->items) {
      if (!x.isNumber() || !std::isfinite(x.number))
        throw ModelError("run/bad-job",
                         "GGUF extra tensor \"" + t.name + "\": values must be finite numbers");
      const float f = float(x.number);
      uint32_t b;
      std::memcpy(&b, &f, 4);
      for (int i = 0; i < 4; i++) t.data += char(uint8_t(b >> (8 * i)));
    }
    out.push_back(std::move(t));
  }
  return out;
}

std::string ggufHeader(const std::vector<GgufKv>& kvs, const std::vector<GgufTensor>& tensors,
                       uint32_t alignment) {
  std::string s = "GGUF";
  putU32(s, 3);
  putU64(s, tensors.size());
  putU64(s, kvs.size());
  for (const GgufKv& kv : kvs) {
    putStr(s, kv.key);
    if (!kv.raw.empty()) {
      s += kv.raw;
      continue;
    }
    putU32(s, kv.type);
    if (kv.type == kGgufArray) {
      putU32(s, kv.itemType);
      putU64(s, kv.value.items.size());
      for (const json::Value& x : kv.value.items) putValue(s, kv.itemType, x, kv.key);
    } else {
      putValue(s, kv.type, kv.value, kv.key);
    }
  }
  uint64_t offset = 0;
  for (const GgufTensor& t : tensors) {
    putStr(s, t.name);
    putU32(s, uint32_t(t.ne.size()));
    for (int64_t d : t.ne) putU64(s, uint64_t(d));
    putU32(s, t.type);
    putU64(s, offset);
    offset += uint64_t(t.bytes);
    offset = (offset + alignment - 1) / alignment * alignment;
  }
  while (s.size() % alignment) s += '\0';
  return s;
}

GgufWriter::GgufWriter(std::string path, std::vector<GgufKv> kvs, std::vector<GgufTensor> tensors,
                       uint32_t alignment)
    : file_(std::move(path)),
      kvs_(std::move(kvs)),
      tensors_(std::move(tensors)),
      alignment_(alignment) {
  for (const GgufTensor& t : tensors_) {
    const int64_t want = ggmlTensorBytes(t.type, t.ne, t.name);
    if (want != t.bytes)
      throw ModelError("run/internal",
                       file_.path() + ": tensor \"" + t.name + "\" declares " +
                           std::to_string(t.bytes) + " bytes, its type and shape need " +
                           std::to_string(want),
                       t.name);
    if (!t.data.empty() && int64_t(t.data.size()) != t.bytes)
      throw ModelError("run/internal",
                       file_.path() + ": tensor \"" + t.name + "\" carries " +
                           std::to_string(t.data.size()) + " bytes, its shape needs " +
                           std::to_string(t.bytes),
                       t.name);
    if (t.name.size() >= 64)
      throw ModelError(
          "run/unsupported",
          file_.path() + ": tensor name \"" + t.name + "\" is longer than GGML_MAX_NAME - 1 (63)",
          t.name);
  }
}

GgufWriter::~GgufWriter() {
  abort();
}

// Skips finished tensors, writing the padding after each, and writes the tensors that
// carry their own data as they come up.
void GgufWriter::advance() {
  static const char zeros[64] = {0};
  while (current_ < tensors_.size() && left_ == 0) {
    const int64_t b = tensors_[current_].bytes;
    const int64_t pad = (alignment_ - b % alignment_) % alignment_;
    for (int64_t p = pad; p > 0; p -= 64) file_.write(zeros, size_t(std::min<int64_t>(p, 64)));
    if (++current_ < tensors_.size()) {
      const GgufTensor& t = tensors_[current_];
      left_ = t.bytes;
      if (!t.data.empty()) {
        file_.write(t.data.data(), t.data.size());
        left_ = 0;
      }
    }
  }
}

void GgufWriter::open() {
  const std::string header =
      ggufHeader(kvs_, tensors_, alignment_);  // validates the metadata first
  file_.open();
  file_.write(header.data(), header.size());
  current_ = 0;
  left_ = tensors_.empty() ? 0 : tensors_[0].bytes;
  if (!tensors_.empty() && !tensors_[0].data.empty()) {
    file_.write(tensors_[0].data.data(), tensors_[0].data.size());
    left_ = 0;
  }
  if (!tensors_.empty() && left_ == 0) advance();
}

void GgufWriter::write(const void* data, size_t n) {
  if (!file_.isOpen()) throw ModelError("run/write-failed", path() + ": write after close");
  const char* q = static_cast<const char*>(data);
  while (n > 0) {
    if (current_ >= tensors_.size())
      throw ModelError("run/internal", path() + ": more data written than the header declares");
    const size_t k = size_t(std::min<int64_t>(int64_t(n), left_));
    file_.write(q, k);
    q += k;
    n -= k;
    left_ -= int64_t(k);
    if (left_ == 0) advance();
  }
}

void GgufWriter::commit() {
  if (!file_.isOpen())
    throw ModelError("run/write-failed", path() + ": commit without an open file");
  if (current_ < tensors_.size())
    throw ModelError(
        "run/internal",
        path() + ": tensor \"" + tensors_[current_].name + "\" was not written completely",
        tensors_[current_].name);
  file_.commit();
}

void GgufWriter::abort() noexcept {
  file_.abort();
}

}  // namespace bitsmith
