// libFuzzer harness: the calibration token file (a JSON array of token-id arrays) as
// forward::readTokenFile reads it for a model of 1000 tokens and 64 positions. Accepted
// sequences hold ids inside the vocabulary, at least 2 and at most 64 of them.
#include "common.h"
#include "forward/calibrate.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bitsmith;
  const std::string path = fuzz::writeInput("tokens.json", data, size);
  try {
    const forward::Sequences s = forward::readTokenFile(path, 1000, 64, 0, 0);
    if (s.empty()) fuzz::finding("no sequences");
    for (const auto& seq : s) {
      if (seq.size() < 2 || seq.size() > 64) fuzz::finding("sequence length");
      for (int32_t id : seq)
        if (id < 0 || id >= 1000) fuzz::finding("token id outside the vocabulary");
    }
  } catch (const ModelError& e) {
    fuzz::expectCode(e, {"calibration/bad-tokens"});
  }
  return 0;
}
