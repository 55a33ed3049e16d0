// llama2.c checkpoints (the legacy "version 0" export): 7 little-endian int32 header
// fields (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len; a negative
// vocab_size means an unshared classifier), then f32 arrays token_embedding[vocab, dim],
// rms_att[L, dim], wq[L, dim, dim], wk[L, kv_dim, dim], wv[L, kv_dim, dim],
// wo[L, dim, dim], rms_ffn[L, dim], w1[L, hidden, dim], w2[L, dim, hidden],
// w3[L, hidden, dim], rms_final[dim], freq_cis_real[seq_len, head_size/2],
// freq_cis_imag[seq_len, head_size/2], and wcls[vocab, dim] when unshared.
//
// Tensors get Hugging Face Llama names (as core/src/models/llama2c.ts). The rotary tables
// are derived data and are not exposed. llama2.c rotates interleaved pairs (2i, 2i+1)
// while Hugging Face rotates the first half of each head against the second, so q_proj
// and k_proj rows are presented in the Hugging Face order (the permutation of
// convert_hf_to_llama2c / HF's convert_llama_weights_to_hf): written out as safetensors
// they form a standard HF checkpoint. Row-wise quantization is unaffected by the order.
#include "io/error.h"
#include "io/model.h"

namespace bitsmith {

constexpr int32_t kMaxLayers = 4096;

void readLlama2cInto(Model& m, const std::string& file) {
  auto mf = std::make_unique<InputFile>(file);
  const uint64_t size = mf->size();
  if (size < 28)
    throw ModelError("model/truncated",
                     file + ": file ends while reading the 28-byte llama2.c header (file has " +
                         std::to_string(size) + " bytes)");
  int32_t h[7];
  mf->read(0, h, 28);
  if (uint32_t(h[0]) == 0x616b3432u)
    throw ModelError("model/bad-header", file +
                                             ": llama2.c \"ak42\" export (version 1/2) is not "
                                             "supported; export with the legacy version 0 format");
  const char* names[7] = {"dim",        "hidden_dim", "n_layers", "n_heads",
                          "n_kv_heads", "vocab_size", "seq_len"};
  for (int i = 0; i < 7; i++) {
    if (i == 5 ? h[i] == 0 || h[i] == INT32_MIN : h[i] <= 0)
      throw ModelError("model/bad-header",
                       file + ": llama2.c header field " + names[i] + " = " + std::to_string(h[i]) +
                           (i == 5 ? " (must be non-zero)" : " (must be positive)"));
  }
  // Tiny dimensions make a layer a few bytes, so the file size alone would let a 25 MB
  // file declare millions of layers (nine tensors each); 4096 is the forward pass's bound.
  if (h[2] > kMaxLayers)
    throw ModelError("model/bad-header",
                     file + ": llama2.c header field n_layers = " + std::to_string(h[2]) +
                         " (at most " + std::to_string(kMaxLayers) + ")");
  const int64_t dim = h[0], hidden = h[1], L = h[2], heads = h[3], kvHeads = h[4], seqLen = h[6];
  const bool shared = h[5] > 0;
  const int64_t vocab = shared ? h[5] : -int64_t(h[5]);
  if (heads % kvHeads != 0)
    throw ModelError("model/bad-header",
                     file + ": llama2.c header n_kv_heads = " + std::to_string(kvHeads) +
                         " does not divide n_heads = " + std::to_string(heads));
  if (dim % heads != 0)
    throw ModelError("model/bad-header",
                     file + ": llama2.c header n_heads = " + std::to_string(heads) +
                         " does not divide dim = " + std::to_string(dim));
  const int64_t headSize = dim / heads;
  // An odd head size has no rotary pairs to reorder: q/k stay as stored.
  const bool permute = headSize % 2 == 0;
  const int64_t kvDim = headSize * kvHeads;

  // Element counts in file order, all overflow-checked.
  int64_t off = 28;
  auto tooBig = [&]() {
    return ModelError("model/bad-header",
                      file + ": llama2.c header describes more data than any file can hold");
  };
  auto mul = [&](int64_t a, int64_t b) {
    int64_t r;
    if (!mulOk(a, b, r)) throw tooBig();
    return r;
  };
  auto take = [&](int64_t elements) {  // returns the offset of an f32 array and advances
    int64_t at = off, bytes = mul(elements, 4);
    if (!addOk(off, bytes, off)) throw tooBig();
    return at;
  };
  struct Arr {
    const char* what;
    int64_t at;
    int64_t perLayer;
  };
  const int64_t emb = take(mul(vocab, dim));
  const int64_t rmsAtt = take(mul(L, dim));
  const int64_t wq = take(mul(L, mul(dim, dim)));
  const int64_t wk = take(mul(L, mul(kvDim, dim)));
  const int64_t wv = take(mul(L, mul(kvDim, dim)));
  const int64_t wo = take(mul(L, mul(dim, dim)));
  const int64_t rmsFfn = take(mul(L, dim));
  const int64_t w1 = take(mul(L, mul(hidden, dim)));
  const int64_t w2 = take(mul(L, mul(dim, hidden)));
  const int64_t w3 = take(mul(L, mul(hidden, dim)));
  const int64_t rmsFinal = take(dim);
  take(mul(seqLen, headSize / 2));
  take(mul(seqLen, headSize / 2));
  const int64_t wcls = shared ? -1 : take(mul(vocab, dim));
  if (uint64_t(off) > size)
    throw ModelError("model/truncated",
                     file + ": llama2.c header (dim " + std::to_string(dim) + ", hidden_dim " +
                         std::to_string(hidden) + ", " + std::to_string(L) + " layers, vocab " +
                         std::to_string(vocab) + ", seq_len " + std::to_string(seqLen) +
                         ") needs " + std::to_string(off) + " bytes, file has " +
                         std::to_string(size));
  // Trailing bytes are tolerated, as by core/src/models/llama2c.ts.

  const int fileIndex = int(m.files.size());
  auto add = [&](std::string name, std::vector<int64_t> shape, int64_t at, int64_t permute = 0) {
    TensorRef t;
    t.name = std::move(name);
    t.shape = std::move(shape);
    t.dtype = DType::F32;
    t.dtypeName = "F32";
    t.elements = 1;
    for (auto d : t.shape) t.elements *= d;
    t.bytes = t.elements * 4;
    t.file = fileIndex;
    t.offset = uint64_t(at);
    t.permuteHeads = permute;
    m.tensors.push_back(std::move(t));
  };
  add("model.embed_tokens.weight", {vocab, dim}, emb);
  for (int64_t l = 0; l < L; l++) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    add(p + "input_layernorm.weight", {dim}, rmsAtt + l * dim * 4);
    add(p + "self_attn.q_proj.weight", {dim, dim}, wq + l * dim * dim * 4, permute ? heads : 0);
    add(p + "self_attn.k_proj.weight", {kvDim, dim}, wk + l * kvDim * dim * 4,
        permute ? kvHeads : 0);
    add(p + "self_attn.v_proj.weight", {kvDim, dim}, wv + l * kvDim * dim * 4);
    add(p + "self_attn.o_proj.weight", {dim, dim}, wo + l * dim * dim * 4);
    add(p + "post_attention_layernorm.weight", {dim}, rmsFfn + l * dim * 4);
    add(p + "mlp.gate_proj.weight", {hidden, dim}, w1 + l * hidden * dim * 4);
    add(p + "mlp.down_proj.weight", {dim, hidden}, w2 + l * dim * hidden * 4);
    add(p + "mlp.up_proj.weight", {hidden, dim}, w3 + l * hidden * dim * 4);
  }
  add("model.norm.weight", {dim}, rmsFinal);
  if (!shared) add("lm_head.weight", {vocab, dim}, wcls);
  m.files.push_back(std::move(mf));
}

}  // namespace bitsmith
