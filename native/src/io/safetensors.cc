// safetensors: u64 little-endian header length N, N bytes of UTF-8 JSON
// {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}}, then
// the data section; offsets are relative to its start (8 + N).
#include <algorithm>
#include <unordered_set>

#include "io/error.h"
#include "io/model.h"

namespace bitsmith {

static constexpr uint64_t kMaxHeader = 100ull * 1024 * 1024;  // as core/src/models/safetensors.ts
static constexpr int64_t kMaxSafe = (int64_t(1) << 53);
static constexpr size_t kMaxDims = 64;  // no real tensor has more

static std::string shapeText(const json::Value& v) {
  std::string s = json::stringify(v);
  return s.size() > 80 ? s.substr(0, 77) + "..." : s;
}

void readSafetensorsInto(Model& m, const std::string& file, const std::vector<std::string>* only) {
  auto mf = std::make_unique<InputFile>(file);
  const uint64_t size = mf->size();
  if (size < 8)
    throw ModelError("model/truncated",
                     file + ": file ends while reading the 8-byte header length (file has " +
                         std::to_string(size) + " bytes)");
  uint8_t len[8];
  mf->read(0, len, 8);
  uint64_t n = 0;
  for (int i = 7; i >= 0; i--) n = (n << 8) | len[i];
  if (n > kMaxHeader)
    throw ModelError("model/header-too-large",
                     file + ": safetensors header claims " + std::to_string(n) + " bytes (limit " +
                         std::to_string(kMaxHeader) + "); not a safetensors file or corrupt");
  if (8 + n > size)
    throw ModelError("model/truncated", file + ": file ends while reading the " +
                                            std::to_string(n) + "-byte JSON header (file has " +
                                            std::to_string(size) + " bytes)");
  json::Value root;
  {
    const std::string text = mf->readString(8, size_t(n));
    json::ParseError err;
    if (!json::parse(text.data(), text.size(), root, err)) {
      if (err.badString && err.keyDepth == 1) {
        // A top-level key is a tensor name: refused as a name, shown as written.
        const std::string shown = json::quotedForMessage(text.data(), text.size(), err.stringStart);
        const bool surrogate = err.message.find("surrogate") != std::string::npos;
        throw ModelError("model/bad-json",
                         file + ": tensor name " + shown + " at byte " +
                             std::to_string(8 + err.stringStart) +
                             (surrogate ? " holds an unpaired surrogate escape (not valid Unicode)"
                                        : " is not valid UTF-8"),
                         shown.substr(1, shown.size() - 2));
      }
      // Inside a tensor's entry: named, as the other errors are.
      const bool tensor = err.inMember && err.member != "__metadata__";
      throw ModelError(err.tooLarge ? "model/header-too-large" : "model/bad-json",
                       file + ": invalid safetensors JSON header" +
                           (tensor ? " in the entry of tensor " + quotedName(err.member) : "") +
                           ": " + err.message + " (of the header, which starts at byte 8)",
                       tensor ? err.member : std::string());
    }
  }
  if (!root.isObject())
    throw ModelError("model/bad-header", file + ": safetensors header must be a JSON object");
  if (m.tensors.size() + root.members.size() > kMaxTensors + 1)
    throw ModelError("model/header-too-large", file + ": the header lists " +
                                                   std::to_string(root.members.size()) +
                                                   " tensors (the model may have at most " +
                                                   std::to_string(kMaxTensors) + ")");

  const uint64_t dataStart = 8 + n;
  const uint64_t dataSize = size - dataStart;
  const int fileIndex = int(m.files.size());
  std::unordered_set<std::string> seen;
  struct Range {
    int64_t begin, end;
    std::string name;
  };
  std::vector<Range> ranges;
  std::vector<TensorRef> found;

  for (const auto& [name, entry] : root.members) {
    if (name != "__metadata__") checkTensorName(file, name);
    if (!seen.insert(name).second)
      throw ModelError("model/bad-header",
                       file + ": " + (name == "__metadata__" ? "key " : "tensor ") +
                           quotedName(name) + " appears twice in the header",
                       name == "__metadata__" ? std::string() : name);
    if (name == "__metadata__") {
      if (!entry.isObject())
        throw ModelError("model/bad-header",
                         file + ": \"__metadata__\" must be an object of strings");
      for (const auto& [k, v] : entry.members)
        if (!v.isString())
          throw ModelError("model/bad-header",
                           file + ": \"__metadata__\" value for \"" + k + "\" is not a string");
      if (m.files.empty()) m.metadata = entry;
      continue;
    }
    const std::string where = file + ": tensor " + quotedName(name);
    if (!entry.isObject())
      throw ModelError("model/bad-header", where + ": entry must be an object", name);
    const json::Value* dt = entry.get("dtype");
    const json::Value* shape = entry.get("shape");
    const json::Value* offs = entry.get("data_offsets");
    if (!dt || !dt->isString())
      throw ModelError("model/bad-header", where + ": missing string \"dtype\"", name);
    TensorRef t;
    t.name = name;
    if (!parseDtype(dt->string, t.dtype))
      throw ModelError("model/unknown-dtype", where + ": unknown dtype \"" + dt->string + "\"",
                       name);
    t.dtypeName = dt->string;
    if (!shape || !shape->isArray())
      throw ModelError("model/bad-shape",
                       where + ": shape must be a list of non-negative integers, got " +
                           (shape ? shapeText(*shape) : "nothing"),
                       name);
    if (shape->items.size() > kMaxDims)
      throw ModelError("model/bad-shape",
                       where + ": shape has " + std::to_string(shape->items.size()) +
                           " dimensions (at most " + std::to_string(kMaxDims) + ")",
                       name);
    int64_t elements = 1;
    bool overflow = false;
    for (size_t k = 0; k < shape->items.size(); k++) {
      const json::Value& d = shape->items[k];
      if (!d.isNumber() || !d.isInt || d.integer < 0 || d.integer >= kMaxSafe) {
        const std::string dim = "dimension " + std::to_string(k) + " ";
        const std::string why = !d.isNumber() ? dim + "is not a number"
                                : !d.isInt
                                    ? dim + "is written as a fraction or with an exponent (" +
                                          json::stringify(d) +
                                          "); dimensions are plain integers such as 2, not 2.0"
                                : d.integer < 0 ? dim + "is negative"
                                                : dim + "is too large";
        throw ModelError("model/bad-shape",
                         where + ": shape must be a list of non-negative integers, got " +
                             shapeText(*shape) + ": " + why,
                         name);
      }
      t.shape.push_back(d.integer);
      if (!mulOk(elements, d.integer, elements) || elements >= kMaxSafe) overflow = true;
    }
    for (auto d : t.shape)
      if (d == 0) {
        elements = 0;
        overflow = false;
      }
    int64_t bytes = 0;
    if (overflow || !mulOk(elements, dtypeSize(t.dtype), bytes) || bytes >= kMaxSafe)
      throw ModelError(
          "model/bad-shape",
          where + ": shape " + shapeText(*shape) + " has too many elements (over 2^53)", name);
    t.elements = elements;
    t.bytes = bytes;
    if (!offs || !offs->isArray() || offs->items.size() != 2 ||
        !std::all_of(offs->items.begin(), offs->items.end(), [](const json::Value& o) {
          return o.isNumber() && o.isInt && o.integer >= 0 && o.integer < kMaxSafe;
        }))
      throw ModelError("model/bad-offsets",
                       where + ": data_offsets must be [begin, end] non-negative integers, got " +
                           (offs ? shapeText(*offs) : "nothing"),
                       name);
    const int64_t begin = offs->items[0].integer, end = offs->items[1].integer;
    if (end < begin)
      throw ModelError("model/bad-offsets",
                       where + ": data_offsets [" + std::to_string(begin) + ", " +
                           std::to_string(end) + "] end before begin",
                       name);
    if (end - begin != bytes)
      throw ModelError("model/bad-shape",
                       where + ": shape " + shapeText(*shape) + " of " + t.dtypeName + " needs " +
                           std::to_string(bytes) + " bytes but data_offsets [" +
                           std::to_string(begin) + ", " + std::to_string(end) + "] span " +
                           std::to_string(end - begin),
                       name);
    if (uint64_t(end) > dataSize)
      throw ModelError("model/truncated",
                       where + ": data_offsets [" + std::to_string(begin) + ", " +
                           std::to_string(end) +
                           "] run past the end of the file (data section is " +
                           std::to_string(dataSize) + " bytes)",
                       name);
    t.file = fileIndex;
    t.offset = dataStart + uint64_t(begin);
    ranges.push_back({begin, end, name});
    found.push_back(std::move(t));
  }

  std::sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& b) {
    return a.begin < b.begin || (a.begin == b.begin && a.end < b.end);
  });
  const Range* prev = nullptr;
  for (const auto& r : ranges) {
    if (r.end == r.begin) continue;
    if (prev && r.begin < prev->end)
      throw ModelError("model/bad-offsets",
                       file + ": tensor \"" + r.name + "\" data [" + std::to_string(r.begin) +
                           ", " + std::to_string(r.end) + "] overlaps tensor \"" + prev->name +
                           "\" [" + std::to_string(prev->begin) + ", " + std::to_string(prev->end) +
                           "]",
                       r.name);
    prev = &r;
  }

  if (only) {
    // The index promises these tensors in this shard: each must be there.
    std::unordered_set<std::string> have;
    for (const auto& t : found) have.insert(t.name);
    for (const auto& name : *only)
      if (!have.count(name))
        throw ModelError("model/bad-index",
                         file + ": the index lists tensor \"" + name +
                             "\" in this shard, but the shard does not contain it",
                         name);
  }
  m.files.push_back(std::move(mf));
  for (auto& t : found) m.tensors.push_back(std::move(t));
}

}  // namespace bitsmith
