#include "io/model.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <filesystem>

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
    MappedFile f(cfg);
    if (f.size() == 0 || f.size() > (64u << 20)) return;
    json::Value v;
    std::string err;
    if (json::parse(reinterpret_cast<const char*>(f.data()), size_t(f.size()), v, err) &&
        v.isObject()) {
      if (const auto* t = v.get("model_type"); t && t->isString()) m.architecture = t->string;
    }
  } catch (const ModelError&) {
    // config.json is optional for running; the header reader reports problems with it.
  }
}

static void readShardedIndex(Model& m, const std::string& dir, const std::string& indexPath) {
  MappedFile f(indexPath);
  if (f.size() > (100u << 20))
    throw ModelError(
        "model/header-too-large",
        indexPath + ": index is " + std::to_string(f.size()) + " bytes (limit 100 MiB)");
  json::Value v;
  std::string err;
  if (!json::parse(reinterpret_cast<const char*>(f.data()), size_t(f.size()), v, err))
    throw ModelError("model/bad-json", indexPath + ": invalid JSON: " + err);
  const json::Value* map = v.isObject() ? v.get("weight_map") : nullptr;
  if (!map || !map->isObject())
    throw ModelError("model/bad-index", indexPath + ": no \"weight_map\" object");
  // Shards in order of first appearance; tensors per shard in index order.
  std::vector<std::string> shards;
  std::vector<std::vector<std::string>> names;
  for (const auto& [name, shardV] : map->members) {
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
      else if (endsWith(name, ".safetensors") && e.is_regular_file(ec))
        shards.push_back(name);
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
      MappedFile probe(path);
      gguf = probe.size() >= 4 && std::memcmp(probe.data(), "GGUF", 4) == 0;
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
                       files[size_t(tensors[i].file)]->path() + ": tensor \"" + tensors[i].name +
                           "\" is also stored in " +
                           files[size_t(tensors[index_[tensors[i].name]].file)]->path(),
                       tensors[i].name);
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
    throw ModelError("model/unsupported-dtype",
                     fileOf(t).path() + ": tensor \"" + t.name + "\" is stored as " + t.dtypeName +
                         ", which bitsmith cannot decode (GGUF tensors in F32, F16, BF16 or q4_0, "
                         "q4_1, q5_0, q5_1, q8_0, q2_k ... q6_k, iq4_nl, iq4_xs are read)",
                     t.name);
  }
  if (!isReadableFloat(t.dtype))
    throw ModelError("model/unsupported-dtype",
                     fileOf(t).path() + ": tensor \"" + t.name + "\" has dtype " + t.dtypeName +
                         ", which cannot be quantized (only F32, F16, BF16, F64)",
                     t.name);
}

bool Model::readRowsF32(const TensorRef& t, int64_t r0, int64_t r1, float* out) const {
  requireReadable(t);
  const uint8_t* base = fileOf(t).data() + t.offset;
  const int64_t cols = t.cols(), rb = t.rowBytes();
  if (const GgmlTypeInfo* g = ggmlSourceType(t)) {
    // The reader checked that a row is whole blocks and every row lies inside the file.
    // Rows decode independently, so any row range is its blocks; a hostile f16 scale can
    // still decode to inf/NaN, which the caller reports like any non-finite weight.
    const int64_t n = (r1 - r0) * cols;
    for (int64_t r = r0; r < r1; r++)
      ggmlDecodeRows(g->type, base + t.sourceRow(r) * rb, 1, cols, out + (r - r0) * cols);
    bool ok = true;
    for (int64_t i = 0; i < n; i++) ok &= std::isfinite(out[i]);
    return ok;
  }
  if (t.permuteHeads <= 0) return toF32(t.dtype, base + r0 * rb, (r1 - r0) * cols, out);
  bool ok = true;
  for (int64_t r = r0; r < r1; r++)
    ok &= toF32(t.dtype, base + t.sourceRow(r) * rb, cols, out + (r - r0) * cols);
  return ok;
}

void Model::readRowsRaw(const TensorRef& t, int64_t r0, int64_t r1, uint8_t* out) const {
  if (t.dtype == DType::Ggml && (r0 != 0 || r1 != t.rows()))
    throw ModelError("model/unsupported-dtype",
                     fileOf(t).path() + ": tensor \"" + t.name + "\" (" + t.dtypeName +
                         ") can only be copied whole",
                     t.name);
  const uint8_t* base = fileOf(t).data() + t.offset;
  if (t.dtype == DType::Ggml) {
    std::memcpy(out, base, size_t(t.bytes));
    return;
  }
  const int64_t rb = t.rowBytes();
  if (t.permuteHeads <= 0) {
    std::memcpy(out, base + r0 * rb, size_t((r1 - r0) * rb));
    return;
  }
  for (int64_t r = r0; r < r1; r++)
    std::memcpy(out + (r - r0) * rb, base + t.sourceRow(r) * rb, size_t(rb));
}

void Model::release(const TensorRef& t, int64_t r0, int64_t r1) const {
  if (t.permuteHeads > 0 || t.dtype == DType::Ggml) {
    fileOf(t).release(t.offset, uint64_t(t.bytes));
    return;
  }
  const int64_t rb = t.rowBytes();
  fileOf(t).release(t.offset + uint64_t(r0 * rb), uint64_t((r1 - r0) * rb));
}

void Model::prefetch(const TensorRef& t, int64_t r0, int64_t r1) const {
  if (t.permuteHeads > 0 || t.dtype == DType::Ggml) {
    fileOf(t).willNeed(t.offset, uint64_t(t.bytes));
    return;
  }
  const int64_t rb = t.rowBytes();
  fileOf(t).willNeed(t.offset + uint64_t(r0 * rb), uint64_t((r1 - r0) * rb));
}

}  // namespace bitsmith
