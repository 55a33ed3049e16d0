// libFuzzer harness: config.json as the forward pass reads it (forward::configFromJson:
// the JSON, model_type, every size and rope field with its bounds). An accepted config has
// consistent head sizes.
#include "common.h"
#include "forward/llama.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bitsmith;
  Model m;
  m.path = fuzz::workDir();
  m.format = "hf-folder";
  try {
    const forward::LlamaConfig c = forward::configFromJson(
        m, "config.json", std::string(reinterpret_cast<const char*>(data), size));
    if (c.dim < 1 || c.heads < 1 || c.kvHeads < 1 || c.headDim < 1 || c.layers < 1 || c.vocab < 1 ||
        c.heads % c.kvHeads != 0 || c.headDim % 2 != 0)
      fuzz::finding("accepted an inconsistent config");
  } catch (const ModelError& e) {
    fuzz::expectCode(
        e, {"forward/bad-config", "forward/unsupported-architecture", "forward/missing-tensor"});
  }
  return 0;
}
