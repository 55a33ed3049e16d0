// libFuzzer harness: the JSON parser (model headers, indexes, config.json, token files,
// run specs) and writer. Parsing never throws; an accepted document written back and
// parsed again gives the same text (stringify is a fixed point after one round); a
// refusal names a byte inside the input, and a bad string's start is a quote.
#include <string>

#include "common.h"
#include "io/json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bitsmith;
  const char* text = reinterpret_cast<const char*>(data);
  json::Value v;
  json::ParseError err;
  json::ParseLimits limits;
  limits.maxValues = 100000;
  const bool utf8 = json::validUtf8(text, size);
  if (utf8 != (json::validUtf8Prefix(text, size) == size)) fuzz::finding("validUtf8Prefix");
  if (!json::parse(text, size, v, err, limits)) {
    if (err.message.empty() || err.offset > size) fuzz::finding("error position " + err.message);
    if (err.badString) {
      if (err.stringStart >= size || text[err.stringStart] != '"') fuzz::finding("string start");
      const std::string shown = json::quotedForMessage(text, size, err.stringStart);
      if (shown.empty() || shown[0] != '"') fuzz::finding("quotedForMessage");
    }
    return 0;
  }
  const std::string once = json::stringify(v);
  json::Value again;
  json::ParseError err2;
  json::ParseLimits unlimited;
  unlimited.maxValues = size_t(1) << 30;
  if (!json::parse(once.data(), once.size(), again, err2, unlimited))
    fuzz::finding("stringify output does not parse: " + err2.message);
  if (json::stringify(again) != once) fuzz::finding("stringify is not a fixed point");
  return 0;
}
