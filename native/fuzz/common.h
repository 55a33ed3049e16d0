// Shared by the libFuzzer harnesses (one file per reader, built and run by scripts/fuzz.mjs
// with clang's -fsanitize=fuzzer,address,undefined). The input is written to a real file,
// named as the reader expects, so each harness drives the reader the way a user's file
// does (open, fstat, pread). A harness passes when the reader either accepts the input and
// what it then reads is consistent, or refuses it with a ModelError whose code is one of
// the documented ones; anything else (a crash, a sanitizer report, another exception, a
// leak, an allocation beyond -malloc_limit_mb) fails the run.
#pragma once
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "io/error.h"

namespace fuzz {

/** This process's own folder, on /dev/shm when there is one; removed at exit. */
inline const std::string& workDir() {
  // Never freed: the exit handler below runs after static destructors would have.
  static const std::string* dir = [] {
    const std::string base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    auto* d = new std::string(base + "/bitsmith-fuzz-" + std::to_string(getpid()));
    std::filesystem::create_directories(*d);
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(*dir, ec);
    });
    return d;
  }();
  return *dir;
}

/** Writes the input to `name` in the work folder (replacing it) and returns its path. */
inline std::string writeInput(const std::string& name, const uint8_t* data, size_t size) {
  const std::string path = workDir() + "/" + name;
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
  return path;
}

/** Aborts (a finding) unless the refusal's code starts with one of the prefixes. */
inline void expectCode(const bitsmith::ModelError& e, std::initializer_list<const char*> prefixes) {
  for (const char* p : prefixes)
    if (e.code().rfind(p, 0) == 0) {
      if (std::string(e.what()).empty()) break;  // every refusal says what is wrong
      return;
    }
  std::fprintf(stderr, "unexpected error code %s: %s\n", e.code().c_str(), e.what());
  std::abort();
}

/** True when the input starts with the GGUF magic, which Model::open reads as GGUF whatever
 *  the file's extension (no safetensors or llama2.c file can start so). */
inline bool ggufMagic(const uint8_t* data, size_t size) {
  return size >= 4 && data[0] == 'G' && data[1] == 'G' && data[2] == 'U' && data[3] == 'F';
}

/** Aborts with a message: the input broke an invariant the harness checks. */
[[noreturn]] inline void finding(const std::string& what) {
  std::fprintf(stderr, "invariant broken: %s\n", what.c_str());
  std::abort();
}

}  // namespace fuzz

#include <cstring>
#include <memory>
#include <vector>

#include "io/model.h"
#include "quant/ggml/ggml.h"

namespace fuzz {

// Reads every tensor of an accepted model, whole and in two row ranges, as f32 (when the
// backend decodes its dtype) and as stored bytes, and checks they agree: the split read
// equals the whole one bit for bit, and the f32 read equals a conversion of the raw bytes.
// Sizes are bounded by the file (the readers check every tensor lies inside it).
inline void readAllTensors(const bitsmith::Model& m) {
  using namespace bitsmith;
  for (const TensorRef& t : m.tensors) {
    const int64_t rows = t.rows(), cols = t.cols();
    if (t.elements == 0) {  // a 0 in the shape: kept as it is, nothing to read
      if (t.bytes != 0) finding(t.name + ": no elements but bytes");
      continue;
    }
    if (t.elements < 0 || rows * cols != t.elements) finding(t.name + ": rows*cols != elements");
    const bool plain = t.dtype != DType::Ggml;
    const GgmlTypeInfo* g = ggmlSourceType(t);
    std::vector<uint8_t> raw(size_t(t.bytes));
    m.readRowsRaw(t, 0, rows, raw.data());
    if (plain && rows > 1) {
      std::vector<uint8_t> split(raw.size());
      const int64_t mid = rows / 2, rb = t.rowBytes();
      m.readRowsRaw(t, 0, mid, split.data());
      m.readRowsRaw(t, mid, rows, split.data() + mid * rb);
      if (split != raw) finding(t.name + ": split raw read differs");
    }
    if (!(plain ? isReadableFloat(t.dtype) : g != nullptr)) continue;
    std::vector<float> whole(size_t(t.elements)), split(size_t(t.elements)),
        fromRaw(size_t(t.elements));
    const bool ok = m.readRowsF32(t, 0, rows, whole.data());
    const int64_t mid = rows / 2;
    const bool ok1 = m.readRowsF32(t, 0, mid, split.data());
    const bool ok2 = m.readRowsF32(t, mid, rows, split.data() + mid * cols);
    if (ok != (ok1 && ok2)) finding(t.name + ": split f32 read disagrees on finiteness");
    if (std::memcmp(whole.data(), split.data(), whole.size() * 4) != 0)
      finding(t.name + ": split f32 read differs");
    bool rawOk = true;
    if (plain)
      rawOk = toF32(t.dtype, raw.data(), t.elements, fromRaw.data());
    else {
      ggmlDecodeRows(g->type, raw.data(), rows, cols, fromRaw.data());
      rawOk = allFinite(fromRaw.data(), t.elements);
    }
    if (ok != rawOk) finding(t.name + ": f32 read and raw conversion disagree on finiteness");
    if (std::memcmp(whole.data(), fromRaw.data(), whole.size() * 4) != 0)
      finding(t.name + ": f32 read differs from the conversion of the raw bytes");
  }
}

}  // namespace fuzz
