#include "run/awq_run.h"

#include <chrono>
#include <map>
#include <stdexcept>

#include "io/dtype.h"
#include "io/error.h"
#include "run/runner.h"
#include "threads/pool.h"

namespace bitsmith {

namespace {
std::string upName(int64_t layer) {
  return "model.layers." + std::to_string(layer) + ".mlp.up_proj.weight";
}
std::string vName(int64_t layer) {
  return "model.layers." + std::to_string(layer) + ".self_attn.v_proj.weight";
}

// Where 1/s of a site goes when the output stores codes: the norm's name (q/k/v, gate/up),
// up_proj / v_proj (their rows: down_proj, o_proj), or why not ("" and the note).
std::string foldTarget(const Model& m, const forward::Hessian& h, size_t members,
                       const std::unordered_set<std::string>& quantized,
                       const std::unordered_set<std::string>& awqNames, const AwqHeads& heads,
                       std::string& note) {
  const std::string p = "model.layers." + std::to_string(h.layer) + ".";
  if (h.site == forward::Site::AttnOut) {
    // o's input column j is value row j of the attention (softmax(...) V is linear in V's
    // rows) when every query head has its own key/value head; with grouped-query attention
    // one v row feeds several columns, which would need equal s on them: not done.
    if (heads.heads > 0 && heads.heads == heads.kvHeads && awqNames.count(vName(h.layer)) &&
        !m.find(p + "self_attn.v_proj.bias"))
      return vName(h.layer);
    note = heads.heads != heads.kvHeads
               ? "not scaled: the output stores codes, and 1/s of o_proj's input would go into "
                 "v_proj's rows, which grouped-query attention shares between query heads"
               : "not scaled: the output stores codes, and 1/s of o_proj's input goes into "
                 "v_proj's rows, which needs v_proj to use method awq (and no v bias)";
    return "";
  }
  if (h.site == forward::Site::Down) {
    // down's input is silu(gate x) * (up x): linear in up's rows, which take 1/s exactly.
    if (awqNames.count(upName(h.layer))) return upName(h.layer);
    note =
        "not scaled: the output stores codes, and 1/s of down_proj's input goes into up_proj's "
        "rows, which needs up_proj to use method awq too";
    return "";
  }
  if (members != h.tensors.size()) {
    note =
        "not scaled: the output stores codes, and the norm before this input also feeds tensors "
        "without method awq";
    return "";
  }
  const std::string name = p + (h.site == forward::Site::Attn ? "input_layernorm.weight"
                                                              : "post_attention_layernorm.weight");
  const TensorRef* norm = m.find(name);
  if (!norm || norm->elements != h.n || quantized.count(name) ||
      (norm->dtype != DType::F32 && norm->dtype != DType::F16 && norm->dtype != DType::BF16)) {
    note = "not scaled: the output stores codes, and " + name +
           " (which would take 1/s) is missing, quantized or not f32/f16/bf16";
    return "";
  }
  return name;
}
}  // namespace

AwqRun awqSearchSites(const Model& m, const std::vector<AwqRunTensor>& ts,
                      const forward::HessianCollector& hs, ThreadPool& pool, bool reference,
                      bool fold, const std::unordered_set<std::string>& quantized,
                      const AwqHeads& heads, const std::atomic<bool>& cancel) {
  // Sites in the order of their first awq tensor; members in model order.
  std::vector<const forward::Hessian*> order;
  std::map<const forward::Hessian*, std::vector<AwqRunTensor>> sites;
  for (const AwqRunTensor& t : ts) {
    const forward::Hessian* h = hs.forTensor(t.ref->name);
    if (!h || h->n != t.ref->cols() || h->absSum.size() != size_t(h->n))
      throw ModelError("run/needs-calibration",
                       "tensor \"" + t.ref->name +
                           "\": method awq needs the activations of the tensor's input, which the "
                           "forward pass " +
                           "collects for the q/k/v/o/gate/up/down projections only",
                       t.ref->name);
    if (h->tokens < 1)
      throw ModelError(
          "run/needs-calibration",
          "tensor \"" + t.ref->name + "\": method awq: no calibration tokens reached its input",
          t.ref->name);
    if (!sites.count(h)) order.push_back(h);
    sites[h].push_back(t);
  }
  std::unordered_set<std::string> awqNames;
  for (const AwqRunTensor& t : ts) awqNames.insert(t.ref->name);
  AwqRun out;
  // q/k/v and gate/up last: v_proj's and up_proj's rows take o_proj's and down_proj's 1/s
  // (fold), so those searches come first.
  for (int pass = 0; pass < 2; pass++)
    for (const forward::Hessian* h : order) {
      if ((h->site == forward::Site::Mlp || h->site == forward::Site::Attn) != (pass == 1))
        continue;
      if (cancel.load(std::memory_order_relaxed))
        throw ModelError("run/cancelled", "the run was cancelled");
      const auto t0 = std::chrono::steady_clock::now();
      const std::vector<AwqRunTensor>& members = sites[h];
      const int64_t n = h->n;
      std::vector<std::vector<float>> weights;
      std::vector<quant::AwqMember> ms;
      auto site = std::make_shared<AwqSiteChoice>();
      for (const AwqRunTensor& t : members) {
        const int64_t rows = t.ref->rows();
        weights.emplace_back(size_t(rows * n));
        if (!m.readRowsF32(*t.ref, 0, rows, weights.back().data()))
          throw ModelError("run/non-finite",
                           m.fileOf(*t.ref).path() + ": tensor \"" + t.ref->name +
                               "\" has a NaN or infinite weight",
                           t.ref->name);
        m.release(*t.ref, 0, rows);
        quant::AwqMember mb;
        mb.name = t.ref->name;
        mb.w = weights.back().data();
        mb.rows = rows;
        mb.cfg = t.job->config;
        if (const auto r = out.rows.find(t.ref->name); r != out.rows.end())
          mb.rowScale = r->second->choice.s.data();
        ms.push_back(mb);
        site->tensors.push_back(t.ref->name);
      }
      std::vector<double> meanAbs(static_cast<size_t>(n));
      for (int64_t j = 0; j < n; j++) meanAbs[size_t(j)] = h->absSum[size_t(j)] / double(h->tokens);
      quant::AwqOptions opt = members.front().job->awq;  // one grid per site: the first member's
      if (fold) {
        site->foldedInto =
            foldTarget(m, *h, members.size(), quantized, awqNames, heads, site->note);
        if (site->foldedInto.empty()) opt.grid = 1;  // alpha 0 only: RTN
      }
      try {
        opt.cancel = &cancel;
        site->choice = quant::awqSearch(ms, n, h->h.data(), meanAbs.data(), opt, pool, reference);
      } catch (const std::invalid_argument& e) {
        throw ModelError("run/unsupported",
                         "tensor \"" + members.front().ref->name + "\": " + e.what(),
                         members.front().ref->name);
      }
      site->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      for (const AwqRunTensor& t : members) out.tensors[t.ref->name] = site;
      const bool intoRows = h->site == forward::Site::Down || h->site == forward::Site::AttnOut;
      if (!site->foldedInto.empty()) (intoRows ? out.rows : out.norms)[site->foldedInto] = site;
    }
  return out;
}

std::vector<uint8_t> awqFoldedNorm(const Model& m, const TensorRef& norm, const AwqSiteChoice& c) {
  const int64_t n = norm.elements;
  if (int64_t(c.choice.s.size()) != n)
    throw ModelError("run/internal", "tensor \"" + norm.name + "\": awq scales of the wrong width",
                     norm.name);
  std::vector<float> g(static_cast<size_t>(n));
  if (!m.readRowsF32(norm, 0, norm.rows(), g.data()))
    throw ModelError(
        "run/non-finite",
        m.fileOf(norm).path() + ": tensor \"" + norm.name + "\" has a NaN or infinite weight",
        norm.name);
  for (int64_t j = 0; j < n; j++) g[size_t(j)] = g[size_t(j)] / c.choice.s[size_t(j)];
  std::vector<uint8_t> out(size_t(n) * size_t(dtypeSize(norm.dtype)));
  fromF32(norm.dtype, g.data(), n, out.data());
  return out;
}

QuantOutput awqQuantize(const TensorRef& ref, const float* in, int64_t rows, int64_t cols,
                        const QuantConfig& cfg, const AwqSiteChoice& c, ThreadPool& pool,
                        bool reference, StoredTensor* stored, const float* rowScale) {
  if (int64_t(c.choice.s.size()) != cols)
    throw ModelError("run/internal", "tensor \"" + ref.name + "\": awq scales of the wrong width",
                     ref.name);
  QuantOutput q;
  q.dequant.resize(size_t(rows * cols));
  StoredTensor local;
  StoredTensor& st = stored ? *stored : local;
  try {
    quant::awqApply(in, rows, cols, c.choice.s.data(), cfg, pool, reference, q.dequant.data(), st,
                    rowScale);
  } catch (const std::invalid_argument& e) {
    throw ModelError("run/unsupported", "tensor \"" + ref.name + "\": " + e.what(), ref.name);
  }
  q.bytes = st.bytes();
  return q;
}

json::Value awqEventValue(const AwqSiteChoice& c) {
  json::Value v = json::Value::object();
  v.set("alpha", json::Value::of(c.choice.alpha));
  v.set("gridPoint", json::Value::of(int64_t(c.choice.point)));
  v.set("grid", json::Value::of(int64_t(c.choice.errs.size())));
  v.set("scaleMin", json::Value::of(double(c.choice.sMin)));
  v.set("scaleMax", json::Value::of(double(c.choice.sMax)));
  json::Value shared = json::Value::array();
  for (const std::string& t : c.tensors) shared.push(json::Value::of(t));
  v.set("shared", std::move(shared));
  v.set("searchErrorRtn", json::Value::of(c.choice.errRtn));
  v.set("searchError", json::Value::of(c.choice.err));
  if (!c.foldedInto.empty()) v.set("foldedInto", json::Value::of(c.foldedInto));
  if (!c.note.empty()) v.set("note", json::Value::of(c.note));
  v.set("seconds", json::Value::of(c.seconds));
  return v;
}

}  // namespace bitsmith
