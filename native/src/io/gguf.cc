// GGUF v2/v3 (little-endian): "GGUF", u32 version, u64 tensor_count, u64 kv_count, the
// key/values, the tensor infos (name, u32 n_dims, u64 ne[n_dims], u32 type, u64 offset),
// padding to general.alignment (default 32), then the data. Every count and length is
// checked against the bytes left before it is used. Every ggml type's byte count is
// exact (rows whole blocks, data inside the file); F32, F16, BF16 and the block types the
// backend has decoders for (quant/ggml) read as f32 (Model::readRowsF32), the other block
// types (Q8_K, Q8_1) are listed and can only be copied into a GGUF.
#include <algorithm>
#include <cstring>
#include <unordered_set>
#include <vector>

#include "io/error.h"
#include "io/model.h"

namespace bitsmith {

namespace {

struct GgmlType {
  int id;
  const char* name;
  int64_t blockSize;
  int64_t typeSize;
};
// As core/src/models/gguf.ts (ggml type_traits).
const GgmlType kGgmlTypes[] = {
    {0, "F32", 1, 4},         {1, "F16", 1, 2},         {2, "Q4_0", 32, 18},
    {3, "Q4_1", 32, 20},      {6, "Q5_0", 32, 22},      {7, "Q5_1", 32, 24},
    {8, "Q8_0", 32, 34},      {9, "Q8_1", 32, 36},      {10, "Q2_K", 256, 84},
    {11, "Q3_K", 256, 110},   {12, "Q4_K", 256, 144},   {13, "Q5_K", 256, 176},
    {14, "Q6_K", 256, 210},   {15, "Q8_K", 256, 292},   {16, "IQ2_XXS", 256, 66},
    {17, "IQ2_XS", 256, 74},  {18, "IQ3_XXS", 256, 98}, {19, "IQ1_S", 256, 50},
    {20, "IQ4_NL", 32, 18},   {21, "IQ3_S", 256, 110},  {22, "IQ2_S", 256, 82},
    {23, "IQ4_XS", 256, 136}, {24, "I8", 1, 1},         {25, "I16", 1, 2},
    {26, "I32", 1, 4},        {27, "I64", 1, 8},        {28, "F64", 1, 8},
    {29, "IQ1_M", 256, 56},   {30, "BF16", 1, 2},       {34, "TQ1_0", 256, 54},
    {35, "TQ2_0", 256, 66},
};

constexpr uint64_t kMaxHeader = 256ull * 1024 * 1024;
constexpr uint64_t kMaxString = 16ull * 1024 * 1024;
constexpr uint64_t kMaxKvs = uint64_t(1) << 20;  // real files have ~50
constexpr int kMaxDepth = 8;
constexpr int kMaxDims = 4;
constexpr int64_t kMaxSafe = int64_t(1) << 53;

// Reads the header front to back. The bytes come from the file into `buf` as they are
// needed (read ahead in doubling steps), so a header is read once, and nothing past
// what a field's checked length allows is ever requested. `what` (a callable returning
// the field's description) is only called for an error message.
struct Cursor {
  const InputFile& f;
  uint64_t size;
  std::string file;
  uint64_t pos = 0;
  std::vector<uint8_t> buf;  // bytes [0, buf.size()) of the file

  template <typename What>
  void need(uint64_t n, const What& what) {
    if (pos + n > kMaxHeader || n > kMaxHeader)
      throw ModelError("model/header-too-large",
                       file + ": GGUF header exceeds " + std::to_string(kMaxHeader) +
                           " bytes while reading " + what() + " at byte " + std::to_string(pos));
    if (n > size - pos)
      throw ModelError("model/truncated", file + ": file ends while reading " + what() +
                                              " at byte " + std::to_string(pos) + " (needs " +
                                              std::to_string(n) + " bytes, " +
                                              std::to_string(size - pos) + " left)");
    if (pos + n > buf.size()) fill(pos + n);
  }
  void fill(uint64_t end) {
    const uint64_t limit = std::min(size, kMaxHeader);
    const uint64_t want =
        std::min(limit, std::max({end, uint64_t(buf.size()) * 2, uint64_t(1) << 16}));
    const size_t have = buf.size();
    buf.resize(size_t(want));
    f.read(have, buf.data() + have, size_t(want - have));
  }
  const uint8_t* at(uint64_t p) const { return buf.data() + p; }
  template <typename T, typename What>
  T get(const What& what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, at(pos), sizeof(T));
    pos += sizeof(T);
    return v;
  }
  template <typename T>
  T get(const char* what) {
    return get<T>([what] { return std::string(what); });
  }
  template <typename What>
  void skip(uint64_t n, const What& what) {
    need(n, what);
    pos += n;
  }
  // A count of items of at least minSize bytes each, checked against the header limit and
  // the bytes left before anything is sized by it.
  uint64_t count(const std::string& what, uint64_t minSize) {
    uint64_t start = pos;
    uint64_t n = get<uint64_t>([&] { return what; });
    if (n > (kMaxHeader - pos) / minSize)
      throw ModelError("model/header-too-large",
                       file + ": " + what + " at byte " + std::to_string(start) + " is " +
                           std::to_string(n) + ", which cannot fit in a " +
                           std::to_string(kMaxHeader) + "-byte header");
    if (n * minSize > size - pos)
      throw ModelError("model/truncated", file + ": " + what + " at byte " + std::to_string(start) +
                                              " is " + std::to_string(n) + ", but only " +
                                              std::to_string(size - pos) +
                                              " bytes remain in the file");
    return n;
  }
  template <typename What>
  uint64_t stringLength(const What& what) {
    uint64_t start = pos;
    uint64_t len = get<uint64_t>([&] { return "the length of " + what(); });
    if (len > kMaxString)
      throw ModelError("model/header-too-large", file + ": the length of " + what() + " at byte " +
                                                     std::to_string(start) + " is " +
                                                     std::to_string(len) + " (limit " +
                                                     std::to_string(kMaxString) + ")");
    need(len, what);
    return len;
  }
  template <typename What>
  std::string string(const What& what) {
    uint64_t len = stringLength(what);
    std::string s(reinterpret_cast<const char*>(at(pos)), size_t(len));
    pos += len;
    return s;
  }
};

const int kFixedSize[13] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
const char* kValueTypeNames[13] = {"u8",   "i8",     "u16",   "i16", "u32", "i32", "f32",
                                   "bool", "string", "array", "u64", "i64", "f64"};

void skipValue(Cursor& c, uint32_t type, const std::string& key, int depth);

void skipArray(Cursor& c, const std::string& key, int depth) {
  if (depth > kMaxDepth)
    throw ModelError("model/bad-header", c.file + ": metadata \"" + key +
                                             "\" nests arrays deeper than " +
                                             std::to_string(kMaxDepth));
  uint32_t et = c.get<uint32_t>([&] { return "the array element type of \"" + key + "\""; });
  if (et > 12)
    throw ModelError(
        "model/bad-header",
        c.file + ": metadata \"" + key + "\" is an array of unknown type " + std::to_string(et));
  // The smallest element: a fixed-size value, an empty string (its u64 length) or an empty
  // array (u32 type, u64 count).
  uint64_t minSize = kFixedSize[et] ? uint64_t(kFixedSize[et]) : (et == 8 ? 8 : 12);
  uint64_t n =
      c.count(std::string("the element count of ") + kValueTypeNames[et] + " array \"" + key + "\"",
              minSize);
  if (kFixedSize[et]) {
    c.skip(n * uint64_t(kFixedSize[et]), [&] { return "array \"" + key + "\""; });
    return;
  }
  for (uint64_t i = 0; i < n; i++) skipValue(c, et, key, depth);
}

void skipValue(Cursor& c, uint32_t type, const std::string& key, int depth) {
  if (type > 12)
    throw ModelError("model/bad-header", c.file + ": metadata \"" + key +
                                             "\" has unknown value type " + std::to_string(type));
  auto what = [&] { return "a value of \"" + key + "\""; };
  if (type == 8) {
    c.skip(c.stringLength(what), what);
    return;
  }
  if (type == 9) {
    skipArray(c, key, depth + 1);
    return;
  }
  c.skip(uint64_t(kFixedSize[type]), what);
}

}  // namespace

void readGgufInto(Model& m, const std::string& file) {
  auto mf = std::make_unique<InputFile>(file);
  Cursor c{*mf, mf->size(), file, 0, {}};
  auto bad = [&](const std::string& msg) {
    return ModelError("model/bad-header", file + ": " + msg);
  };
  char magic[4] = {};
  if (c.size >= 4) {
    c.need(4, [] { return std::string("the magic"); });
    std::memcpy(magic, c.at(0), 4);
  }
  if (std::memcmp(magic, "GGUF", 4) != 0)
    throw bad("not a GGUF file (expected the magic \"GGUF\")");
  c.pos = 4;
  uint32_t version = c.get<uint32_t>("the version");
  if (version != 2 && version != 3) {
    std::string hint = (version == 0x02000000u || version == 0x03000000u)
                           ? " (big-endian GGUF is not supported)"
                           : "";
    throw bad("unsupported GGUF version " + std::to_string(version) + hint +
              "; only little-endian v2/v3 are read");
  }
  // The smallest tensor info: a 1-byte name (u64 length), n_dims, type and offset.
  uint64_t tensorCount = c.count("the tensor count", 25);
  uint64_t kvCount = c.count("the metadata key/value count", 13);
  if (tensorCount + m.tensors.size() > kMaxTensors)
    throw ModelError("model/header-too-large", file + ": the header lists " +
                                                   std::to_string(tensorCount) +
                                                   " tensors (the model may have at most " +
                                                   std::to_string(kMaxTensors) + ")");
  if (kvCount > kMaxKvs)
    throw ModelError("model/header-too-large",
                     file + ": the header lists " + std::to_string(kvCount) +
                         " metadata key/values (limit " + std::to_string(kMaxKvs) + ")");

  uint64_t alignment = 32;
  std::unordered_set<std::string> keys;
  for (uint64_t i = 0; i < kvCount; i++) {
    std::string key = c.string([&] { return "metadata key #" + std::to_string(i); });
    if (!keys.insert(key).second) throw bad("duplicate metadata key \"" + key + "\"");
    const uint64_t rawStart = c.pos;
    uint32_t type = c.get<uint32_t>([&] { return "the value type of \"" + key + "\""; });
    struct Capture {
      Cursor& c;
      Model& m;
      const std::string& key;
      uint64_t start;
      ~Capture() {
        if (c.pos > start)
          m.ggufKvs.emplace_back(
              key, std::string(reinterpret_cast<const char*>(c.at(start)), size_t(c.pos - start)));
      }
    } capture{c, m, key, rawStart};
    if (key == "general.alignment") {
      uint64_t a = 0;
      if (type == 4)
        a = c.get<uint32_t>("the value of \"general.alignment\"");
      else if (type == 10)
        a = c.get<uint64_t>("the value of \"general.alignment\"");
      else if (type == 5) {
        int32_t v = c.get<int32_t>("the value of \"general.alignment\"");
        a = v > 0 ? uint64_t(v) : 0;
      } else {
        skipValue(c, type, key, 0);
        a = 0;
      }
      if (a == 0 || (a & (a - 1)) != 0 || a > (1u << 30))
        throw bad("general.alignment must be a power of two");
      alignment = a;
    } else if (key == "general.architecture" && type == 8) {
      m.architecture =
          c.string([] { return std::string("the value of \"general.architecture\""); });
    } else {
      skipValue(c, type, key, 0);
    }
  }

  struct Raw {
    std::string name;
    std::vector<int64_t> ne;
    uint32_t type;
    uint64_t rel;
  };
  std::vector<Raw> infos;
  std::unordered_set<std::string> names;
  for (uint64_t i = 0; i < tensorCount; i++) {
    Raw r;
    r.name = c.string([&] { return "the name of tensor #" + std::to_string(i); });
    checkTensorName(file, r.name);
    const std::string where = file + ": tensor " + quotedName(r.name);
    if (!names.insert(r.name).second)
      throw ModelError("model/bad-header", file + ": duplicate tensor name " + quotedName(r.name),
                       r.name);
    auto field = [&](const char* what) {
      return [&r, what] { return std::string(what) + " of tensor " + quotedName(r.name); };
    };
    uint32_t nDims = c.get<uint32_t>(field("n_dims"));
    if (nDims > uint32_t(kMaxDims))
      throw ModelError("model/bad-shape",
                       where + ": " + std::to_string(nDims) + " dimensions (GGUF allows at most 4)",
                       r.name);
    for (uint32_t d = 0; d < nDims; d++) {
      uint64_t v = c.get<uint64_t>(
          [&] { return "ne[" + std::to_string(d) + "] of tensor " + quotedName(r.name); });
      if (v >= uint64_t(kMaxSafe))
        throw ModelError("model/bad-shape",
                         where + ": dimension ne[" + std::to_string(d) +
                             "] = " + std::to_string(v) + " is too large",
                         r.name);
      r.ne.push_back(int64_t(v));
    }
    r.type = c.get<uint32_t>(field("the type"));
    r.rel = c.get<uint64_t>(field("the data offset"));
    if (r.rel >= uint64_t(kMaxSafe))
      throw ModelError("model/bad-offsets",
                       where + ": data offset " + std::to_string(r.rel) + " is beyond any file",
                       r.name);
    infos.push_back(std::move(r));
  }
  const uint64_t dataOffset = (c.pos + alignment - 1) / alignment * alignment;
  const int fileIndex = int(m.files.size());

  std::vector<TensorRef> out;
  for (auto& r : infos) {
    const std::string where = file + ": tensor " + quotedName(r.name);
    const GgmlType* gt = nullptr;
    for (const auto& g : kGgmlTypes)
      if (uint32_t(g.id) == r.type) gt = &g;
    if (!gt)
      throw ModelError("model/unknown-dtype",
                       where + ": unknown ggml type " + std::to_string(r.type), r.name);
    int64_t elements = 1;
    bool zero = false;
    for (auto d : r.ne) zero |= d == 0;
    if (!zero)
      for (auto d : r.ne)
        if (!mulOk(elements, d, elements) || elements >= kMaxSafe)
          throw ModelError("model/bad-shape", where + ": shape has more than 2^53 elements",
                           r.name);
    if (zero) elements = 0;
    const int64_t rowLen = r.ne.empty() ? 1 : r.ne[0];
    if (rowLen % gt->blockSize != 0)
      throw ModelError("model/bad-shape",
                       where + ": ne[0] = " + std::to_string(rowLen) +
                           " is not a multiple of the " + gt->name + " block size " +
                           std::to_string(gt->blockSize),
                       r.name);
    int64_t bytes;
    if (!mulOk(elements / gt->blockSize, gt->typeSize, bytes) || bytes >= kMaxSafe)
      throw ModelError("model/bad-shape", where + ": byte size exceeds 2^53", r.name);
    if (r.rel % alignment != 0)
      throw ModelError("model/bad-offsets",
                       where + ": data offset " + std::to_string(r.rel) +
                           " is not a multiple of the alignment " + std::to_string(alignment),
                       r.name);
    const uint64_t offset = dataOffset + r.rel;
    if (offset > c.size || uint64_t(bytes) > c.size - offset)
      throw ModelError("model/truncated",
                       where + ": data [" + std::to_string(offset) + ", " +
                           std::to_string(offset + uint64_t(bytes)) +
                           ") runs past the end of the file (" + std::to_string(c.size) + " bytes)",
                       r.name);
    TensorRef t;
    t.name = r.name;
    t.shape.assign(r.ne.rbegin(), r.ne.rend());
    t.dtypeName = gt->name;
    if (!parseDtype(gt->name, t.dtype)) t.dtype = DType::Ggml;
    t.elements = elements;
    t.bytes = bytes;
    t.file = fileIndex;
    t.offset = offset;
    out.push_back(std::move(t));
  }
  // No two tensors may share bytes.
  std::vector<const TensorRef*> sorted;
  for (const auto& t : out)
    if (t.bytes > 0) sorted.push_back(&t);
  std::sort(sorted.begin(), sorted.end(),
            [](const TensorRef* a, const TensorRef* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < sorted.size(); i++)
    if (sorted[i]->offset < sorted[i - 1]->offset + uint64_t(sorted[i - 1]->bytes))
      throw ModelError("model/bad-offsets",
                       file + ": tensor \"" + sorted[i]->name + "\" data at " +
                           std::to_string(sorted[i]->offset) + " overlaps tensor \"" +
                           sorted[i - 1]->name + "\"",
                       sorted[i]->name);
  m.files.push_back(std::move(mf));
  for (auto& t : out) m.tensors.push_back(std::move(t));
}

}  // namespace bitsmith
