#include "run/validate.h"

#include <algorithm>
#include <cstdlib>
#include <string>
#include <unordered_set>

#include "io/error.h"
#include "run/describe.h"

namespace bitsmith {

bool readsProjectionInput(const std::string& name) {
  if (layerOf(name) < 0) return false;
  for (const char* p : {".self_attn.q_proj.weight", ".self_attn.k_proj.weight",
                        ".self_attn.v_proj.weight", ".self_attn.o_proj.weight",
                        ".mlp.gate_proj.weight", ".mlp.up_proj.weight", ".mlp.down_proj.weight"}) {
    const std::string suffix = p;
    if (name.size() > suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      return true;
  }
  return false;
}

ValidatedJob validateJob(const Job& job, const Model& model) {
  // Re-validate the plan against the model before anything runs.
  ValidatedJob v;
  std::vector<Item>& items = v.items;
  std::unordered_set<std::string> named;
  for (const JobTensor& jt : job.tensors) {
    if (!named.insert(jt.name).second)
      throw ModelError("run/bad-job", "tensor \"" + jt.name + "\" appears twice in the job",
                       jt.name);
    const TensorRef* ref = model.find(jt.name);
    if (!ref)
      throw ModelError("run/tensor-missing",
                       model.path + ": tensor \"" + jt.name +
                           "\" of the plan is not in the model (was the model changed?)",
                       jt.name);
    if (ref->shape != jt.shape)
      throw ModelError("run/shape-mismatch",
                       model.path + ": tensor \"" + jt.name + "\" has shape " +
                           shapeText(ref->shape) + " in the model but " + shapeText(jt.shape) +
                           " in the plan (was the model changed?)",
                       jt.name);
    if (jt.quantize) {
      model.requireReadable(*ref);
      // gptq and awq need the whole X^T X; an imatrix is its diagonal.
      if (!jt.unknownMethod.empty())
        throw ModelError("run/unsupported",
                         "tensor \"" + jt.name + "\": method " + jt.unknownMethod +
                             " is not executed yet (only rtn, gptq, hqq and awq)",
                         jt.name);
      const char* method = methodName(jt.method);
      if (needsActivations(jt.method) && job.imatrix.enabled() && !job.calibration.enabled())
        throw ModelError("run/needs-hessian",
                         "tensor \"" + jt.name + "\": method " + method +
                             " needs the full Hessian X^T X; an imatrix has only its diagonal " +
                             "(use calibration generated or calibration tokens)",
                         jt.name);
      if (needsActivations(jt.method)) {
        if (!job.calibration.enabled())
          throw ModelError("run/needs-calibration",
                           "tensor \"" + jt.name + "\": method " + method +
                               " needs calibration (calibration generated, tokens or text)",
                           jt.name);
      }
      if (ref->elements == 0)
        throw ModelError("run/bad-job", "tensor \"" + jt.name + "\" has no elements to quantize",
                         jt.name);
    }
    if (jt.quantize && needsActivations(jt.method) && job.calibration.enabled() &&
        !readsProjectionInput(jt.name))
      throw ModelError(
          "run/needs-calibration",
          "tensor \"" + jt.name + "\": method " + methodName(jt.method) +
              (jt.method == Method::Awq ? " needs the activations of the tensor's input, which the "
                                        : " needs the Hessian of the tensor's input, which the ") +
              "forward pass collects for the q/k/v/o/gate/up/down projections only",
          jt.name);
    items.push_back({ref, &jt});
  }
  for (const TensorRef& ref : model.tensors)
    if (!named.count(ref.name)) items.push_back({&ref, nullptr});

  for (const Item& it : items) {
    v.params += it.ref->elements;
    v.bytesIn += it.ref->bytes;
  }
  return v;
}

int64_t layerOf(const std::string& name) {
  static const std::string p = "model.layers.";
  if (name.compare(0, p.size(), p) != 0) return -1;
  size_t i = p.size();
  int64_t l = 0;
  bool digits = false;
  while (i < name.size() && name[i] >= '0' && name[i] <= '9' && l < (int64_t(1) << 40)) {
    l = l * 10 + (name[i] - '0');
    digits = true;
    i++;
  }
  return digits && i < name.size() && name[i] == '.' ? l : -1;
}

namespace {
// q/k/v, o, gate/up, down, then everything else of the layer.
int siteRank(const std::string& name) {
  static const char* order[] = {".self_attn.q_proj.", ".self_attn.k_proj.", ".self_attn.v_proj.",
                                ".self_attn.o_proj.", ".mlp.gate_proj.",    ".mlp.up_proj.",
                                ".mlp.down_proj."};
  for (int i = 0; i < 7; i++)
    if (name.find(order[i]) != std::string::npos) return i;
  return 7;
}
}  // namespace

std::vector<Item> layerOrder(const std::vector<Item>& items, int64_t layers,
                             std::vector<size_t>& starts) {
  std::vector<Item> out;
  std::vector<std::vector<Item>> byLayer(size_t(std::max<int64_t>(0, layers)));
  for (const Item& it : items) {
    const int64_t l = layerOf(it.ref->name);
    if (l >= 0 && l < layers)
      byLayer[size_t(l)].push_back(it);
    else
      out.push_back(it);
  }
  starts.assign(size_t(layers + 1), 0);
  for (int64_t l = 0; l < layers; l++) {
    auto& v = byLayer[size_t(l)];
    std::stable_sort(v.begin(), v.end(), [](const Item& a, const Item& b) {
      return siteRank(a.ref->name) < siteRank(b.ref->name);
    });
    starts[size_t(l)] = out.size();
    out.insert(out.end(), v.begin(), v.end());
  }
  starts[size_t(layers)] = out.size();
  return out;
}

}  // namespace bitsmith
