// libFuzzer harness: the safetensors reader (header length, JSON header, names, dtypes,
// shapes, offsets) through Model::open, then every tensor read back (common.h).
#include "common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz::writeInput("model.safetensors", data, size);
  try {
    auto m = bitsmith::Model::open(path);
    if (m->format != (fuzz::ggufMagic(data, size) ? "gguf" : "safetensors"))
      fuzz::finding("format " + m->format);
    fuzz::readAllTensors(*m);
  } catch (const bitsmith::ModelError& e) {
    fuzz::expectCode(e, {"model/"});
  }
  return 0;
}
