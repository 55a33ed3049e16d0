// The compressed-tensors layout (the format vLLM and Hugging Face transformers load) of a
// quantized weight, converted exactly from the quantizers' stored form (quant/stored.h).
// For a module P whose weight `P.weight` is [out, in]:
//   int4 / int8 ("pack-quantized"):
//     P.weight_packed      I32 [out, ceil(in / (32/b))]: the signed value q in
//                          [-2^(b-1), 2^(b-1) - 1] offset to unsigned (q + 2^(b-1)), packed
//                          along the input dimension, 32/b per word, element k of a word at
//                          bit shift k*b, rows padded with zeros to whole words
//     P.weight_scale       [out, in/group] ([out, 1] per channel, [1] per tensor) in the
//                          scale's dtype (F16 / BF16 / F32)
//     P.weight_zero_point  asymmetric only: I32 [ceil(out / (32/b)), in/group], the signed
//                          zero point offset to unsigned, packed along the output dimension
//     P.weight_shape       I64 [2] = {out, in}
//   Bitsmith's symmetric code is already q + 2^(b-1); its asymmetric `zero int` code c and
//   zero point z (w = (c - z) s) are compressed-tensors' q = c - 2^(b-1), z' = z - 2^(b-1)
//   (w = (q - z') s, the same integer difference), stored offset, i.e. as c and z again.
//   fp8_e4m3 ("float-quantized"):
//     P.weight             F8_E4M3 [out, in] (the e4m3fn byte), P.weight_scale as above.
//   nvfp4 ("nvfp4-pack-quantized", strategy tensor_group, group 16; in % 16 == 0):
//     P.weight_packed        U8 [out, in/2]: two e2m1 codes per byte (magnitude index 0..7
//                            of {0, .5, 1, 1.5, 2, 3, 4, 6}, sign in bit 3), element 2i in
//                            the low nibble, 2i + 1 in the high one
//     P.weight_scale         F8_E4M3 [out, in/16]: the block scales sb
//     P.weight_global_scale  F32 [1]: G = 448 * 6 / absmax; w = e2m1 * (sb / G)
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "io/output_folder.h"
#include "io/safetensors_writer.h"
#include "quant/stored.h"

namespace bitsmith {

/** Why compressed-tensors cannot store this tensor's configuration (empty: it can). */
std::string ctProblem(const std::string& weightName, const std::vector<int64_t>& shape,
                      const QuantConfig& c);

/** The tensors the weight `weightName` becomes, in the order ctConvert returns their bytes. */
std::vector<OutTensor> ctTensors(const std::string& weightName, int64_t rows, int64_t cols,
                                 const QuantConfig& c);

/** The bytes of ctTensors(...) from the stored form (sizes checked against them). */
std::vector<Bytes> ctConvert(const std::string& weightName, int64_t rows, int64_t cols,
                             const QuantConfig& c, const StoredTensor& st);

}  // namespace bitsmith
