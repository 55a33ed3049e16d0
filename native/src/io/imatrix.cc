#include "io/imatrix.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <unordered_set>

#include "io/error.h"
#include "io/input_file.h"
#include "io/json.h"
#include "io/model.h"

namespace bitsmith {

namespace {

constexpr int64_t kMaxName = 4096;  // a tensor name; llama.cpp's are < 64 bytes

[[noreturn]] void fail(const std::string& path, const std::string& msg,
                       const std::string& entry = std::string()) {
  throw ModelError("calibration/bad-imatrix",
                   path + ": " + (entry.empty() ? "" : "entry \"" + entry + "\": ") + msg, entry);
}

// Every value finite and >= 0 (a mean of squares); names the first bad one.
void checkValues(const std::string& path, const std::string& entry, const float* v, int64_t n,
                 const char* what) {
  for (int64_t i = 0; i < n; i++)
    if (!std::isfinite(v[i]) || v[i] < 0)
      fail(path,
           std::string(what) + "[" + std::to_string(i) + "] is " +
               (std::isnan(v[i])   ? "NaN"
                : std::isinf(v[i]) ? "infinite"
                                   : std::to_string(v[i])) +
               " (must be finite and >= 0)",
           entry);
}

// Reads the legacy format front to back with pread, every length checked against the
// bytes left before it is used.
struct Reader {
  const InputFile& f;
  uint64_t size, pos = 0;
  const std::string& path;
  uint64_t left() const { return size - pos; }
  int32_t i32(const std::string& what, const std::string& entry = std::string()) {
    if (left() < 4)
      fail(path,
           "file ends while reading " + what + " at byte " + std::to_string(pos) + " (truncated?)",
           entry);
    int32_t v;
    f.read(pos, &v, 4);
    pos += 4;
    return v;
  }
};

Imatrix readLegacy(const InputFile& f, const std::string& path) {
  Imatrix im;
  im.path = path;
  im.format = "dat";
  Reader r{f, f.size(), 0, path};
  const int32_t n = r.i32("the entry count");
  // The smallest entry: name length, a 1-byte name, ncall, nval and one value (17 bytes).
  if (n < 1)
    fail(path,
         "entry count " + std::to_string(n) + " (must be >= 1); not a llama.cpp imatrix file?");
  if (uint64_t(n) > r.left() / 17)
    fail(path, "entry count " + std::to_string(n) + " cannot fit in the " +
                   std::to_string(r.left()) +
                   " bytes that follow (truncated, or not an imatrix file)");
  if (uint64_t(n) > kMaxTensors)
    fail(path, "entry count " + std::to_string(n) + " (at most " + std::to_string(kMaxTensors) +
                   ", one per weight tensor)");
  std::unordered_set<std::string> seen;
  for (int32_t i = 0; i < n; i++) {
    const std::string at = "entry #" + std::to_string(i);
    const int32_t len = r.i32("the name length of " + at);
    if (len < 1 || len > kMaxName)
      fail(path, at + ": name length " + std::to_string(len) + " (must be 1.." +
                     std::to_string(kMaxName) + ")");
    if (uint64_t(len) > r.left())
      fail(path, at + ": file ends inside the " + std::to_string(len) + "-byte name (truncated?)");
    ImatrixEntry e;
    e.name = f.readString(r.pos, size_t(len));
    r.pos += uint64_t(len);
    if (!json::validUtf8(e.name.data(), e.name.size()))
      fail(path, at + ": the name is not valid UTF-8");
    if (!seen.insert(e.name).second) fail(path, "appears twice", e.name);
    const int32_t ncall = r.i32("ncall", e.name);
    const int32_t nval = r.i32("the value count", e.name);
    if (ncall < 0) fail(path, "ncall " + std::to_string(ncall) + " is negative", e.name);
    if (nval < 1) fail(path, "value count " + std::to_string(nval) + " (must be >= 1)", e.name);
    if (uint64_t(nval) > r.left() / 4)
      fail(path,
           std::to_string(nval) + " values need " + std::to_string(4 * int64_t(nval)) + " bytes, " +
               std::to_string(r.left()) + " are left (truncated?)",
           e.name);
    e.nIn = nval;
    e.mean.resize(size_t(nval));
    f.read(r.pos, e.mean.data(), size_t(nval) * 4);
    r.pos += uint64_t(nval) * 4;
    checkValues(path, e.name, e.mean.data(), nval, "value");
    // Stored as mean * ncall (llama-imatrix); ncall 0 only in hand-made files: as stored.
    if (ncall > 0)
      for (float& v : e.mean) v = float(double(v) / double(ncall));
    im.entries.push_back(std::move(e));
  }
  // Trailer (absent in older files): i32 last chunk, then the dataset name.
  if (r.left() > 0) {
    r.i32("the chunk count after the entries");
    if (r.left() > 0) {
      const int32_t len = r.i32("the dataset name length");
      if (len < 0 || uint64_t(len) > r.left())
        fail(path, "dataset name length " + std::to_string(len) + " does not fit the " +
                       std::to_string(r.left()) + " bytes left");
      r.pos += uint64_t(len);
      if (r.left() > 0)
        fail(path, std::to_string(r.left()) + " unexpected bytes after the dataset name");
    }
  }
  return im;
}

std::string ggufString(const std::string& raw) {
  // raw: u32 value type (8: string), u64 length, bytes (the reader validated the lengths).
  uint32_t type = 0;
  uint64_t len = 0;
  if (raw.size() < 12) return std::string();
  std::memcpy(&type, raw.data(), 4);
  std::memcpy(&len, raw.data() + 4, 8);
  if (type != 8 || len > raw.size() - 12) return std::string();
  return raw.substr(12, size_t(len));
}

bool stripSuffix(std::string& s, const std::string& suffix) {
  if (s.size() <= suffix.size() || s.compare(s.size() - suffix.size(), suffix.size(), suffix) != 0)
    return false;
  s.resize(s.size() - suffix.size());
  return true;
}

Imatrix readGgufImatrix(const std::string& path) {
  Model m;  // the project's GGUF reader validates the header, shapes and offsets
  m.path = path;
  readGgufInto(m, path);
  std::string type;
  bool hasType = false;
  for (const auto& [key, raw] : m.ggufKvs)
    if (key == "general.type") {
      hasType = true;
      type = ggufString(raw);
    }
  if (type != "imatrix")
    fail(path,
         hasType ? "general.type is \"" + type +
                       "\", not \"imatrix\": a model, not an importance matrix?"
                 : "a GGUF without general.type = \"imatrix\": a model, not an importance matrix?");
  std::map<std::string, std::pair<const TensorRef*, const TensorRef*>>
      parts;  // sorted: deterministic
  for (const TensorRef& t : m.tensors) {
    std::string base = t.name;
    if (stripSuffix(base, ".in_sum2"))
      parts[base].first = &t;
    else if (stripSuffix(base, ".counts"))
      parts[base].second = &t;
  }
  if (parts.empty()) fail(path, "no <name>.in_sum2 / <name>.counts tensors");
  Imatrix im;
  im.path = path;
  im.format = "gguf";
  for (const auto& [name, pc] : parts) {
    const TensorRef* sums = pc.first;
    const TensorRef* counts = pc.second;
    if (!sums) fail(path, "has " + name + ".counts but no " + name + ".in_sum2", name);
    if (!counts) fail(path, "has " + name + ".in_sum2 but no " + name + ".counts", name);
    for (const TensorRef* t : {sums, counts})
      if (t->dtypeName != "F32")
        fail(path, t->name + " is " + t->dtypeName + " (llama-imatrix writes F32)", name);
    if (sums->shape.empty() || sums->shape.size() > 2)
      fail(path,
           name + ".in_sum2 has " + std::to_string(sums->shape.size()) +
               " dimensions (expected ne [n_in, n_mat])",
           name);
    ImatrixEntry e;
    e.name = name;
    e.nIn = sums->shape.back();
    e.nMat = sums->shape.size() == 2 ? sums->shape[0] : 1;
    if (e.nIn < 1 || e.nMat < 1) fail(path, name + ".in_sum2 is empty", name);
    if (counts->elements != e.nMat)
      fail(path,
           name + ".counts has " + std::to_string(counts->elements) + " values for " +
               std::to_string(e.nMat) + " matrices",
           name);
    e.mean.resize(size_t(sums->elements));
    std::vector<float> c(size_t(counts->elements));
    if (!m.readRowsF32(*sums, 0, sums->rows(), e.mean.data()))
      checkValues(path, name, e.mean.data(), sums->elements, "in_sum2");
    if (!m.readRowsF32(*counts, 0, counts->rows(), c.data()))
      checkValues(path, name, c.data(), counts->elements, "counts");
    checkValues(path, name, e.mean.data(), sums->elements, "in_sum2");
    checkValues(path, name, c.data(), counts->elements, "counts");
    for (int64_t k = 0; k < e.nMat; k++) {
      const float n = c[size_t(k)];
      if (n == 0)
        fail(path, "counts[" + std::to_string(k) + "] is 0: no activations were collected for it",
             name);
      // A count is a number of activations: below 1 (a denormal, say) the mean would overflow.
      if (n < 1) {
        char v[32];
        std::snprintf(v, sizeof v, "%g", double(n));
        fail(path,
             "counts[" + std::to_string(k) + "] is " + v +
                 " (must be at least 1: the number of activations collected)",
             name);
      }
      for (int64_t j = 0; j < e.nIn; j++)
        e.mean[size_t(k * e.nIn + j)] = float(double(e.mean[size_t(k * e.nIn + j)]) / double(n));
    }
    im.entries.push_back(std::move(e));
  }
  return im;
}

}  // namespace

const ImatrixEntry* Imatrix::find(const std::string& name) const {
  for (const auto& e : entries)
    if (e.name == name) return &e;
  return nullptr;
}

Imatrix readImatrix(const std::string& path) {
  if (!pathExists(path))
    throw ModelError("calibration/not-found", path + ": imatrix file not found");
  bool gguf = false;
  try {
    {
      InputFile f(path);
      char magic[4] = {};
      if (f.size() >= 4) f.read(0, magic, 4);
      gguf = std::memcmp(magic, "GGUF", 4) == 0;
      if (!gguf) return readLegacy(f, path);
    }
    return readGgufImatrix(path);
  } catch (const ModelError& e) {
    if (e.code() == "calibration/bad-imatrix") throw;
    // The file readers' own findings (not a regular file, truncated, bad offsets, ...), as
    // an imatrix error.
    throw ModelError("calibration/bad-imatrix",
                     std::string(e.what()) + (gguf ? " (reading it as a GGUF imatrix)" : ""),
                     e.tensor());
  }
}

}  // namespace bitsmith
