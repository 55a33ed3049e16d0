#include "run/compressed_tensors.h"

#include <cstring>

#include "io/error.h"

namespace bitsmith {

namespace {

bool isInt(const QuantConfig& c) {
  return c.format == "int4" || c.format == "int8";
}
bool isNv(const QuantConfig& c) {
  return c.format == "nvfp4";
}
int intBits(const QuantConfig& c) {
  return c.format == "int4" ? 4 : 8;
}

const char* scaleDtype(ScaleType s) {
  switch (s) {
    case ScaleType::F16:
      return "F16";
    case ScaleType::BF16:
      return "BF16";
    case ScaleType::F32:
      return "F32";
    default:
      return nullptr;
  }
}

int64_t groupsPerRow(int64_t cols, const QuantConfig& c) {
  if (c.groupKind == GroupKind::Channel) return 1;
  return (cols + c.group - 1) / c.group;
}

std::vector<int64_t> scaleShape(int64_t rows, int64_t cols, const QuantConfig& c) {
  if (c.groupKind == GroupKind::Tensor) return {1};
  return {rows, groupsPerRow(cols, c)};
}

std::string moduleOf(const std::string& weightName) {
  return weightName.substr(0, weightName.size() - 7);
}

// Code i of an LSB-first b-bit stream.
inline uint32_t codeAt(const uint8_t* p, int64_t i, int b) {
  const int64_t bit = i * b;
  uint32_t v = 0;
  for (int k = 0; k < b; ++k) {
    const int64_t at = bit + k;
    v |= uint32_t((p[at >> 3] >> (at & 7)) & 1u) << k;
  }
  return v;
}

inline void putU32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = uint8_t(v >> (8 * i));
}

}  // namespace

std::string ctProblem(const std::string& weightName, const std::vector<int64_t>& shape,
                      const QuantConfig& c) {
  const std::string suffix = ".weight";
  if (weightName.size() <= suffix.size() ||
      weightName.compare(weightName.size() - suffix.size(), suffix.size(), suffix) != 0)
    return "compressed-tensors stores quantized module weights named <module>.weight; \"" +
           weightName + "\" is not one";
  if (shape.size() != 2)
    return "compressed-tensors stores quantized 2-D weights; \"" + weightName + "\" has " +
           std::to_string(shape.size()) + " dimensions";
  if (!isInt(c) && !isNv(c) && c.format != "fp8_e4m3")
    return "compressed-tensors output stores int4, int8, fp8_e4m3 and nvfp4 weights; " + c.format +
           " is not written";
  if (c.outliers || c.lowrank || c.rotate)
    return "compressed-tensors cannot store outliers, lowrank or rotate";
  if (isNv(c))  // fixed e4m3 scales per 16 weights; two codes per byte
    return shape[1] % 16 == 0 ? ""
                              : "nvfp4 needs the " + std::to_string(shape[1]) + " columns of \"" +
                                    weightName + "\" to be a multiple of 16";
  if (!scaleDtype(c.scale)) return "compressed-tensors stores scales as f16, bf16 or f32";
  if (!c.symmetric && c.zero != ZeroType::Int)
    return "compressed-tensors stores integer zero points: use `zero int`";
  if (!c.symmetric && c.groupKind == GroupKind::Tensor)
    return "compressed-tensors packs zero points per group or channel, not per tensor";
  if (c.groupKind == GroupKind::Size && shape[1] % c.group != 0)
    return "group " + std::to_string(c.group) + " does not divide the " + std::to_string(shape[1]) +
           " columns of \"" + weightName + "\"";
  return "";
}

std::vector<OutTensor> ctTensors(const std::string& weightName, int64_t rows, int64_t cols,
                                 const QuantConfig& c) {
  const std::string p = moduleOf(weightName);
  const std::vector<int64_t> ss = scaleShape(rows, cols, c);
  int64_t scaleCount = 1;
  for (auto d : ss) scaleCount *= d;
  const int sb = c.scale == ScaleType::F32 ? 4 : 2;
  std::vector<OutTensor> out;
  if (isNv(c)) {
    out.push_back({p + ".weight_packed", "U8", {rows, cols / 2}, rows * (cols / 2)});
    out.push_back({p + ".weight_scale", "F8_E4M3", {rows, cols / 16}, rows * (cols / 16)});
    out.push_back({p + ".weight_global_scale", "F32", {1}, 4});
  } else if (isInt(c)) {
    const int b = intBits(c), pf = 32 / b;
    const int64_t words = (cols + pf - 1) / pf;
    out.push_back({p + ".weight_packed", "I32", {rows, words}, rows * words * 4});
    out.push_back({p + ".weight_scale", scaleDtype(c.scale), ss, scaleCount * sb});
    if (!c.symmetric) {
      const int64_t zr = (rows + pf - 1) / pf, g = groupsPerRow(cols, c);
      out.push_back({p + ".weight_zero_point", "I32", {zr, g}, zr * g * 4});
    }
    out.push_back({p + ".weight_shape", "I64", {2}, 16});
  } else {
    out.push_back({p + ".weight", "F8_E4M3", {rows, cols}, rows * cols});
    out.push_back({p + ".weight_scale", scaleDtype(c.scale), ss, scaleCount * sb});
  }
  return out;
}

std::vector<Bytes> ctConvert(const std::string& weightName, int64_t rows, int64_t cols,
                             const QuantConfig& c, const StoredTensor& st) {
  const std::vector<OutTensor> spec = ctTensors(weightName, rows, cols, c);
  std::vector<Bytes> out;
  auto expect = [&](const Bytes& got, size_t want, const char* what) {
    if (got.size() != want)
      throw ModelError("run/internal",
                       "tensor \"" + weightName + "\": the stored " + what + " are " +
                           std::to_string(got.size()) + " bytes, compressed-tensors needs " +
                           std::to_string(want),
                       weightName);
  };
  if (isNv(c)) {
    // The LSB-first 4-bit stream of even-length rows is compressed-tensors' byte order
    // (element 2i in the low nibble, 2i + 1 in the high); the e2m1 code (sign in bit 3) is
    // its index; the scales are the e4m3 bytes in row-major group order; `extra` is G.
    expect(st.codes, size_t(rows * cols / 2), "codes");
    out.push_back(st.codes);
    expect(st.scales, size_t(spec[1].bytes), "scales");
    out.push_back(st.scales);
    expect(st.extra, 4, "global scale");
    out.push_back(st.extra);
  } else if (isInt(c)) {
    const int b = intBits(c), pf = 32 / b;
    const int64_t words = (cols + pf - 1) / pf;
    expect(st.codes, size_t((rows * cols * b + 7) / 8), "codes");
    Bytes packed(size_t(spec[0].bytes));
    if ((cols * b) % 32 == 0) {
      // Rows fill whole words: the LSB-first code stream is already the little-endian words.
      std::memcpy(packed.data(), st.codes.data(), packed.size());
    } else
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t w = 0; w < words; ++w) {
          uint32_t v = 0;
          for (int k = 0; k < pf; ++k) {
            const int64_t col = w * pf + k;
            if (col < cols) v |= codeAt(st.codes.data(), r * cols + col, b) << (k * b);
          }
          putU32(packed.data() + (r * words + w) * 4, v);
        }
      }
    out.push_back(std::move(packed));
    expect(st.scales, size_t(spec[1].bytes), "scales");
    out.push_back(st.scales);
    if (!c.symmetric) {
      const int64_t g = groupsPerRow(cols, c), zr = (rows + pf - 1) / pf;
      expect(st.zeros, size_t((rows * g * b + 7) / 8), "zero points");
      Bytes z(size_t(zr * g * 4));
      for (int64_t j = 0; j < zr; ++j) {
        for (int64_t gi = 0; gi < g; ++gi) {
          uint32_t v = 0;
          for (int k = 0; k < pf; ++k) {
            const int64_t row = j * pf + k;
            if (row < rows) v |= codeAt(st.zeros.data(), row * g + gi, b) << (k * b);
          }
          putU32(z.data() + (j * g + gi) * 4, v);
        }
      }
      out.push_back(std::move(z));
    }
    Bytes shape(16);
    for (int i = 0; i < 8; ++i) {
      shape[size_t(i)] = uint8_t(uint64_t(rows) >> (8 * i));
      shape[size_t(8 + i)] = uint8_t(uint64_t(cols) >> (8 * i));
    }
    out.push_back(std::move(shape));
  } else {
    expect(st.codes, size_t(rows * cols), "codes");
    out.push_back(st.codes);
    expect(st.scales, size_t(spec[1].bytes), "scales");
    out.push_back(st.scales);
  }
  for (size_t i = 0; i < out.size(); ++i)
    if (int64_t(out[i].size()) != spec[i].bytes)
      throw ModelError("run/internal",
                       "tensor \"" + spec[i].name + "\": " + std::to_string(out[i].size()) +
                           " bytes, the header says " + std::to_string(spec[i].bytes),
                       spec[i].name);
  return out;
}

}  // namespace bitsmith
