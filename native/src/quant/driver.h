// The grouped-quantization driver every grid family runs on. A family is a policy P:
//
//   static constexpr bool kTrits;                // codes are trits (ternary) instead of bits
//   int codeBits() const; int zeroBits() const;  // zeroBits: packed per-group zero codes (0: none)
//   bool clip() const;                           // search the range shrink (clip mse)
//   void allocate(StoredTensor&, const Layout&) const;
//   Stats stats(const float* x, int64_t n, ThreadPool* pool, bool fast) const;
//   bool finite(const Stats&) const;
//   Params fit(const Stats&, float shrink) const; // the group's stored parameters
//   void store(const Params&, int64_t group, StoredTensor&, BitWriter* zeros) const;
//   uint32_t quantOne(const Params&, float w, float* dq) const;   // THE spec of one weight
//   void quantSeg(const Params&, const float* x, int64_t n, float* dq, uint8_t* codes, bool nt)
//   const; void errSeg(const Params&, const float* x, int64_t n, Lanes& lanes, bool fast) const;
//
// Reference path: groups one at a time, in order, scalar quantOne, one sequential code
// stream. Fast path: blocks of rows on the thread pool (each block starts its code and
// zero streams on a byte boundary), vectorised quantSeg/errSeg, which must equal quantOne
// bit for bit (the tests check the stored bytes and the reconstruction are identical).
// x and dq may be the same buffer: every path reads a group's weights (stats, clip search)
// before it writes their reconstructions, each reconstruction over its own weight only.
#pragma once
#include <algorithm>
#include <new>
#include <type_traits>

#include "quant/internal.h"
#include "quant/kernels.h"

namespace bitsmith {
namespace quant {

// Optional: bool errMany(const Params* cand, int count, const float* x, int64_t n, double* err)
// computing groupError for several candidates at once (false: not available here).
template <class P, class = void>
struct HasErrMany : std::false_type {};
template <class P>
struct HasErrMany<P, std::void_t<decltype(&P::errMany)>> : std::true_type {};

// Sum of squared errors of a group under p (deterministic order: common/reduce.h).
template <class P>
double groupError(const P& pol, const typename P::Params& p, const float* x, int64_t n,
                  ThreadPool* pool, bool fast) {
  if (n <= kReduceChunk) {  // one chunk (the rule of common/reduce.h), without the wrapper
    Lanes lanes;
    pol.errSeg(p, x, n, lanes, fast);
    return lanes.total();
  }
  return chunkedSum(n, pool, [&](int64_t b, int64_t e) {
    Lanes lanes;
    pol.errSeg(p, x + b, e - b, lanes, fast);
    return lanes.total();
  });
}

// Optional: bool errWeighted(const Params&, const float* x, const float* w, int64_t n, Lanes&)
// adding (x_i - q_i)^2 w_i to lane i & kMask for i < n, as the scalar loop of
// weightedGroupError does (false: not available here).
template <class P, class = void>
struct HasErrWeighted : std::false_type {};
template <class P>
struct HasErrWeighted<P, std::void_t<decltype(&P::errWeighted)>> : std::true_type {};

// Importance-weighted squared error of a group: element i lies in column (col0 + i) % cols
// and counts with weight imp[that column]. The sum is common/reduce.h's (chunks from the
// group's start, lane i % 16, each term (e * e) * d in double), so the reference loop and a
// vectorised errWeighted give the same bits.
template <class P>
double weightedGroupError(const P& pol, const typename P::Params& p, const float* x, int64_t n,
                          const float* imp, int64_t col0, int64_t cols, ThreadPool* pool,
                          bool fast) {
  return chunkedSum(n, pool, [&](int64_t b, int64_t e) {
    Lanes lanes;
    for (int64_t i = b; i < e;) {
      const int64_t c = (col0 + i) % cols;
      const int64_t m = std::min(e - i, cols - c);  // a run of consecutive columns
      bool done = false;
      if constexpr (HasErrWeighted<P>::value) {
        if (fast && ((i - b) & Lanes::kMask) == 0)
          done = pol.errWeighted(p, x + i, imp + c, m, lanes);
      }
      if (!done) {
        for (int64_t k = 0; k < m; ++k) {
          float d;
          pol.quantOne(p, x[i + k], &d);
          const float err = x[i + k] - d;
          lanes.l[(i - b + k) & Lanes::kMask] += (double(err) * double(err)) * double(imp[c + k]);
        }
      }
      i += m;
    }
    return lanes.total();
  });
}

// Fit, then (clip mse) the shrink in the grid with the smallest squared error, weighted
// per column by imp when given (element i of the group in column (col0 + i) % cols); ties
// keep the larger range.
template <class P>
typename P::Params chooseParams(const P& pol, const float* x, int64_t n, const typename P::Stats& s,
                                ThreadPool* pool, bool fast, const float* imp = nullptr,
                                int64_t col0 = 0, int64_t cols = 1) {
  if (!pol.clip()) return pol.fit(s, 1.0f);
  using Params = typename P::Params;
  // Constructed in place from fit's prvalue: no zeroing and no field-by-field copy (which
  // stalls store forwarding).
  alignas(Params) unsigned char raw[kClipSteps * sizeof(Params)];
  Params* cand = reinterpret_cast<Params*>(raw);
  for (int i = 0; i < kClipSteps; ++i)
    new (cand + i) Params(pol.fit(s, clipShrink(i)));  // independent: overlap
  double err[kClipSteps];
  bool done = false;
  if (imp) {
    for (int i = 0; i < kClipSteps; ++i)
      err[i] = weightedGroupError(pol, cand[i], x, n, imp, col0, cols, pool, fast);
    done = true;
  }
  if constexpr (HasErrMany<P>::value) {
    // One call for all candidates of a one-chunk group (same sums as groupError).
    if (!done && fast && n <= kReduceChunk) done = pol.errMany(cand, kClipSteps, x, n, err);
  }
  if (!done)
    for (int i = 0; i < kClipSteps; ++i) err[i] = groupError(pol, cand[i], x, n, pool, fast);
  int best = 0;
  double bestErr = err[0];
  for (int i = 1; i < kClipSteps; ++i) {
    const double e = err[i];
    if (e < bestErr) {
      bestErr = e;
      best = i;
    }
  }
  return cand[best];
}

// Optional: Params refine(const Params&, const float* x, int64_t n, bool fast) improving
// a group's chosen parameters on its weights (method hqq's zero point: quant/hqq.h).
template <class P, class = void>
struct HasRefine : std::false_type {};
template <class P>
struct HasRefine<P, std::void_t<decltype(&P::refine)>> : std::true_type {};

// chooseParams, then the policy's refinement (if it has one).
template <class P>
typename P::Params chooseRefined(const P& pol, const float* x, int64_t n,
                                 const typename P::Stats& s, ThreadPool* pool, bool fast,
                                 const float* imp = nullptr, int64_t col0 = 0, int64_t cols = 1) {
  if constexpr (HasRefine<P>::value)
    return pol.refine(chooseParams(pol, x, n, s, pool, fast, imp, col0, cols), x, n, fast);
  else
    return chooseParams(pol, x, n, s, pool, fast, imp, col0, cols);
}

// A policy may fuse a whole row of groups (stats, fit, store, quantize, pack) into one
// vectorised kernel: bool fastRow(row, L, drow, firstGroup, st, codes, zeros, nt) returning
// false on NaN/Inf, used when useFastRow() (no clip search, the CPU has the ISA).
template <class P, class = void>
struct HasFastRow : std::false_type {};
template <class P>
struct HasFastRow<P, std::void_t<decltype(&P::fastRow)>> : std::true_type {};

#if BITSMITH_X86
// The generic fused row kernel for policies with MinMax stats and an AVX2 segment kernel
// quantSegAvx2(p, x, n, dq, codes, nt): min/max of a batch of groups, their fits, then the
// quantization of the batch into one staged code buffer, packed at once.
template <class P>
BITSMITH_AVX2 bool fusedRowAvx2(const P& pol, const float* row, const Layout& L, float* drow,
                                int64_t gi0, StoredTensor& st, BitWriter& cw, BitWriter* zw,
                                bool nt) {
  constexpr int kBatch = 64;
  constexpr int64_t kBatchElems = 8192;
  alignas(64) uint8_t tmp[kBatchElems];
  MinMax mm[kBatch];
  typename P::Params ps[kBatch];
  const int64_t G = L.groupsPerRow;
  const int64_t per = std::max<int64_t>(1, std::min<int64_t>(kBatch, kBatchElems / L.group));
  for (int64_t j0 = 0; j0 < G; j0 += per) {
    const int64_t j1 = std::min(G, j0 + per);
    for (int64_t j = j0; j < j1; ++j) {
      const int64_t off = j * L.group;
      mm[j - j0] = groupMinMax(row + off, std::min(L.group, L.cols - off));
    }
    for (int64_t j = j0; j < j1; ++j) {
      if (!mm[j - j0].finite) return false;
      ps[j - j0] = pol.fit(mm[j - j0], 1.0f);
      pol.store(ps[j - j0], gi0 + j, st, zw);
    }
    int64_t filled = 0;
    for (int64_t j = j0; j < j1; ++j) {
      const int64_t off = j * L.group;
      const int64_t n = std::min(L.group, L.cols - off);
      for (int64_t o = 0; o < n; o += kBatchElems) {
        const int64_t m = std::min(kBatchElems, n - o);
        if (filled + m > kBatchElems) {
          cw.pushMany(tmp, filled);
          filled = 0;
        }
        // Pull the same stretch of the next batch in while this one computes.
        for (int64_t pf = 0; pf < m; pf += 16)
          _mm_prefetch(reinterpret_cast<const char*>(row + off + o + pf + kBatchElems),
                       _MM_HINT_T0);
        pol.quantSegAvx2(ps[j - j0], row + off + o, m, drow + off + o, tmp + filled, nt);
        filled += m;
      }
    }
    cw.pushMany(tmp, filled);
  }
  return true;
}
#endif

class TritCodeWriter {
 public:
  TritCodeWriter(uint8_t* out, int) : w_(out) {}
  void push(uint32_t t) { w_.push(t); }
  void pushMany(const uint8_t* c, int64_t n) { w_.pushMany(c, n); }
  void flush() { w_.flush(); }

 private:
  TritWriter w_;
};

template <class P>
void runGrouped(const P& pol, const float* x, const Layout& L, const Ctx& ctx, float* dq,
                StoredTensor& st) {
  using Writer = std::conditional_t<P::kTrits, TritCodeWriter, BitWriter>;
  const int bits = pol.codeBits();
  const int zbits = pol.zeroBits();
  pol.allocate(st, L);
  const int64_t N = L.size();
  const int64_t G = L.groupsPerRow;

  if (ctx.reference) {
    Writer cw(st.codes.data(), bits);
    BitWriter zw(st.zeros.data(), zbits > 0 ? zbits : 8);
    auto group = [&](const float* g, int64_t n, int64_t gi, float* d) {
      const typename P::Stats s = pol.stats(g, n, nullptr, false);
      const int64_t col0 = L.tensor ? 0 : (gi % G) * L.group;
      const typename P::Params p =
          chooseRefined(pol, g, n, s, nullptr, false, ctx.importance, col0, L.cols);
      pol.store(p, gi, st, zbits > 0 ? &zw : nullptr);
      for (int64_t i = 0; i < n; ++i) cw.push(pol.quantOne(p, g[i], d + i));
    };
    if (L.tensor) {
      group(x, N, 0, dq);
    } else {
      for (int64_t r = 0; r < L.rows; ++r)
        for (int64_t j = 0; j < G; ++j) {
          const int64_t off = r * L.cols + j * L.group;
          group(x + off, std::min(L.group, L.cols - j * L.group), r * G + j, dq + off);
        }
    }
    cw.flush();
    if (zbits > 0) zw.flush();
    return;
  }

  typename P::Params tensorParams{};
  if (L.tensor) {
    const typename P::Stats s = pol.stats(x, N, ctx.pool, true);
    if (!pol.finite(s)) {
      ctx.nonFinite->store(true);
      return;
    }
    tensorParams = chooseRefined(pol, x, N, s, ctx.pool, true, ctx.importance, 0, L.cols);
    BitWriter zw(st.zeros.data(), zbits > 0 ? zbits : 8);
    pol.store(tensorParams, 0, st, zbits > 0 ? &zw : nullptr);
    if (zbits > 0) zw.flush();
  }
  const int rowZeroBits = L.tensor ? 0 : zbits;
  const int64_t k = rowAlignment(L, bits, P::kTrits, rowZeroBits);
  const int64_t blocks = (L.rows + k - 1) / k;
  const int64_t minBlocks =
      std::max<int64_t>(1, (int64_t(1) << 15) / std::max<int64_t>(1, k * L.cols));
  parallelFor(
      ctx.pool, blocks,
      [&](int64_t b0, int64_t b1) {
        const int64_t r0 = b0 * k, r1 = std::min(L.rows, b1 * k);
        const int64_t codeByte = P::kTrits ? r0 * L.cols / 5 : r0 * L.cols * bits / 8;
        Writer cw(st.codes.data() + codeByte, bits);
        BitWriter zw(rowZeroBits > 0 ? st.zeros.data() + r0 * G * rowZeroBits / 8 : nullptr,
                     rowZeroBits > 0 ? rowZeroBits : 8);
        alignas(64) uint8_t tmp[kSeg];
        auto pieces = [&](const typename P::Params& p, const float* g, int64_t n, float* d) {
          for (int64_t off = 0; off < n; off += kSeg) {
            const int64_t m = std::min(kSeg, n - off);
            pol.quantSeg(p, g + off, m, d + off, tmp, ctx.ntStores);
            cw.pushMany(tmp, m);
          }
        };
        for (int64_t r = r0; r < r1; ++r) {
          const float* row = x + r * L.cols;
          float* drow = dq + r * L.cols;
          if (L.tensor) {
            pieces(tensorParams, row, L.cols, drow);
            continue;
          }
          if constexpr (HasFastRow<P>::value) {
            if (pol.useFastRow()) {
              if (!pol.fastRow(row, L, drow, r * G, st, cw, rowZeroBits > 0 ? &zw : nullptr,
                               ctx.ntStores)) {
                ctx.nonFinite->store(true);
                return;
              }
              continue;
            }
          }
          for (int64_t j = 0; j < G; ++j) {
            const float* g = row + j * L.group;
            const int64_t n = std::min(L.group, L.cols - j * L.group);
            const typename P::Stats s = pol.stats(g, n, nullptr, true);
            if (!pol.finite(s)) {
              ctx.nonFinite->store(true);
              return;
            }
            const typename P::Params p =
                chooseRefined(pol, g, n, s, nullptr, true, ctx.importance, j * L.group, L.cols);
            pol.store(p, r * G + j, st, rowZeroBits > 0 ? &zw : nullptr);
            pieces(p, g, n, drow + j * L.group);
          }
        }
        cw.flush();
        if (rowZeroBits > 0) zw.flush();
        if (ctx.ntStores) streamFence();
      },
      minBlocks);
}

}  // namespace quant
}  // namespace bitsmith
