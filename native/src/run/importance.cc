#include "run/importance.h"

#include "io/error.h"

namespace bitsmith {

std::unique_ptr<Importance> Importance::fromImatrix(
    const ImatrixSource& src, const std::vector<std::pair<std::string, int64_t>>& quantized) {
  Imatrix im = readImatrix(src.path);
  auto out = std::unique_ptr<Importance>(new Importance());
  out->kind_ = "imatrix";
  out->path_ = src.path;
  out->format_ = im.format;
  out->entries_ = int64_t(im.entries.size());
  for (const auto& [tensor, cols] : quantized) {
    auto it = src.entryOf.find(tensor);
    if (it == src.entryOf.end()) continue;
    const std::string& name = it->second;
    const ImatrixEntry* e = im.find(name);
    if (!e)
      throw ModelError("calibration/bad-imatrix",
                       src.path + ": no entry \"" + name + "\" (for tensor \"" + tensor +
                           "\"); was the file changed?",
                       tensor);
    if (e->nMat != 1)
      throw ModelError(
          "calibration/unsupported",
          src.path + ": entry \"" + name + "\" holds " + std::to_string(e->nMat) +
              " matrices (MoE experts); imatrix calibration takes one matrix per tensor",
          tensor);
    if (e->nIn != cols) {
      const bool experts = e->nIn > cols && cols > 0 && e->nIn % cols == 0;
      throw ModelError(
          "calibration/bad-imatrix",
          src.path + ": entry \"" + name + "\" has " + std::to_string(e->nIn) +
              " values but tensor \"" + tensor + "\" has " + std::to_string(cols) +
              " input features" +
              (experts ? " (" + std::to_string(e->nIn / cols) +
                             " expert matrices back to back? MoE imatrices are not supported)"
                       : "") +
              "; is the imatrix for another model?",
          tensor);
    }
    out->byTensor_[tensor] = e->mean;
  }
  return out;
}

std::unique_ptr<Importance> Importance::fromHessians(forward::HessianCollector& hs) {
  auto out = std::unique_ptr<Importance>(new Importance());
  out->kind_ = "hessian";
  for (const forward::Hessian& h : hs.hessians()) {
    if (h.n <= 0 || int64_t(h.h.size()) != h.n * h.n) continue;
    std::vector<float> d(size_t(h.n));
    for (int64_t j = 0; j < h.n; j++) d[size_t(j)] = float(h.h[size_t(j * h.n + j)]);
    for (const std::string& t : h.tensors) out->byTensor_[t] = d;
  }
  return out;
}

const float* Importance::forTensor(const std::string& name, int64_t cols) const {
  auto it = byTensor_.find(name);
  if (it == byTensor_.end() || int64_t(it->second.size()) != cols) return nullptr;
  return it->second.data();
}

json::Value Importance::event(double seconds) const {
  json::Value ev = json::Value::object();
  ev.set("type", json::Value::of("importance"));
  ev.set("source", json::Value::of(kind_));
  if (kind_ == "imatrix") {
    ev.set("path", json::Value::of(path_));
    ev.set("format", json::Value::of(format_));
    ev.set("entries", json::Value::of(entries_));
  }
  ev.set("tensors", json::Value::of(int64_t(byTensor_.size())));
  ev.set("seconds", json::Value::of(seconds));
  return ev;
}

std::pair<double, double> diagonalOutputError(const float* w, const float* q, int64_t rows,
                                              int64_t cols, const float* d) {
  double num = 0, den = 0;
  for (int64_t r = 0; r < rows; r++) {
    const float* wr = w + r * cols;
    const float* qr = q + r * cols;
    for (int64_t j = 0; j < cols; j++) {
      const double e = double(qr[j]) - double(wr[j]);
      num += double(d[j]) * e * e;
      den += double(d[j]) * double(wr[j]) * double(wr[j]);
    }
  }
  return {num, den};
}

}  // namespace bitsmith
