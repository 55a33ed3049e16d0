#include "run/imatrix_out.h"

#include <cstring>

#include "forward/calibrate.h"
#include "io/error.h"
#include "io/gguf_writer.h"

namespace bitsmith {

ImatrixSink::ImatrixSink(const ImatrixOutputJob& job, int64_t chunks)
    : job_(job), chunks_(chunks), file_(job.path) {
  file_.setReplacePolicy(job.replace);
}

ImatrixSink::~ImatrixSink() = default;

void ImatrixSink::addLayer(const forward::HessianCollector& hc) {
  for (const forward::Hessian& h : hc.all()) {
    if (h.n == 0 || h.h.size() != size_t(h.n * h.n)) continue;
    for (const std::string& t : h.tensors) {
      auto it = job_.names.find(t);
      if (it == job_.names.end()) continue;
      Entry e;
      e.name = it->second;
      e.tokens = h.tokens;
      e.sums.resize(size_t(h.n));
      for (int64_t j = 0; j < h.n; j++) e.sums[size_t(j)] = h.h[size_t(j * h.n + j)];
      entries_.push_back(std::move(e));
    }
  }
}

namespace {

void put32(std::string& b, int32_t v) {
  char c[4];
  std::memcpy(c, &v, 4);
  b.append(c, 4);
}

}  // namespace

void ImatrixSink::finish() {
  if (finished_) return;
  if (entries_.size() != job_.names.size())
    throw ModelError("run/needs-calibration", job_.path + ": the calibration gave statistics for " +
                                                  std::to_string(entries_.size()) + " of the " +
                                                  std::to_string(job_.names.size()) +
                                                  " weights output imatrix names");
  for (const Entry& e : entries_)
    if (e.tokens <= 0)
      throw ModelError("run/needs-calibration",
                       job_.path + ": no calibration tokens reached \"" + e.name + "\"", e.name);
  if (job_.format == "dat") {
    const int32_t ncall = int32_t(std::max<int64_t>(1, chunks_));
    file_.open();
    std::string b;
    put32(b, int32_t(entries_.size()));
    file_.write(b.data(), b.size());
    for (const Entry& e : entries_) {
      b.clear();
      put32(b, int32_t(e.name.size()));
      b += e.name;
      put32(b, ncall);
      put32(b, int32_t(e.sums.size()));
      std::vector<float> v(e.sums.size());
      for (size_t j = 0; j < v.size(); j++)
        v[j] = float(e.sums[j] / double(e.tokens) * double(ncall));
      b.append(reinterpret_cast<const char*>(v.data()), v.size() * 4);
      file_.write(b.data(), b.size());
    }
    b.clear();
    put32(b, ncall);
    const std::string dataset = "bitsmith " + job_.version + ": " + job_.dataset;
    put32(b, int32_t(dataset.size()));
    b += dataset;
    file_.write(b.data(), b.size());
  } else {
    std::vector<GgufKv> kvs;
    auto kv = [&](const std::string& key, uint32_t type, json::Value v, uint32_t item = 0) {
      GgufKv k;
      k.key = key;
      k.type = type;
      k.itemType = item;
      k.value = std::move(v);
      kvs.push_back(std::move(k));
    };
    kv("general.type", kGgufString, json::Value::of("imatrix"));
    json::Value ds = json::Value::array();
    ds.push(json::Value::of(job_.dataset));
    kv("imatrix.datasets", kGgufArray, std::move(ds), kGgufString);
    kv("imatrix.chunk_count", kGgufU32, json::Value::of(chunks_));
    kv("imatrix.chunk_size", kGgufU32, json::Value::of(job_.chunkSize));
    kv("bitsmith.version", kGgufString, json::Value::of(job_.version));
    std::vector<GgufTensor> ts;
    for (const Entry& e : entries_) {
      const int64_t n = int64_t(e.sums.size());
      GgufTensor sums, counts;
      sums.name = e.name + ".in_sum2";
      sums.ne = {n, 1};
      sums.type = 0;  // F32
      sums.bytes = n * 4;
      counts.name = e.name + ".counts";
      counts.ne = {1, 1};
      counts.type = 0;
      counts.bytes = 4;
      ts.push_back(std::move(sums));
      ts.push_back(std::move(counts));
    }
    gguf_ = std::make_unique<GgufWriter>(job_.path, std::move(kvs), std::move(ts), 32);
    gguf_->setReplacePolicy(job_.replace);
    gguf_->open();
    for (const Entry& e : entries_) {
      std::vector<float> v(e.sums.size());
      for (size_t j = 0; j < v.size(); j++) v[j] = float(e.sums[j]);
      gguf_->write(v.data(), v.size() * 4);
      const float count = float(e.tokens);
      gguf_->write(&count, 4);
    }
  }
  finished_ = true;
}

void ImatrixSink::checkDestination() const {
  bitsmith::checkDestination(job_.path, job_.replace);
}

void ImatrixSink::commit() {
  if (gguf_)
    gguf_->commit();
  else
    file_.commit();
}

}  // namespace bitsmith
