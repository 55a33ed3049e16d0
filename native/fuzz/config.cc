// libFuzzer harness: config.json as the forward pass reads it (forward::readConfig of a
// Hugging Face folder holding only that file: the JSON, model_type, every size and rope
// field with its bounds). A config accepted is consistent; the refusals are forward/*
// codes (forward/missing-tensor too where the reader checks the config against the
// model's tensors, which this folder does not have).
#include "common.h"
#include "forward/llama.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bitsmith;
  fuzz::writeInput("config.json", data, size);
  Model m;
  m.path = fuzz::workDir();
  m.format = "hf-folder";
  try {
    const forward::LlamaConfig c = forward::readConfig(m);
    if (c.dim < 1 || c.heads < 1 || c.kvHeads < 1 || c.headDim < 1 || c.layers < 1 || c.vocab < 1 ||
        c.heads % c.kvHeads != 0 || c.headDim % 2 != 0)
      fuzz::finding("accepted an inconsistent config");
  } catch (const ModelError& e) {
    fuzz::expectCode(e, {"forward/"});
  }
  return 0;
}
