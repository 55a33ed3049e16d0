// libFuzzer harness: the importance-matrix reader, both formats (legacy .dat and GGUF
// general.type = imatrix; the first bytes choose). An accepted file has entries whose
// means are finite, >= 0 and as many as its matrices hold.
#include <cmath>

#include "common.h"
#include "io/imatrix.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz::writeInput("imatrix.dat", data, size);
  try {
    const bitsmith::Imatrix im = bitsmith::readImatrix(path);
    if (im.entries.empty()) fuzz::finding("no entries");
    for (const auto& e : im.entries) {
      if (e.name.empty() || e.nIn < 1 || e.nMat < 1 || int64_t(e.mean.size()) != e.nIn * e.nMat)
        fuzz::finding("entry " + e.name + ": bad sizes");
      for (float v : e.mean)
        if (!std::isfinite(v) || v < 0) fuzz::finding("entry " + e.name + ": bad mean");
      if (im.find(e.name) != &e && im.find(e.name)->name != e.name) fuzz::finding("find");
    }
  } catch (const bitsmith::ModelError& e) {
    fuzz::expectCode(e, {"calibration/bad-imatrix"});
  }
  return 0;
}
