// The rotary position embedding as Hugging Face transformers computes it
// (modeling_rope_utils): the inverse frequency of each rotary pair for rope_type default,
// linear, dynamic, yarn and llama3, and the cos/sin table for a run of positions with
// YaRN's attention factor applied to both. Everything in f64; the table is stored as f32.
//
//   default  inv_i = theta^(-2i/d)                      (d = head_dim, i < d/2)
//   linear   inv_i / factor                             (positions divided by factor)
//   dynamic  theta' = theta * (factor * L / max - (factor - 1))^(d / (d - 2)), with
//            L = max(sequence length, max_position_embeddings): NTK-aware, the base grows
//            only past the original context
//   yarn     inv_i = interp_i * ramp_i + extrap_i * (1 - ramp_i), interp = inv / factor,
//            ramp over the correction range of beta_fast/beta_slow rotations within
//            original_max_position_embeddings; cos and sin times attention_factor
//            (default 0.1 ln(factor) + 1, or the mscale / mscale_all_dim ratio)
//   llama3   wavelength 2 pi / inv_i: below original/high_freq_factor kept, above
//            original/low_freq_factor divided by factor, smoothly interpolated between
#pragma once
#include <cstdint>
#include <vector>

namespace bitsmith {
namespace forward {

enum class RopeType { Default, Linear, Dynamic, Yarn, Llama3 };

struct Rope {
  RopeType type = RopeType::Default;
  double theta = 10000.0;
  int64_t dim = 0;                   // rotary dimensions (the head size; even)
  double factor = 1.0;               // linear, dynamic, yarn, llama3
  int64_t maxPositions = 0;          // dynamic: the length past which the base grows
  int64_t originalMaxPositions = 0;  // yarn, llama3: the pretraining context
  double lowFreqFactor = 1.0, highFreqFactor = 4.0;  // llama3
  double betaFast = 32.0, betaSlow = 1.0;            // yarn
  bool truncate = true;          // yarn: the correction range rounded outwards to integers
  double attentionFactor = 1.0;  // yarn: cos and sin are multiplied by it
};

/** "default", "linear", "dynamic", "yarn", "llama3". */
const char* ropeTypeName(RopeType t);

/** inv_freq[i], i < dim/2, for a sequence of seqLen positions (only dynamic depends on it). */
std::vector<double> ropeInverseFrequencies(const Rope& r, int64_t seqLen);

/** cos and sin [t][dim/2] of positions [start, start + t), times the attention factor.
 *  The sequence length dynamic scaling sees is start + t (as transformers' dynamic rope
 *  does for one call: max(position_ids) + 1). */
void ropeTable(const Rope& r, int64_t start, int64_t t, std::vector<float>& cosT,
               std::vector<float>& sinT);

}  // namespace forward
}  // namespace bitsmith
