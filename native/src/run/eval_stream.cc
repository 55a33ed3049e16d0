#include "run/eval_stream.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "io/error.h"
#include "linalg/gemm.h"
#include "linalg/ops.h"
#include "run/events.h"
#include "run/logits_cache.h"
#include "threads/pool.h"

namespace bitsmith {

using forward::Evaluation;

int64_t headChunk(int64_t positions, int64_t vocab) {
  const int64_t target = (int64_t(32) << 20) / 4 / std::max<int64_t>(1, positions);
  int64_t w = std::max<int64_t>(256, target / 256 * 256);
  return std::min(w, vocab);
}

namespace {

struct Online {
  double mA = -std::numeric_limits<double>::infinity(), sA = 0, wA = 0;
  double mB = -std::numeric_limits<double>::infinity(), sB = 0;
  double at = 0, bt = 0;
  float bestA = -std::numeric_limits<float>::infinity(),
        bestB = -std::numeric_limits<float>::infinity();
  int64_t ia = 0, ib = 0;
};

// Final RMSNorm of the scored positions (from scoreFrom to each sequence's last but one).
std::vector<float> finalStates(const std::vector<std::vector<float>>& xs,
                               const forward::Sequences& seqs, const std::vector<float>& norm,
                               const forward::LlamaConfig& fc, int64_t scoreFrom) {
  const int64_t D = fc.dim;
  std::vector<float> out;
  for (size_t s = 0; s < seqs.size(); s++) {
    const int64_t T = int64_t(seqs[s].size());
    for (int64_t t = scoreFrom; t + 1 < T; t++) {
      const size_t o = out.size();
      out.resize(o + size_t(D));
      linalg::rmsNorm(&xs[s][size_t(t * D)], norm.data(), &out[o], D, float(fc.normEps));
    }
  }
  return out;
}

}  // namespace

Evaluation evaluateHead(const Model& model, const forward::LlamaConfig& fc,
                        const forward::Sequences& seqs, const std::vector<std::vector<float>>* xo,
                        const std::vector<std::vector<float>>& xq, const HeadRows& quantizedHead,
                        LogitsCache& cache, ThreadPool& pool, RunEvents& events, double f0,
                        double f1, int64_t scoreFrom) {
  const int64_t D = fc.dim, V = fc.vocab;
  std::vector<int32_t> targets;
  for (const auto& s : seqs)
    for (size_t t = size_t(scoreFrom) + 1; t < s.size(); t++) targets.push_back(s[t]);
  const int64_t P = int64_t(targets.size());
  if (P == 0)
    throw ModelError("evaluate/no-data",
                     "evaluation needs at least one sequence with a scored position (" +
                         std::to_string(scoreFrom + 2) + " or more tokens)");
  const std::vector<float> norm =
      forward::readTensorF32(model, nullptr, "model.norm.weight", {D}, &pool);
  std::vector<float> ho, hq = finalStates(xq, seqs, norm, fc, scoreFrom);
  if (xo) ho = finalStates(*xo, seqs, norm, fc, scoreFrom);
  const std::string headName = forward::headTensorName(fc);
  const TensorRef* head = model.find(headName);
  if (!head || head->shape != std::vector<int64_t>{V, D})
    throw ModelError("forward/missing-tensor",
                     model.path + ": the output head \"" + headName +
                         "\" is missing or not [vocab, " + "hidden_size]",
                     headName);
  const int64_t chunk = headChunk(P, V), chunks = (V + chunk - 1) / chunk;
  std::vector<Online> on(static_cast<size_t>(P));
  std::vector<float> w(size_t(chunk * D)), la(size_t(P * chunk)), lb(size_t(P * chunk));
  linalg::PackedB packed;
  events.begin("evaluation", chunks);
  for (int64_t c = 0; c < chunks; c++) {
    events.checkCancel();
    const int64_t v0 = c * chunk, v1 = std::min(V, v0 + chunk), n = v1 - v0;
    if (xo) {
      if (!model.readRowsF32(*head, v0, v1, w.data()))
        throw ModelError(
            "forward/non-finite",
            model.fileOf(*head).path() + ": tensor \"" + headName + "\" holds NaN or Inf values",
            headName);
      model.release(*head, v0, v1);
      linalg::packB(w.data(), D, n, D, packed, &pool);
      linalg::gemmPacked(ho.data(), D, P, packed, la.data(), n, &pool);
      cache.write(c, la.data(), n);
    } else {
      cache.read(c, la.data(), n);
    }
    quantizedHead(v0, v1, w.data());
    linalg::packB(w.data(), D, n, D, packed, &pool);
    linalg::gemmPacked(hq.data(), D, P, packed, lb.data(), n, &pool);
    parallelFor(
        &pool, P,
        [&](int64_t p0, int64_t p1) {
          for (int64_t p = p0; p < p1; p++) {
            Online& o = on[size_t(p)];
            const float* a = &la[size_t(p * n)];
            const float* b = &lb[size_t(p * n)];
            float ma = a[0], mb = b[0];
            int64_t ja = 0, jb = 0;
            for (int64_t i = 1; i < n; i++) {
              if (a[i] > ma) ma = a[i], ja = i;
              if (b[i] > mb) mb = b[i], jb = i;
            }
            if (ma > o.bestA) o.bestA = ma, o.ia = v0 + ja;
            if (mb > o.bestB) o.bestB = mb, o.ib = v0 + jb;
            const double nA = std::max(o.mA, double(ma)), nB = std::max(o.mB, double(mb));
            const double ra = std::exp(o.mA - nA), rb = std::exp(o.mB - nB);
            double sa = 0, wa = 0, sb = 0;
            for (int64_t i = 0; i < n; i++) {
              const double ea = std::exp(double(a[i]) - nA);
              sa += ea;
              wa += ea * (double(a[i]) - double(b[i]));
              sb += std::exp(double(b[i]) - nB);
            }
            o.sA = o.sA * ra + sa;
            o.wA = o.wA * ra + wa;
            o.sB = o.sB * rb + sb;
            o.mA = nA;
            o.mB = nB;
            const int64_t tg = targets[size_t(p)];
            if (tg >= v0 && tg < v1) {
              o.at = a[tg - v0];
              o.bt = b[tg - v0];
            }
          }
        },
        16);
    events.progress(c + 1, "head chunk " + std::to_string(c + 1) + "/" + std::to_string(chunks),
                    f0 + (f1 - f0) * double(c + 1) / double(chunks));
  }
  if (xo) cache.commit();
  // Each position's figures are exact: the log-sum-exps are complete after the last chunk.
  std::vector<forward::PositionScore> scores(static_cast<size_t>(P));
  for (int64_t p = 0; p < P; p++) {
    const Online& o = on[size_t(p)];
    const double lseA = o.mA + std::log(o.sA), lseB = o.mB + std::log(o.sB);
    forward::PositionScore& sc = scores[size_t(p)];
    sc.nllA = lseA - o.at;
    sc.nllB = lseB - o.bt;
    sc.kl = std::max(0.0, o.wA / o.sA - lseA + lseB);
    sc.sameTop = o.ia == o.ib;
  }
  Evaluation e;
  for (const auto& s : seqs)
    if (int64_t(s.size()) >= scoreFrom + 2) e.sequences++;
  e.stats = forward::summarize(scores);
  return e;
}

}  // namespace bitsmith
