#include "io/model.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <unordered_set>

#include "io/error.h"
#include "quant/ggml/ggml.h"

namespace fs = std::filesystem;

namespace bitsmith {

int64_t TensorRef::sourceRow(int64_t r) const {
  if (permuteHeads <= 0) return r;
  const int64_t hd = rows() / permuteHeads;
  const int64_t half = hd / 2;
  const int64_t h = r / hd, j = r % hd;
  const int64_t p = j / half, i = j % half;
  return h * hd + 2 * i + p;
}

static std::string lower(std::string s) {
  for (auto& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

static bool endsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && lower(s.substr(s.size() - suffix.size())) == suffix;
}

static void readConfigArchitecture(Model& m, const std::string& dir) {
  const std::string cfg = (fs::path(dir) / "config.json").string();
  if (!pathExists(cfg)) return;
  try {
    InputFile f(cfg);
    if (f.size() == 0 || f.size() > kMaxConfigBytes) return;
    const std::string text = f.readString(0, size_t(f.size()));
    json::Value v;
    json::ParseError err;
    if (json::parse(text.data(), text.size(), v, err, configLimits()) && v.isObject()) {
      if (const auto* t = v.get("model_type"); t && t->isString()) m.architecture = t->string;
    }
  } catch (const ModelError&) {
    // config.json is optional for running; the header reader reports problems with it.
  }
}

static void readShardedIndex(Model& m, const std::string& dir, const std::string& indexPath) {
  json::Value v;
  {
    InputFile f(indexPath);
    if (f.size() > (100u << 20))
      throw ModelError(
          "model/header-too-large",
          indexPath + ": index is " + std::to_string(f.size()) + " bytes (limit 100 MiB)");
    const std::string text = f.readString(0, size_t(f.size()));
    json::ParseError err;
    if (!json::parse(text.data(), text.size(), v, err))
      throw ModelError(err.tooLarge ? "model/header-too-large" : "model/bad-json",
                       indexPath + ": invalid JSON: " + err.message);
  }
  const json::Value* map = v.isObject() ? v.get("weight_map") : nullptr;
  if (!map || !map->isObject())
    throw ModelError("model/bad-index", indexPath + ": no \"weight_map\" object");
  // Shards in order of first appearance; tensors per shard in index order.
  std::vector<std::string> shards;
  std::vector<std::vector<std::string>> names;
  if (map->members.size() > kMaxTensors)
    throw ModelError("model/bad-index", indexPath + ": weight_map lists " +
                                            std::to_string(map->members.size()) +
                                            " tensors (limit " + std::to_string(kMaxTensors) + ")");
  std::unordered_set<std::string> listed;
  for (const auto& [name, shardV] : map->members) {
    checkTensorName(indexPath, name, "model/bad-index");
    if (!listed.insert(name).second)
      throw ModelError(
          "model/bad-index",
          indexPath + ": tensor " + quotedName(name) + " is listed twice in weight_map", name);
    if (!shardV.isString())
      throw ModelError("model/bad-index",
                       indexPath + ": weight_map entry for \"" + name + "\" is not a file name",
                       name);
    const std::string& shard = shardV.string;
    fs::path p(shard);
    // Checked on the name as written, not on where it leads: a Hugging Face cache snapshot's
    // shards are links into ../../blobs/, outside the folder, and are read through the link.
    bool plain = !shard.empty() && !p.is_absolute() && !p.has_root_name() &&
                 shard.find('\\') == std::string::npos;
    for (const auto& part : p)
      if (part == "..") plain = false;
    if (!plain)
      throw ModelError("model/bad-index",
                       indexPath + ": tensor \"" + name + "\" maps to \"" + shard +
                           "\", which is not a file inside the folder",
                       name);
    auto it = std::find(shards.begin(), shards.end(), shard);
    if (it == shards.end()) {
      shards.push_back(shard);
      names.emplace_back();
      it = shards.end() - 1;
    }
    names[size_t(it - shards.begin())].push_back(name);
  }
  if (shards.empty()) throw ModelError("model/bad-index", indexPath + ": weight_map is empty");
  for (size_t i = 0; i < shards.size(); i++) {
    const std::string file = (fs::path(dir) / shards[i]).string();
    if (!pathExists(file))
      throw ModelError("model/bad-index",
                       indexPath + ": shard " + shards[i] + " (of tensor \"" + names[i][0] +
                           "\") does not exist",
                       names[i][0]);
    readSafetensorsInto(m, file, &names[i]);
  }
}

std::unique_ptr<Model> Model::open(const std::string& pathIn) {
  auto m = std::make_unique<Model>();
  std::string path = fs::absolute(fs::path(pathIn)).lexically_normal().string();
  if (!path.empty() && path.size() > 1 && (path.back() == '/' || path.back() == '\\'))
    path.pop_back();
  m->path = path;
  if (!pathExists(path)) throw ModelError("model/not-found", path + ": no such file or directory");
  if (isDirectory(path)) {
    m->format = "hf-folder";
    // As core/src/models/hfFolder.ts: model.safetensors.index.json (or the only
    // *.safetensors.index.json), else every *.safetensors file in name order.
    std::vector<std::string> indexes, shards;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(path, ec)) {
      const std::string name = e.path().filename().string();
      if (endsWith(name, ".safetensors.index.json"))
        indexes.push_back(name);
      else if (endsWith(name, ".safetensors") && !e.is_directory(ec))
        shards.push_back(name);  // a FIFO or device among them is refused by name on open
    }
    if (ec)
      throw ModelError("model/unreadable",
                       path + ": cannot list the folder (" + ec.message() + ")");
    std::sort(indexes.begin(), indexes.end());
    std::sort(shards.begin(), shards.end());
    std::string index;
    if (std::find(indexes.begin(), indexes.end(), "model.safetensors.index.json") != indexes.end())
      index = "model.safetensors.index.json";
    else if (indexes.size() == 1)
      index = indexes[0];
    if (!index.empty()) {
      readShardedIndex(*m, path, (fs::path(path) / index).string());
    } else if (!shards.empty()) {
      for (const auto& s : shards) readSafetensorsInto(*m, (fs::path(path) / s).string());
    } else {
      throw ModelError("model/unknown-format",
                       path +
                           ": no model.safetensors, model.safetensors.index.json or *.safetensors "
                           "files in the folder");
    }
    readConfigArchitecture(*m, path);
  } else {
    bool gguf = false;
    {
      InputFile probe(path);
      char magic[4] = {};
      if (probe.size() >= 4) probe.read(0, magic, 4);
      gguf = std::memcmp(magic, "GGUF", 4) == 0;
    }
    if (gguf || endsWith(path, ".gguf")) {
      m->format = "gguf";
      readGgufInto(*m, path);
    } else if (endsWith(path, ".safetensors")) {
      m->format = "safetensors";
      readSafetensorsInto(*m, path);
      readConfigArchitecture(*m, fs::path(path).parent_path().string());
    } else if (endsWith(path, ".bin")) {
      m->format = "llama2c";
      m->architecture = "llama";
      readLlama2cInto(*m, path);
    } else {
      throw ModelError("model/unknown-format",
                       path + ": not a folder, .safetensors, .gguf or llama2.c .bin");
    }
  }
  m->buildIndex();
  return m;
}

void Model::buildIndex() {
  index_.clear();
  for (size_t i = 0; i < tensors.size(); i++) {
    auto r = index_.emplace(tensors[i].name, i);
    if (!r.second)
      throw ModelError("model/bad-header",
                       files[size_t(tensors[i].file)]->path() + ": tensor " +
                           quotedName(tensors[i].name) + " is also stored in " +
                           files[size_t(tensors[r.first->second].file)]->path(),
                       tensors[i].name);
  }
}

std::string quotedName(const std::string& name) {
  static const char* hex = "0123456789abcdef";
  std::string out = "\"";
  for (size_t i = 0; i < name.size() && i < 200; i++) {
    const unsigned char c = static_cast<unsigned char>(name[i]);
    if (c < 0x20 || c == 0x7f) {
      out += "\\x";
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    } else {
      out.push_back(char(c));
    }
  }
  out += name.size() > 200 ? "...\"" : "\"";
  return out;
}

void checkTensorName(const std::string& file, const std::string& name, const char* code) {
  if (name.empty()) throw ModelError(code, file + ": a tensor has an empty name");
  const size_t ok = json::validUtf8Prefix(name.data(), name.size());
  if (ok != name.size()) {
    // Shown up to the bad byte, which is given in hex.
    std::string shown = quotedName(name.substr(0, std::min<size_t>(ok, 200)));
    shown.pop_back();
    char buf[16];
    std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(name[ok]));
    throw ModelError(code,
                     file + ": tensor name " + shown + buf + "...\" is not valid UTF-8 (byte " +
                         std::to_string(ok) + " of the name)",
                     name);
  }
}

const TensorRef* Model::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors[it->second];
}

const GgmlTypeInfo* ggmlSourceType(const TensorRef& t) {
  if (t.dtype != DType::Ggml) return nullptr;
  std::string lower = t.dtypeName;
  for (auto& ch : lower) ch = char(std::tolower(static_cast<unsigned char>(ch)));
  return findGgmlType(lower);
}

void Model::requireReadable(const TensorRef& t) const {
  if (t.dtype == DType::Ggml) {
    if (ggmlSourceType(t)) return;
    throw ModelError(
        "model/unsupported-dtype",
        fileOf(t).path() + ": tensor \"" + t.name + "\" is stored as " + t.dtypeName +
            ", which bitsmith cannot decode (GGUF tensors in F32, F16, BF16 or the ggml "
            "types q4_0 ... q6_k, iq1_s ... iq4_xs, tq1_0, tq2_0 are read)",
        t.name);
  }
  if (!isReadableFloat(t.dtype))
    throw ModelError("model/unsupported-dtype",
                     fileOf(t).path() + ": tensor \"" + t.name + "\" has dtype " + t.dtypeName +
                         ", which cannot be quantized (only F32, F16, BF16, F64)",
                     t.name);
}

namespace {

// Bytes read per pread when the data is converted after the read: small enough that the
// conversion finds them in the L2 cache, large enough that the syscall is noise.
constexpr size_t kPiece = size_t(256) << 10;

uint8_t* staging(size_t n) {
  static thread_local std::vector<uint8_t> buf;
  if (buf.size() < n) buf.resize(n);
  return buf.data();
}

}  // namespace

bool Model::readRowsF32(const TensorRef& t, int64_t r0, int64_t r1, float* out) const {
  requireReadable(t);
  const InputFile& f = fileOf(t);
  const int64_t cols = t.cols(), rb = t.rowBytes();
  if (r1 <= r0) return true;
  if (const GgmlTypeInfo* g = ggmlSourceType(t)) {
    // The reader checked that a row is whole blocks and every row lies inside the file, so
    // rows [r0, r1) are whole blocks back to back, decoded a piece at a time (blocks are
    // independent). A hostile f16 scale can still decode to inf/NaN, which the caller
    // reports like any non-finite weight.
    const int64_t blocks = (r1 - r0) * (cols / g->blockWeights);
    const int64_t per = std::max<int64_t>(1, int64_t(kPiece) / g->blockBytes);
    uint8_t* buf = staging(size_t(std::min(per, blocks) * g->blockBytes));
    uint64_t at = t.offset + uint64_t(r0 * rb);
    float* dst = out;
    bool ok = true;
    for (int64_t b = 0; b < blocks; b += per) {
      const int64_t k = std::min(per, blocks - b);
      f.read(at, buf, size_t(k * g->blockBytes), t.name);
      ggmlDecodeRows(g->type, buf, 1, k * g->blockWeights, dst);
      ok &= allFinite(dst, k * g->blockWeights);
      at += uint64_t(k * g->blockBytes);
      dst += k * g->blockWeights;
    }
    return ok;
  }
  if (t.permuteHeads > 0) {
    // llama2.c q/k rows (F32): each row read from its stored position.
    bool ok = true;
    for (int64_t r = r0; r < r1; r++) {
      float* dst = out + (r - r0) * cols;
      if (t.dtype == DType::F32) {
        f.read(t.offset + uint64_t(t.sourceRow(r) * rb), dst, size_t(rb), t.name);
        ok &= allFinite(dst, cols);
      } else {
        uint8_t* buf = staging(size_t(rb));
        f.read(t.offset + uint64_t(t.sourceRow(r) * rb), buf, size_t(rb), t.name);
        ok &= toF32(t.dtype, buf, cols, dst);
      }
    }
    return ok;
  }
  // Rows [r0, r1) are one contiguous run of elements.
  const int es = dtypeSize(t.dtype);
  const int64_t n = (r1 - r0) * cols;
  const uint64_t base = t.offset + uint64_t(r0 * rb);
  const int64_t per = int64_t(kPiece) / es;
  bool ok = true;
  if (t.dtype == DType::F32) {
    for (int64_t i = 0; i < n; i += per) {  // straight into out, checked while in cache
      const int64_t k = std::min(per, n - i);
      f.read(base + uint64_t(i * 4), out + i, size_t(k * 4), t.name);
      ok &= allFinite(out + i, k);
    }
    return ok;
  }
  uint8_t* buf = staging(size_t(std::min(per, n) * es));
  for (int64_t i = 0; i < n; i += per) {
    const int64_t k = std::min(per, n - i);
    f.read(base + uint64_t(i * es), buf, size_t(k * es), t.name);
    ok &= toF32(t.dtype, buf, k, out + i);
  }
  return ok;
}

void Model::readRowsRaw(const TensorRef& t, int64_t r0, int64_t r1, uint8_t* out) const {
  if (t.dtype == DType::Ggml && (r0 != 0 || r1 != t.rows()))
    throw ModelError("model/unsupported-dtype",
                     fileOf(t).path() + ": tensor \"" + t.name + "\" (" + t.dtypeName +
                         ") can only be copied whole",
                     t.name);
  const InputFile& f = fileOf(t);
  if (t.dtype == DType::Ggml) {
    f.read(t.offset, out, size_t(t.bytes), t.name);
    return;
  }
  const int64_t rb = t.rowBytes();
  if (t.permuteHeads <= 0) {
    f.read(t.offset + uint64_t(r0 * rb), out, size_t((r1 - r0) * rb), t.name);
    return;
  }
  for (int64_t r = r0; r < r1; r++)
    f.read(t.offset + uint64_t(t.sourceRow(r) * rb), out + (r - r0) * rb, size_t(rb), t.name);
}

void Model::release(const TensorRef& t, int64_t r0, int64_t r1) const {
  if (t.permuteHeads > 0) {  // rows are stored out of order: the whole tensor at its end
    if (r1 >= t.rows()) fileOf(t).done(t.offset, uint64_t(t.bytes));
    return;
  }
  const int64_t rb = t.rowBytes();
  fileOf(t).done(t.offset + uint64_t(r0 * rb), uint64_t((r1 - r0) * rb));
}

}  // namespace bitsmith
