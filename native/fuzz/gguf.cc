// libFuzzer harness: the GGUF reader (magic, version, counts, metadata of every value
// type and nested arrays, tensor infos, alignment, offsets) through Model::open, then
// every tensor read back (common.h), which decodes the ggml block types the backend reads
// (q4_0 ... q6_k, iq4_nl, iq4_xs) from whatever bytes the blocks hold.
#include "common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz::writeInput("model.gguf", data, size);
  try {
    auto m = bitsmith::Model::open(path);
    if (m->format != "gguf") fuzz::finding("format " + m->format);
    fuzz::readAllTensors(*m);
  } catch (const bitsmith::ModelError& e) {
    fuzz::expectCode(e, {"model/"});
  }
  return 0;
}
