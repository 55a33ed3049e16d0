#include "quant/gptq.h"

#include <algorithm>
#include <chrono>
#include <numeric>
#include <stdexcept>
#include <string>

#include "common/cpu.h"
#include "linalg/cholesky.h"
#include "quant/gptq_driver.h"
#include "threads/pool.h"

#if BITSMITH_X86
#include <immintrin.h>
#endif

namespace bitsmith {
namespace quant {

#if BITSMITH_X86
BITSMITH_AVX2_FMA static void axpyAvx2(float* dst, const float* v, float d, int64_t n) {
  const __m256 vd = _mm256_set1_ps(d);
  int64_t k = 0;
  for (; k + 8 <= n; k += 8)
    _mm256_storeu_ps(dst + k,
                     _mm256_fmadd_ps(vd, _mm256_loadu_ps(v + k), _mm256_loadu_ps(dst + k)));
  for (; k < n; k++) dst[k] += d * v[k];
}
#endif

void gptqAxpy(float* dst, const float* v, float d, int64_t n) {
#if BITSMITH_X86
  static const bool fma = cpuHasAvx2Fma();
  if (fma) {
    axpyAvx2(dst, v, d, n);
    return;
  }
#endif
  for (int64_t k = 0; k < n; k++) dst[k] += d * v[k];
}

}  // namespace quant

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

const quant::FormatSpec& checkFormat(const QuantConfig& c) {
  const quant::FormatSpec* f = quant::findFormat(c.format);
  if (!f) throw std::invalid_argument("unknown format '" + c.format + "'");
  if (f->family == quant::Family::Sign ||
      (f->family == quant::Family::Ggml && !quant::gptqGgmlSupported(c.format)))
    throw std::invalid_argument(
        "method gptq runs on the int2..int8, nf4, fp4, fp8, mxfp4/mxfp8/nvfp4 grids and the ggml "
        "blocks here, not " +
        c.format);
  if (f->family == quant::Family::Ggml)
    return *f;  // blocks along the row; group settings do not apply
  if (!f->fixedGroup && c.groupKind == GroupKind::Tensor)
    throw std::invalid_argument(
        "method gptq needs groups along the input (a group size or channel), not group tensor");
  if (!f->fixedGroup && c.groupKind == GroupKind::Size && c.group < 1)
    throw std::invalid_argument("group size must be >= 1, got " + std::to_string(c.group));
  if (c.outliers || c.lowrank || c.rotate)
    throw std::invalid_argument(
        "method gptq does not combine with outliers, lowrank or rotate here");
  return *f;
}

}  // namespace

std::vector<float> gptqQuantize(const float* w, int64_t rows, int64_t cols, const double* hIn,
                                const QuantConfig& cfg, const GptqOptions& opt, ThreadPool* pool,
                                StoredTensor* stored, GptqTimes* times) {
  using namespace quant;
  const FormatSpec& f = checkFormat(cfg);
  if (rows <= 0 || cols <= 0) throw std::invalid_argument("gptq: empty tensor");
  if (!(opt.damp >= 0) || opt.block < 1)
    throw std::invalid_argument("gptq: damp must be >= 0 and block >= 1");
  const auto t0 = Clock::now();
  const int64_t n = cols;
  GptqPlan plan;
  plan.w = w;
  if (f.family == Family::Ggml) {
    if (cols % f.blockWeights != 0)
      throw std::invalid_argument("format " + cfg.format + " stores rows in blocks of " +
                                  std::to_string(f.blockWeights) + " weights: a row of " +
                                  std::to_string(cols) + " is not a multiple of " +
                                  std::to_string(f.blockWeights));
    plan.L.rows = rows;
    plan.L.cols = cols;
    plan.L.group = f.blockWeights;
    plan.L.groupsPerRow = cols / f.blockWeights;
    plan.L.groups = rows * plan.L.groupsPerRow;
  } else {
    plan.L = makeLayout(rows, cols, cfg, f);
  }
  plan.actOrder = opt.actOrder;
  if (opt.actOrder && f.family == Family::Ggml && gptqGgmlJointWidth(cfg.format) > 1)
    throw std::invalid_argument("method gptq quantizes " + cfg.format +
                                " in groups of 8 columns at once, in the original column "
                                "order: act_order does not combine with it");
  plan.reference = opt.reference;
  plan.pool = pool;
  plan.cancel = opt.cancel;
  const int64_t gs = plan.L.group;

  std::vector<double> diag(static_cast<size_t>(n));
  plan.dead.assign(size_t(n), 0);
  plan.hdiag.resize(size_t(n));
  for (int64_t j = 0; j < n; j++) {
    diag[size_t(j)] = hIn[j * n + j];
    plan.hdiag[size_t(j)] = float(std::max(0.0, diag[size_t(j)]));
    if (diag[size_t(j)] == 0) {
      diag[size_t(j)] = 1;
      plan.dead[size_t(j)] = 1;
    }
  }
  plan.perm.resize(size_t(n));
  std::iota(plan.perm.begin(), plan.perm.end(), 0);
  if (opt.actOrder)
    std::stable_sort(plan.perm.begin(), plan.perm.end(),
                     [&](int64_t a, int64_t b) { return diag[size_t(a)] > diag[size_t(b)]; });
  const std::vector<int64_t>& perm = plan.perm;
  double mean = 0;
  for (int64_t j = 0; j < n; j++) mean += diag[size_t(perm[size_t(j)])];
  mean /= double(n);
  const double damp = opt.damp * mean;
  // The damped Hessian in processing order: Hp[i][j].
  auto hp = [&](int64_t i, int64_t j) {
    const int64_t a = perm[size_t(i)], b = perm[size_t(j)];
    return a == b ? diag[size_t(a)] + damp : hIn[a * n + b];
  };
  const char* notPd = "gptq: the Hessian is not positive definite after damping; raise damp";

  if (opt.reference) {
    plan.U.resize(size_t(n * n));
    for (int64_t i = 0; i < n; i++)
      for (int64_t j = 0; j < n; j++) plan.U[size_t(i * n + j)] = hp(i, j);
    if (!linalg::inverseUpperCholesky(plan.U.data(), n, pool)) throw std::invalid_argument(notPd);
  } else {
    // H reversed (rows and columns), in f32: R^T R = P Hp P with R upper, so Hp = V V^T
    // for V = P R^T P (upper). VsT[c][k] = V[k][c] / V[c][c] = R[n-1-c][n-1-k] / R[n-1-c][n-1-c]:
    // R's rows scaled by their diagonal, then reversed in both directions.
    std::vector<float> a(static_cast<size_t>(n * n));
    parallelFor(
        pool, n,
        [&](int64_t i0, int64_t i1) {
          for (int64_t i = i0; i < i1; i++)
            for (int64_t j = i; j < n; j++) a[size_t(i * n + j)] = float(hp(n - 1 - i, n - 1 - j));
        },
        16);
    if (!linalg::choleskyUpperBlocked(a.data(), n, pool)) throw std::invalid_argument(notPd);
    plan.vdiag.resize(size_t(n));
    for (int64_t c = 0; c < n; c++) plan.vdiag[size_t(c)] = a[size_t((n - 1 - c) * (n + 1))];
    parallelFor(
        pool, n,
        [&](int64_t i0, int64_t i1) {
          for (int64_t i = i0; i < i1; i++) {
            float* r = a.data() + i * n;
            const float inv = 1.0f / r[i];
            for (int64_t j = i; j < n; j++) r[j] *= inv;
          }
        },
        16);
    for (int64_t i = 0; i < n / 2; i++) {
      float* x = a.data() + i * n;
      float* y = a.data() + (n - 1 - i) * n;
      std::reverse(x, x + n);
      std::reverse(y, y + n);
      std::swap_ranges(x, x + n, y);
    }
    if (n % 2) std::reverse(a.data() + (n / 2) * n, a.data() + (n / 2 + 1) * n);
    const float* vst = a.data();
    if (!opt.actOrder) {
      // U's diagonal block of each group after the first: the inverse of V's (f64).
      plan.ugg.resize(size_t(plan.L.groupsPerRow));
      std::vector<double> t;
      for (int64_t g = 1; g < plan.L.groupsPerRow; g++) {
        const int64_t c = g * gs, m = std::min(gs, n - c);
        t.assign(size_t(m * m), 0.0);  // V_GG^T (lower)
        for (int64_t y = 0; y < m; y++)
          for (int64_t x = 0; x <= y; x++)
            t[size_t(y * m + x)] =
                double(vst[(c + y) * n + c + x]) * double(plan.vdiag[size_t(c + y)]);
        linalg::invertLower(t.data(), m);
        std::vector<float>& u = plan.ugg[size_t(g)];
        u.assign(size_t(m * m), 0.0f);
        for (int64_t x = 0; x < m; x++)
          for (int64_t y = x; y < m; y++) u[size_t(x * m + y)] = float(t[size_t(y * m + x)]);
      }
    }
    // Columns quantized jointly (the i-quants' groups of 8) never straddle two blocks, and
    // each run's weights at its start need U's diagonal block of the run.
    const int64_t width = f.family == Family::Ggml ? gptqGgmlJointWidth(cfg.format) : 1;
    if (width > 1) {
      plan.uvec.assign(size_t(n * width), 0.0f);
      std::vector<double> t;
      for (int64_t c = 0; c + width <= n; c += width) {
        t.assign(size_t(width * width), 0.0);  // V's block, transposed (lower)
        for (int64_t y = 0; y < width; y++)
          for (int64_t x = 0; x <= y; x++)
            t[size_t(y * width + x)] =
                double(vst[(c + y) * n + c + x]) * double(plan.vdiag[size_t(c + y)]);
        linalg::invertLower(t.data(), width);
        float* u = plan.uvec.data() + c * width;
        for (int64_t x = 0; x < width; x++)
          for (int64_t y = x; y < width; y++) u[x * width + y] = float(t[size_t(y * width + x)]);
      }
    }
    for (int64_t b0 = 0, b1 = 0; b0 < n; b0 = b1) {
      b1 = std::min(n, b0 + std::max<int64_t>(opt.block, width));
      // Not inside a group that starts inside this block (see gptq_driver.h).
      if (!opt.actOrder && b1 < n && b1 % gs != 0 && b1 / gs * gs > b0) b1 = b1 / gs * gs;
      if (b1 < n && b1 % width != 0) b1 = b1 / width * width;
      GptqPlan::Block blk;
      blk.b0 = b0;
      blk.b1 = b1;
      const int64_t len = b1 - b0;
      blk.vb.assign(size_t(len * len), 0.0f);
      for (int64_t x = 0; x < len; x++)
        for (int64_t y = x + 1; y < len; y++)
          blk.vb[size_t(x * len + y)] = vst[(b0 + y) * n + b0 + x];
      if (b1 < n) linalg::packB(vst + b1 * n + b0, n, n - b1, len, blk.lazy, pool);
      plan.blocks.push_back(std::move(blk));
    }
  }
  if (times) times->hessian = since(t0);

  const auto t1 = Clock::now();
  std::vector<float> out(static_cast<size_t>(rows * cols));
  StoredTensor local;
  StoredTensor& st = stored ? *stored : local;
  for (Bytes* b : {&st.codes, &st.scales, &st.zeros, &st.outliers, &st.lowrank, &st.extra})
    b->clear();
  switch (f.family) {
    case Family::Int:
      gptqIntFamily(plan, cfg, f, out.data(), st);
      break;
    case Family::Float:
      gptqFloatFamily(plan, cfg, f, out.data(), st);
      break;
    case Family::Micro:
      gptqMicroFamily(plan, cfg, f, out.data(), st);
      break;
    case Family::Ggml:
      gptqGgmlFamily(plan, f, out.data(), st);
      break;
    default:
      throw std::logic_error("gptq: unexpected family");
  }
  const QuantBytes got = st.bytes(), want = expectedBytes(rows, cols, cfg);
  if (got.codes != want.codes || got.scales != want.scales || got.zeros != want.zeros ||
      got.extra != want.extra)
    throw std::logic_error("internal error: gptq's stored form of " + cfg.format + " is " +
                           std::to_string(got.total()) + " bytes, the layout says " +
                           std::to_string(want.total()));
  if (times) times->pass = since(t1);
  return out;
}

}  // namespace bitsmith
