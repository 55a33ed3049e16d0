// libFuzzer harness: the llama2.c checkpoint reader through Model::open (header fields,
// sizes against the file, the q/k row permutation), every tensor read back (common.h),
// then the forward pass's view of the header (forward::readConfig).
#include "common.h"
#include "forward/llama.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz::writeInput("model.bin", data, size);
  std::unique_ptr<bitsmith::Model> m;
  try {
    m = bitsmith::Model::open(path);
    if (m->format != (fuzz::ggufMagic(data, size) ? "gguf" : "llama2c"))
      fuzz::finding("format " + m->format);
    fuzz::readAllTensors(*m);
  } catch (const bitsmith::ModelError& e) {
    fuzz::expectCode(e, {"model/"});
    return 0;
  }
  try {
    const bitsmith::forward::LlamaConfig c = bitsmith::forward::readConfig(*m);
    if (c.dim <= 0 || c.heads <= 0 || c.headDim * c.heads != c.dim) fuzz::finding("config dims");
  } catch (const bitsmith::ModelError& e) {
    fuzz::expectCode(e, {"forward/"});
  }
  return 0;
}
