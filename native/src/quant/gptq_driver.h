// GPTQ's column pass over one grid family (a policy of quant/driver.h: stats, fit, store,
// quantOne), so every group is fitted exactly as RTN fits it and every weight becomes a
// point of the stored format. quant/gptq.cc prepares the plan (column order, dead inputs,
// the Hessian's factor) and each family file instantiates the pass with its policies.
//
// Reference path (the spec): per row in f64, with U = the upper Cholesky factor of H^-1:
//   q_j = Q(w~_j), e = (w~_j - q_j) / U_jj, w~_k -= e U_jk for every later column k.
// Fast path, f32: with V the upper triangular factor of H = V V^T (the Cholesky factor of
// H with rows and columns reversed; V = U^-1), the same weights w~ are (by substituting
// e = -(q - w) V, which the update rule implies)
//   w~_i = w_i + sum_{k<i} (w_k - q_k) Vs[k][i],   Vs[k][i] = V[k][i] / V[i][i],
// with w the weights before the pass: no inverse is formed. Columns run in blocks; inside
// a block each quantized column updates the block's later columns at once; after the
// block, the columns right of it take the block's (w - q) at once, one GEMM over all rows
// (linalg/gemm.h, on the pool). Groups (without act_order) are fitted when their first
// column is reached, on the weights w~ then current: a block never ends inside a group
// that started inside it, so every column of such a group has every earlier column's
// update by then. The U rule's weights of a group's columns at its first column j are not
// the V form's partial sums b (they agree at each column's own turn only): with
// t_i = (b_i - w_i) V_ii, they are w_y + sum_{j<=i<=y} t_i U[i][y] (from V U = I), U's
// diagonal block being the inverse of V's; the fit takes these.
#pragma once
#include <algorithm>
#include <atomic>
#include <cmath>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "io/error.h"
#include "linalg/gemm.h"
#include "quant/driver.h"

namespace bitsmith {
namespace quant {

struct GptqPlan {
  const float* w = nullptr;   // [rows, cols], the original order
  Layout L;                   // groups along the original column order
  std::vector<int64_t> perm;  // processing position -> original column
  std::vector<uint8_t> dead;  // by original column: H_jj was 0 (weights become 0)
  bool actOrder = false;
  bool reference = false;
  ThreadPool* pool = nullptr;
  const std::atomic<bool>* cancel = nullptr;
  void checkCancel() const {
    if (cancel && cancel->load(std::memory_order_relaxed))
      throw ModelError("run/cancelled", "the run was cancelled");
  }
  // Reference: U [cols, cols] (f64, upper). Fast: the blocks, each with its in-block
  // factor Vb [len, len] (Vb[a][b] = Vs[b0 + a][b0 + b], b > a) and the packed lazy operand
  // (rows c >= b1: Vs[b0 .. b1)[c]).
  std::vector<double> U;
  // H_jj per original column (undamped; 0 for a dead input): the i-quants' importance.
  std::vector<float> hdiag;
  struct Block {
    int64_t b0 = 0, b1 = 0;
    std::vector<float> vb;
    linalg::PackedB lazy;
  };
  std::vector<Block> blocks;
  std::vector<float> vdiag;  // V[c][c]
  std::vector<std::vector<float>>
      ugg;  // per group (no act_order, not the first): U's diagonal block
  // Fast path of a grid quantizing `width` columns jointly: per run of width columns, U's
  // diagonal block [width][width] (upper, row-major), for the run's weights at its start.
  std::vector<float> uvec;
  float weight(int64_t r, int64_t c) const { return dead[size_t(c)] ? 0.0f : w[r * L.cols + c]; }
};

// dst[k] += d * v[k] (the in-block update of the fast path).
void gptqAxpy(float* dst, const float* v, float d, int64_t n);

// Optional: uint32_t quantAt(const Params&, int64_t i, float w, float* dq) for grids whose
// levels depend on the position i inside the group (the k-quants' sub-block scales).
template <class P, class = void>
struct HasQuantAt : std::false_type {};
template <class P>
struct HasQuantAt<P, std::void_t<decltype(&P::quantAt)>> : std::true_type {};
template <class P>
inline uint32_t gptqQuant(const P& pol, const typename P::Params& p, int64_t i, float w,
                          float* dq) {
  if constexpr (HasQuantAt<P>::value)
    return pol.quantAt(p, i, w, dq);
  else
    return (void)i, pol.quantOne(p, w, dq);
}

// Optional: Params fitAt(const float* x, int64_t n, int64_t col0, bool fast) for grids whose
// fit reads more than the group's weights (the i-quants weigh them by the Hessian diagonal
// of the group's columns col0 .. col0 + n).
template <class P, class = void>
struct HasFitAt : std::false_type {};
template <class P>
struct HasFitAt<P, std::void_t<decltype(&P::fitAt)>> : std::true_type {};

// Optional: int quantWidth() and void quantGroup(const Params&, int64_t i, const float* w,
// const float* h, float* dq, uint8_t* codes) for grids that quantize quantWidth()
// consecutive weights jointly (the i-quants' lattice points: 8 weights): at the group's
// first column its codes are chosen together from the weights then current (h: each
// column's error weight 1 / U_jj^2, as GPTQ's own choice of one column weighs it), then its
// columns' errors are propagated one by one as usual. Needs the original column order (no
// act_order) and groups that a block boundary never splits.
template <class P, class = void>
struct HasQuantGroup : std::false_type {};
template <class P>
struct HasQuantGroup<P, std::void_t<decltype(&P::quantGroup)>> : std::true_type {};
template <class P>
inline int gptqWidth(const P& pol) {
  if constexpr (HasQuantGroup<P>::value)
    return pol.quantWidth();
  else
    return (void)pol, 1;
}

template <class P, class = void>
struct HasAssemble : std::false_type {};
template <class P>
struct HasAssemble<P, std::void_t<decltype(&P::assemble)>> : std::true_type {};

template <class P>
void storeGrouped(const P& pol, const std::vector<typename P::Params>& params,
                  const std::vector<uint8_t>& codes, const Layout& L, StoredTensor& st);

template <class P>
typename P::Params gptqFit(const P& pol, const float* x, int64_t n, int64_t col0, bool fast) {
  const typename P::Stats s = pol.stats(x, n, nullptr, fast);
  if (!pol.finite(s))
    throw std::invalid_argument("non-finite weight; quantization needs finite weights");
  if constexpr (HasFitAt<P>::value)
    return pol.fitAt(x, n, col0, fast);
  else
    return (void)col0, chooseParams(pol, x, n, s, nullptr, fast);
}

/** dq [rows*cols] and the stored form, laid out exactly as runGrouped's. */
template <class P>
void runGptq(const P& pol, const GptqPlan& plan, float* dq, StoredTensor& st) {
  using Params = typename P::Params;
  const Layout& L = plan.L;
  const int64_t rows = L.rows, n = L.cols, gs = L.group, G = L.groupsPerRow;
  std::vector<Params> params(size_t(L.groups));
  std::vector<uint8_t> codes(size_t(L.size()));
  const bool fast = !plan.reference;
  const int width = gptqWidth(pol);
  if (width > 1 && (plan.actOrder || gs % width != 0))
    throw std::invalid_argument(
        "gptq: this grid quantizes groups of columns jointly; it needs the original column "
        "order (no act_order)");

  // act_order: static groups, fitted on the original rows before the pass.
  auto fitStatic = [&](int64_t r, std::vector<float>& tmp) {
    tmp.resize(size_t(n));
    for (int64_t c = 0; c < n; c++) tmp[size_t(c)] = plan.weight(r, c);
    for (int64_t g = 0; g < G; g++)
      params[size_t(r * G + g)] =
          gptqFit(pol, tmp.data() + g * gs, std::min(gs, n - g * gs), g * gs, fast);
  };

  if (plan.reference) {
    // Row by row in f64 (rows are independent), every update applied before a column is read.
    const double* U = plan.U.data();
    parallelFor(
        plan.pool, rows,
        [&](int64_t r0, int64_t r1) {
          std::vector<double> row(static_cast<size_t>(n));
          std::vector<float> tmp, gw(static_cast<size_t>(width)), gh(static_cast<size_t>(width)),
              gq(static_cast<size_t>(width));
          std::vector<uint8_t> gc(static_cast<size_t>(width));
          for (int64_t r = r0; r < r1; r++) {
            for (int64_t j = 0; j < n; j++)
              row[size_t(j)] = double(plan.weight(r, plan.perm[size_t(j)]));
            if (plan.actOrder) fitStatic(r, tmp);
            for (int64_t j = 0; j < n; j++) {
              const int64_t c = plan.perm[size_t(j)];
              const int64_t g = c / gs;
              if (!plan.actOrder && c % gs == 0) {
                // Without act_order the processing order is the original one.
                tmp.resize(size_t(gs));
                const int64_t len = std::min(gs, n - c);
                for (int64_t k = 0; k < len; k++) tmp[size_t(k)] = float(row[size_t(c + k)]);
                params[size_t(r * G + g)] = gptqFit(pol, tmp.data(), len, c, false);
              }
              float q;
              if constexpr (HasQuantGroup<P>::value) {
                if (c % width == 0) {  // the group's codes, from the weights now
                  for (int x = 0; x < width; x++) {
                    gw[size_t(x)] = float(row[size_t(j + x)]);
                    const double ujj = U[(j + x) * n + j + x];
                    gh[size_t(x)] = float(1.0 / (ujj * ujj));
                  }
                  pol.quantGroup(params[size_t(r * G + g)], c % gs, gw.data(), gh.data(), gq.data(),
                                 gc.data());
                }
                q = gq[size_t(c % width)];
                codes[size_t(r * n + c)] = gc[size_t(c % width)];
              } else {
                codes[size_t(r * n + c)] = uint8_t(
                    gptqQuant(pol, params[size_t(r * G + g)], c % gs, float(row[size_t(j)]), &q));
              }
              dq[r * n + c] = q;
              const double* u = U + j * n;
              const double e = (row[size_t(j)] - double(q)) / u[j];
              for (int64_t k = j + 1; k < n; k++) row[size_t(k)] -= e * u[k];
            }
          }
        },
        4);
  } else {
    // W~ [rows, n] in processing order; A = w - q of the current block [rows, block].
    // The reconstruction and codes are written in processing order too (with act_order,
    // into buffers put back in the original order at the end), over a copy of the
    // original weights: each weight is read just before its reconstruction replaces it.
    std::vector<float> wt(size_t(rows * n)), dqBuf(plan.actOrder ? size_t(rows * n) : 0);
    std::vector<uint8_t> codeBuf(plan.actOrder ? size_t(rows * n) : 0);
    float* dqp = plan.actOrder ? dqBuf.data() : dq;
    uint8_t* cp = plan.actOrder ? codeBuf.data() : codes.data();
    int64_t maxLen = 1;
    for (const auto& b : plan.blocks) maxLen = std::max(maxLen, b.b1 - b.b0);
    std::vector<float> a(size_t(rows * maxLen));
    parallelFor(
        plan.pool, rows,
        [&](int64_t r0, int64_t r1) {
          std::vector<float> tmp;
          for (int64_t r = r0; r < r1; r++) {
            float* row = wt.data() + r * n;
            for (int64_t j = 0; j < n; j++) row[j] = plan.weight(r, plan.perm[size_t(j)]);
            std::copy(row, row + n, dqp + r * n);
            if (plan.actOrder) fitStatic(r, tmp);
          }
        },
        16);
    for (const auto& blk : plan.blocks) {
      plan.checkCancel();
      const int64_t b0 = blk.b0, len = blk.b1 - blk.b0;
      parallelFor(
          plan.pool, rows,
          [&](int64_t r0, int64_t r1) {
            std::vector<float> p, gh(static_cast<size_t>(width)), gq(static_cast<size_t>(width));
            std::vector<uint8_t> gc(static_cast<size_t>(width));
            for (int64_t r = r0; r < r1; r++) {
              float* row = wt.data() + r * n + b0;
              float* orig = dqp + r * n + b0;
              uint8_t* code = cp + r * n + b0;
              float* ar = a.data() + r * len;
              const Params* pr = params.data() + r * G;
              for (int64_t jj = 0; jj < len; jj++) {
                const int64_t c = plan.perm[size_t(b0 + jj)];
                if (!plan.actOrder && c % gs == 0) {
                  const int64_t m = std::min(gs, n - c);
                  if (c == 0) {
                    params[size_t(r * G)] = gptqFit(pol, row + jj, m, 0, true);
                  } else {
                    const float* u = plan.ugg[size_t(c / gs)].data();
                    p.assign(orig + jj, orig + jj + m);
                    for (int64_t x = 0; x < m; x++)
                      gptqAxpy(p.data() + x, u + x * m + x,
                               (row[jj + x] - orig[jj + x]) * plan.vdiag[size_t(c + x)], m - x);
                    params[size_t(r * G + c / gs)] = gptqFit(pol, p.data(), m, c, true);
                  }
                }
                float q;
                if constexpr (HasQuantGroup<P>::value) {
                  if (c % width == 0) {  // the group's codes, from the weights now
                    // The U rule's weights of the run at its first column (as a group's fit).
                    const float* u = plan.uvec.data() + (c / width) * width * width;
                    p.assign(orig + jj, orig + jj + width);
                    for (int x = 0; x < width; x++) {
                      const float v = plan.vdiag[size_t(c + x)];  // 1 / U_jj
                      gh[size_t(x)] = v * v;
                      gptqAxpy(p.data() + x, u + x * width + x, (row[jj + x] - orig[jj + x]) * v,
                               width - x);
                    }
                    pol.quantGroup(pr[c / gs], c % gs, p.data(), gh.data(), gq.data(), gc.data());
                  }
                  q = gq[size_t(c % width)];
                  code[jj] = gc[size_t(c % width)];
                } else {
                  code[jj] = uint8_t(gptqQuant(pol, pr[c / gs], c % gs, row[jj], &q));
                }
                const float d = orig[jj] - q;
                orig[jj] = q;
                ar[jj] = d;
                gptqAxpy(row + jj + 1, blk.vb.data() + jj * len + jj + 1, d, len - jj - 1);
              }
            }
          },
          8);
      if (blk.b1 < n)
        linalg::gemmPacked(a.data(), len, rows, blk.lazy, wt.data() + blk.b1, n, plan.pool, true);
    }
    if (plan.actOrder)
      parallelFor(
          plan.pool, rows,
          [&](int64_t r0, int64_t r1) {
            for (int64_t r = r0; r < r1; r++)
              for (int64_t j = 0; j < n; j++) {
                const int64_t c = plan.perm[size_t(j)];
                dq[r * n + c] = dqp[r * n + j];
                codes[size_t(r * n + c)] = cp[r * n + j];
              }
          },
          16);
  }

  // A policy whose stored form interleaves parameters and codes (ggml blocks) assembles it.
  if constexpr (HasAssemble<P>::value) {
    pol.assemble(params.data(), codes.data(), L, st);
    return;
  } else {
    storeGrouped(pol, params, codes, L, st);
  }
}

// The stored form, in runGrouped's order: codes row by row, one parameter set per group.
template <class P>
void storeGrouped(const P& pol, const std::vector<typename P::Params>& params,
                  const std::vector<uint8_t>& codes, const Layout& L, StoredTensor& st) {
  pol.allocate(st, L);
  const int zbits = pol.zeroBits();
  BitWriter cw(st.codes.data(), pol.codeBits());
  cw.pushMany(codes.data(), int64_t(codes.size()));
  cw.flush();
  BitWriter zw(st.zeros.data(), zbits > 0 ? zbits : 8);
  for (int64_t gi = 0; gi < L.groups; gi++)
    pol.store(params[size_t(gi)], gi, st, zbits > 0 ? &zw : nullptr);
  if (zbits > 0) zw.flush();
}

// Family entry points (int.cc, float.cc): the family's policy for c, then runGptq.
void gptqIntFamily(const GptqPlan& plan, const QuantConfig& c, const FormatSpec& f, float* dq,
                   StoredTensor& st);
void gptqFloatFamily(const GptqPlan& plan, const QuantConfig& c, const FormatSpec& f, float* dq,
                     StoredTensor& st);
void gptqMicroFamily(const GptqPlan& plan, const QuantConfig& c, const FormatSpec& f, float* dq,
                     StoredTensor& st);
// ggml/gptq.cc: the 32-weight blocks with a per-block scale (q8_0, q4_0, q5_0) or scale and
// min (q4_1, q5_1), and the k-quants q4_k, q5_k, q6_k.
bool gptqGgmlSupported(const std::string& format);
// Columns a ggml format quantizes jointly under gptq (8 for the i-quants of 1 to 3 bits, else 1).
int gptqGgmlJointWidth(const std::string& format);
void gptqGgmlFamily(const GptqPlan& plan, const FormatSpec& f, float* dq, StoredTensor& st);

}  // namespace quant
}  // namespace bitsmith
