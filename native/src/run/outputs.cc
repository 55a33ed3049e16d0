#include "run/outputs.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <unordered_set>

#include "io/dtype.h"
#include "io/error.h"
#include "io/gguf_writer.h"
#include "io/safetensors_writer.h"
#include "io/temp_file.h"
#include "quant/ggml/ggml.h"
#include "run/async_writer.h"
#include "run/compressed_tensors.h"
#include "run/describe.h"
#include "run/events.h"
#include "run/tensor_io.h"
#include "threads/pool.h"

#ifndef BITSMITH_VERSION
#define BITSMITH_VERSION "0.0.0"
#endif

namespace fs = std::filesystem;

namespace bitsmith {

using json::Value;

namespace {

// output fake or output compressed_tensors: one safetensors file (in a folder for
// compressed_tensors), written in order by a background thread.
class SafetensorsSink : public OutputSink, public RowChunkSink {
 public:
  SafetensorsSink(const Job& job, const Model& model, const std::vector<Item>& items)
      : job_(job), model_(model), ct_(job.outputKind == "compressed_tensors") {
    const bool ct = ct_;
    for (const auto& f : model.files) {
      if (sameFile(f->path(), job.outputPath) ||
          (ct && sameFile(fs::path(f->path()).parent_path().string(), job.outputPath)))
        throw ModelError("run/output-is-input", job.outputPath +
                                                    ": the output would overwrite the model " +
                                                    (ct ? "folder" : "file") + " it reads");
    }
    std::vector<OutTensor> outs;
    Value formats = Value::object();
    for (const Item& it : items) {
      // safetensors cannot hold ggml blocks: a block-quantized GGUF tensor is written as its
      // decoded values in F32 (exact: every block decodes to f32 products of f16 scales and
      // small integers), kept or quantized alike.
      if (it.ref->dtype == DType::Ggml) model.requireReadable(*it.ref);
      if (ct && it.job && it.job->quantize) {
        const std::string why = ctProblem(it.ref->name, it.ref->shape, it.job->config);
        if (!why.empty())
          throw ModelError("run/unsupported", "tensor \"" + it.ref->name + "\": " + why,
                           it.ref->name);
        for (OutTensor& o : ctTensors(it.ref->name, it.ref->rows(), it.ref->cols(), it.job->config))
          outs.push_back(std::move(o));
      } else {
        outs.push_back(
            {it.ref->name, dtypeName(writtenDtype(*it.ref)), it.ref->shape, writtenBytes(*it.ref)});
      }
      const bool decoded = it.ref->dtype == DType::Ggml;
      formats.set(it.ref->name,
                  it.job && it.job->quantize
                      ? configValue(*it.job)
                      : Value::of(decoded ? "keep: " + it.ref->dtypeName + " blocks decoded to F32"
                                          : std::string("keep")));
    }
    Value meta = Value::object();
    meta.set("format", Value::of("pt"));
    meta.set("bitsmith.version", Value::of(BITSMITH_VERSION));
    meta.set("bitsmith.kind",
             Value::of(ct ? "compressed-tensors"
                          : "fake-quant: weights dequantized to their source dtype"));
    meta.set("bitsmith.source", Value::of(model.path));
    for (const auto& [k, v] : job.outputMetadata.members)
      if (v.isString()) meta.set(k, v);
    meta.set("bitsmith.tensors", Value::of(json::stringify(formats)));
    std::string file = job.outputPath;
    if (ct) {
      folder_ = std::make_unique<OutputFolder>(job.outputPath);
      folder_->setReplacePolicy(job.outputReplace);
      folder_->open();
      file = (fs::path(folder_->temp()) / "model.safetensors").string();
    }
    writer_ = std::make_unique<SafetensorsWriter>(file, std::move(outs), std::move(meta));
    if (!ct) writer_->setReplacePolicy(job.outputReplace);
    writer_->open();
    async_ = std::make_unique<AsyncWriter>(*writer_, size_t(64) << 20);
  }
  bool needsStored() const override { return ct_; }
  RowChunkSink* rowChunks(size_t) override { return ct_ ? nullptr : this; }
  bool wantsStored() const override { return false; }
  void push(std::unique_ptr<uint8_t[]> data, size_t n) override {
    async_->push(std::move(data), n);
  }
  void push(std::vector<float>&& values) override { async_->push(std::move(values)); }

  void keep(size_t, const TensorRef& ref, const std::vector<uint8_t>* folded,
            RunEvents& ev) override {
    const int64_t rows = ref.rows(), cols = ref.cols();
    (void)cols;
    if (!ct_) folded = nullptr;  // the fake-quant output keeps the norm as it is
    if (folded && ct_) {
      std::unique_ptr<uint8_t[]> o(new uint8_t[folded->size()]);
      std::memcpy(o.get(), folded->data(), folded->size());
      async_->push(std::move(o), folded->size());
      return;
    }
    if (ref.bytes > 0 && ref.dtype == DType::Ggml) {
      // Decoded to F32 a chunk at a time (whole rows: the blocks never straddle rows).
      const int64_t chunkRows =
          std::max<int64_t>(1, (int64_t(4) << 20) / std::max<int64_t>(1, cols));
      for (int64_t r0 = 0; r0 < rows; r0 += chunkRows) {
        ev.checkCancel();
        const int64_t r1 = std::min(rows, r0 + chunkRows);
        std::vector<float> f(size_t((r1 - r0) * cols));
        model_.readRowsF32(
            ref, r0, r1,
            f.data());  // a non-finite value is copied as it is, like any kept weight
        model_.release(ref, r0, r1);
        async_->push(std::move(f));
      }
    } else if (ref.bytes > 0) {
      const int64_t rb = ref.rowBytes();
      const int64_t chunkRows = std::max<int64_t>(1, (int64_t(8) << 20) / std::max<int64_t>(1, rb));
      // Read (pread: a model truncated meanwhile is an error, not a SIGBUS) a chunk at a time.
      for (int64_t r0 = 0; r0 < rows; r0 += chunkRows) {
        ev.checkCancel();
        const int64_t r1 = std::min(rows, r0 + chunkRows);
        std::unique_ptr<uint8_t[]> tmp(new uint8_t[size_t((r1 - r0) * rb)]);
        model_.readRowsRaw(ref, r0, r1, tmp.get());
        model_.release(ref, r0, r1);
        async_->push(std::move(tmp), size_t((r1 - r0) * rb));
      }
    }
  }

  void quantized(size_t, const TensorRef& ref, const QuantConfig& cfg, std::vector<float>& dequant,
                 const StoredTensor& stored, ThreadPool& pool) override {
    const int64_t rows = ref.rows(), cols = ref.cols();
    if (ct_) {
      for (Bytes& b : ctConvert(ref.name, rows, cols, cfg, stored)) {
        std::unique_ptr<uint8_t[]> out(new uint8_t[b.size() ? b.size() : 1]);
        if (!b.empty()) std::memcpy(out.get(), b.data(), b.size());
        async_->push(std::move(out), b.size());
      }
      return;
    }
    const DType outDtype = writtenDtype(ref);
    if (outDtype == DType::F32) {
      async_->push(std::vector<float>(dequant));
    } else {
      const int64_t n = rows * cols;
      const int es = dtypeSize(outDtype);
      std::unique_ptr<uint8_t[]> out(new uint8_t[size_t(n) * size_t(es)]);
      fromF32Parallel(outDtype, dequant.data(), n, out.get(), pool);
      async_->push(std::move(out), size_t(n) * size_t(es));
    }
  }

  void finish(RunEvents& ev) override {
    ev.checkCancel();
    async_->finish();
    ev.checkCancel();
    if (folder_) {
      // The folder complete under its temporary name (its weights file too).
      writer_->commit();
      folder_->writeText("config.json", job_.outputConfig);
      for (const auto& [from, name] : job_.outputCopies) {
        ev.checkCancel();
        folder_->copyFile(from, name);
      }
      ev.checkCancel();
    }
  }
  void checkDestination() const override {
    bitsmith::checkDestination(job_.outputPath, job_.outputReplace);
  }
  void commit() override {
    if (folder_)
      folder_->commit();
    else
      writer_->commit();
  }

 private:
  const Job& job_;
  const Model& model_;
  bool ct_;
  // Destroyed in reverse: the writer thread, then the writer's temporary file, then the folder.
  std::unique_ptr<OutputFolder> folder_;
  std::unique_ptr<SafetensorsWriter> writer_;
  std::unique_ptr<AsyncWriter> async_;
};

struct GgufPlan {
  std::string name;
  int64_t permuteHeads = 0;
  uint32_t type = 0;
  bool viaF32 = false;  // a kept tensor converted to F32 (F64 sources; norms and biases)
  bool omit = false;    // not written (a tied lm_head, rotary tables)
};

// output gguf: llama.cpp's names, q/k rows in its interleaved order, ggml blocks.
class GgufSink : public OutputSink, public RowChunkSink {
 public:
  GgufSink(const Job& job, const Model& model, const std::vector<Item>& items)
      : model_(model), plans_(items.size()), path_(job.ggufPath), replace_(job.ggufReplace) {
    for (const auto& f : model.files)
      if (sameFile(f->path(), job.ggufPath))
        throw ModelError("run/output-is-input",
                         job.ggufPath + ": the output would overwrite the model file it reads");
    if (job.output && sameFile(job.outputPath, job.ggufPath))
      throw ModelError("run/bad-job",
                       job.ggufPath + ": output fake and output gguf name the same file");
    const Value* specTensors = job.ggufSpec.get("tensors");
    const Value* specMeta = job.ggufSpec.get("metadata");
    std::vector<GgufKv> kvs = parseGgufKvs(specMeta ? *specMeta : Value::array());
    if (const Value* cp = job.ggufSpec.get("copySourceMetadata");
        cp && cp->kind == Value::Bool && cp->boolean) {
      // A GGUF source: its key/values first (architecture parameters, tokenizer, ...), byte
      // for byte, except those the spec sets.
      std::unordered_set<std::string> ours;
      for (const GgufKv& kv : kvs) ours.insert(kv.key);
      std::vector<GgufKv> all;
      for (const auto& [key, raw] : model.ggufKvs) {
        if (ours.count(key)) continue;
        GgufKv kv;
        kv.key = key;
        kv.raw = raw;
        all.push_back(std::move(kv));
      }
      for (GgufKv& kv : kvs) all.push_back(std::move(kv));
      kvs = std::move(all);
    }
    std::vector<GgufTensor> outs = ggufExtraTensors(job.ggufSpec);  // rope_freqs: first
    std::unordered_set<std::string> ggufNames;
    for (const GgufTensor& t : outs) ggufNames.insert(t.name);
    for (size_t i = 0; i < items.size(); i++) {
      const TensorRef& ref = *items[i].ref;
      const JobTensor* jt = items[i].job;
      GgufPlan& gp = plans_[i];
      const Value* ts = specTensors ? specTensors->get(ref.name) : nullptr;
      if (const Value* om = ts ? ts->get("omit") : nullptr;
          om && om->kind == Value::Bool && om->boolean) {
        gp.omit = true;
        continue;
      }
      const Value* nm = ts ? ts->get("name") : nullptr;
      if (!nm || !nm->isString() || nm->string.empty())
        throw ModelError(
            "run/unsupported",
            job.ggufPath + ": tensor \"" + ref.name +
                "\" has no llama.cpp name; output gguf writes Llama-family models only",
            ref.name);
      gp.name = nm->string;
      if (!ggufNames.insert(gp.name).second)
        throw ModelError("run/bad-job",
                         job.ggufPath + ": two tensors would be named \"" + gp.name + "\"",
                         ref.name);
      if (const Value* ph = ts->get("permuteHeads"); ph && ph->isNumber() && ph->number > 0) {
        gp.permuteHeads = int64_t(ph->number);
        if (ref.shape.size() != 2 || ref.rows() % (2 * gp.permuteHeads) != 0)
          throw ModelError("run/bad-job",
                           "tensor \"" + ref.name + "\" " + shapeText(ref.shape) +
                               ": its rows cannot be split into " +
                               std::to_string(gp.permuteHeads) + " heads of rotary pairs",
                           ref.name);
      }
      if (jt && jt->quantize) {
        const QuantConfig& c = jt->config;
        const GgmlTypeInfo* gt = findGgmlType(c.format);
        if (!gt)
          throw ModelError("run/unsupported",
                           job.ggufPath + ": tensor \"" + ref.name + "\" is quantized to " +
                               c.format +
                               ", which GGUF cannot store (ggml block types only: q4_0 ... q6_k, "
                               "iq1_s ... iq4_xs, tq1_0, tq2_0)",
                           ref.name);
        if (c.outliers || c.lowrank || c.rotate)
          throw ModelError("run/unsupported",
                           job.ggufPath + ": tensor \"" + ref.name +
                               "\": GGUF cannot store outliers, lowrank or rotate",
                           ref.name);
        gp.type = uint32_t(gt->ggmlId);
      } else {
        switch (ref.dtype) {
          case DType::F32:
            gp.type = 0;
            break;
          case DType::F16:
          case DType::BF16:
            // Norms and 1-D tensors as F32 when the spec says so: llama.cpp computes with them
            // in F32.
            if (const Value* f = ts ? ts->get("f32") : nullptr;
                f && f->kind == Value::Bool && f->boolean) {
              gp.type = 0;
              gp.viaF32 = true;
            } else {
              gp.type = ref.dtype == DType::F16 ? 1 : 30;
            }
            break;
          case DType::F64:
            gp.type = 0;
            gp.viaF32 = true;
            break;
          case DType::Ggml: {
            // A kept block-quantized tensor of a GGUF source: copied as it is.
            std::string lower = ref.dtypeName;
            for (auto& ch : lower) ch = char(std::tolower(static_cast<unsigned char>(ch)));
            if (const GgmlTypeInfo* gt = findGgmlType(lower); gt && !gp.permuteHeads) {
              gp.type = uint32_t(gt->ggmlId);
              break;
            }
            throw ModelError("run/unsupported",
                             model.fileOf(ref).path() + ": tensor \"" + ref.name +
                                 "\" is stored as " + ref.dtypeName +
                                 ", which output gguf does not copy",
                             ref.name);
          }
          default:
            throw ModelError("run/unsupported",
                             model.fileOf(ref).path() + ": tensor \"" + ref.name +
                                 "\" is stored as " + ref.dtypeName +
                                 ", which output gguf does not write",
                             ref.name);
        }
      }
      GgufTensor t;
      t.name = gp.name;
      t.ne.assign(ref.shape.rbegin(), ref.shape.rend());
      if (t.ne.empty()) t.ne.push_back(1);
      t.type = gp.type;
      t.bytes = ggmlTensorBytes(t.type, t.ne, ref.name);
      outs.push_back(std::move(t));
    }
    gguf_ = std::make_unique<GgufWriter>(job.ggufPath, std::move(kvs), std::move(outs), 32);
    gguf_->setReplacePolicy(job.ggufReplace);
    gguf_->open();
  }
  bool needsStored() const override { return true; }
  // Chunks of rows in the source order: only for tensors written without a permutation.
  RowChunkSink* rowChunks(size_t index) override {
    return plans_[index].permuteHeads ? nullptr : (omitted_ = plans_[index].omit, this);
  }
  bool wantsStored() const override { return true; }
  void push(std::unique_ptr<uint8_t[]> data, size_t n) override {
    if (!omitted_) gguf_->write(data.get(), n);
  }
  void push(std::vector<float>&&) override {
    throw ModelError("run/internal", "output gguf takes the stored codes of a row chunk");
  }

  void keep(size_t index, const TensorRef& ref, const std::vector<uint8_t>* folded,
            RunEvents&) override {
    const int64_t rows = ref.rows(), cols = ref.cols();
    const GgufPlan& gp = plans_[index];
    if (gp.omit) return;
    if (folded) {
      if (gp.viaF32) {
        std::vector<float> f(size_t(ref.elements));
        toF32(ref.dtype, folded->data(), ref.elements, f.data());
        gguf_->write(f.data(), f.size() * 4);
      } else {
        gguf_->write(folded->data(), folded->size());
      }
      return;
    }
    if (ref.elements == 0) return;
    {
      if (gp.viaF32) {
        std::vector<float> f(size_t(ref.elements));
        if (!model_.readRowsF32(ref, 0, rows, f.data()))
          throwNonFinite(model_, ref, 0, f.data(), ref.elements);
        std::vector<float> g(f.size());
        if (gp.permuteHeads)
          permuteRows(reinterpret_cast<const uint8_t*>(f.data()),
                      reinterpret_cast<uint8_t*>(g.data()), rows, cols * 4, gp.permuteHeads, true);
        else
          g.swap(f);
        gguf_->write(g.data(), g.size() * 4);
      } else {
        std::unique_ptr<uint8_t[]> tmp(new uint8_t[size_t(ref.bytes)]);
        model_.readRowsRaw(ref, 0, rows, tmp.get());
        model_.release(ref, 0, rows);
        if (gp.permuteHeads) {
          std::unique_ptr<uint8_t[]> p(new uint8_t[size_t(ref.bytes)]);
          permuteRows(tmp.get(), p.get(), rows, ref.rowBytes(), gp.permuteHeads, true);
          tmp.swap(p);
        }
        gguf_->write(tmp.get(), size_t(ref.bytes));
      }
    }
  }

  void quantized(size_t index, const TensorRef& ref, const QuantConfig& cfg, std::vector<float>&,
                 const StoredTensor& stored, ThreadPool&) override {
    const GgufPlan& gp = plans_[index];
    if (gp.omit) return;
    // ggml blocks are row-local: quantizing rows in llama.cpp's order gives the same blocks
    // as permuting the rows of the blocks quantized in the source order.
    const int64_t rows = ref.rows(), cols = ref.cols();
    const int64_t rowBytes = int64_t(ggmlRowBytes(findGgmlType(cfg.format)->type, cols));
    if (int64_t(stored.codes.size()) != rows * rowBytes ||
        stored.bytes().total() != int64_t(stored.codes.size()))
      throw ModelError("run/internal",
                       "tensor \"" + ref.name + "\": the quantizer produced " +
                           std::to_string(stored.codes.size()) +
                           " block bytes, the GGUF layout needs " + std::to_string(rows * rowBytes),
                       ref.name);
    if (!gp.permuteHeads) {
      gguf_->write(stored.codes.data(), stored.codes.size());
      return;
    }
    std::vector<uint8_t> p(stored.codes.size());
    permuteRows(stored.codes.data(), p.data(), rows, rowBytes, gp.permuteHeads, true);
    gguf_->write(p.data(), p.size());
  }

  void finish(RunEvents& ev) override { ev.checkCancel(); }
  void checkDestination() const override { bitsmith::checkDestination(path_, replace_); }
  void commit() override { gguf_->commit(); }

 private:
  const Model& model_;
  std::vector<GgufPlan> plans_;
  std::string path_;
  ReplacePolicy replace_;
  std::unique_ptr<GgufWriter> gguf_;
  bool omitted_ = false;  // the tensor being chunked is not written (rowChunks)
};

}  // namespace

Outputs::Outputs(const Job& job, const Model& model, const std::vector<Item>& items) {
  ct_ = job.output && job.outputKind == "compressed_tensors";
  if (job.output) sinks_.push_back(std::make_unique<SafetensorsSink>(job, model, items));
  if (job.gguf) sinks_.push_back(std::make_unique<GgufSink>(job, model, items));
  storesCodes_ = ct_ || job.gguf;
}

bool Outputs::needsStored() const {
  for (const auto& s : sinks_)
    if (s->needsStored()) return true;
  return false;
}

RowChunkSink* Outputs::rowChunks(size_t index) {
  return sinks_.size() == 1 ? sinks_[0]->rowChunks(index) : nullptr;
}

void Outputs::keep(size_t index, const TensorRef& ref, const std::vector<uint8_t>* folded,
                   RunEvents& ev) {
  for (auto& s : sinks_) s->keep(index, ref, folded, ev);
}

void Outputs::quantized(size_t index, const TensorRef& ref, const QuantConfig& cfg,
                        std::vector<float>& dequant, const StoredTensor& stored, ThreadPool& pool) {
  for (auto& s : sinks_) s->quantized(index, ref, cfg, dequant, stored, pool);
}

void Outputs::openImatrix(const Job& job, int64_t chunks) {
  if (job.imatrixOutput.enabled())
    imatrix_ = std::make_unique<ImatrixSink>(job.imatrixOutput, chunks);
}

void Outputs::commit(RunEvents& ev) {
  for (auto& s : sinks_) s->finish(ev);
  if (imatrix_) imatrix_->finish();
  ev.checkCancel();
  // Every destination still as the caller checked it before the first rename, so a refusal
  // never leaves one output replaced and the other not.
  for (const auto& s : sinks_) s->checkDestination();
  if (imatrix_) imatrix_->checkDestination();
  for (auto& s : sinks_) s->commit();
  if (imatrix_) imatrix_->commit();
}

}  // namespace bitsmith
