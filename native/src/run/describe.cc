#include "run/describe.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "quant/scale.h"
#include "run/runner.h"

#ifndef _WIN32
#include <sys/resource.h>
#endif

namespace bitsmith {

using json::Value;

const char* groupKindName(GroupKind k) {
  switch (k) {
    case GroupKind::Size:
      return "size";
    case GroupKind::Channel:
      return "channel";
    case GroupKind::Tensor:
      return "tensor";
  }
  return "size";
}

Value shapeValue(const std::vector<int64_t>& shape) {
  Value a = Value::array();
  for (auto d : shape) a.push(Value::of(d));
  return a;
}

std::string shapeText(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); i++) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

Value histValue(const Histogram& h) {
  Value v = Value::object();
  v.set("min", Value::of(h.min));
  v.set("max", Value::of(h.max));
  Value c = Value::array();
  for (auto x : h.counts) c.push(Value::of(int64_t(x)));
  v.set("counts", std::move(c));
  return v;
}

Value configValue(const JobTensor& t) {
  const QuantConfig& c = t.config;
  Value v = Value::object();
  v.set("format", Value::of(c.format));
  v.set("method", Value::of(methodName(t.method)));
  v.set("group", Value::of(c.group));
  v.set("groupKind", Value::of(groupKindName(c.groupKind)));
  v.set("symmetric", Value::of(c.symmetric));
  v.set("scale", Value::of(scaleName(c.scale)));
  if (!c.symmetric) v.set("zero", Value::of(c.zero == ZeroType::Int ? "int" : "f16"));
  if (c.clipMse) v.set("clip", Value::of("mse"));
  if (c.outliers) v.set("outliers", Value::of(c.outliers));
  if (c.lowrank) v.set("lowrank", Value::of(int64_t(c.lowrank)));
  if (c.rotate) v.set("rotate", Value::of("hadamard"));
  if (t.method == Method::Hqq) {
    // The f32 options as the recipe wrote them (shortest decimal that round-trips).
    auto f32 = [](float x) {
      char b[32];
      std::snprintf(b, sizeof b, "%.9g", double(x));
      for (int p = 1; p <= 9; p++) {
        std::snprintf(b, sizeof b, "%.*g", p, double(x));
        if (std::strtof(b, nullptr) == x) break;
      }
      return Value::of(std::strtod(b, nullptr));
    };
    Value h = Value::object();
    h.set("iters", Value::of(int64_t(c.hqq.iters)));
    h.set("lpNorm", f32(c.hqq.lpNorm));
    h.set("beta", f32(c.hqq.beta));
    h.set("kappa", f32(c.hqq.kappa));
    v.set("hqq", std::move(h));
  }
  if (t.method == Method::Awq) v.set("grid", Value::of(int64_t(t.awq.grid)));
  return v;
}

bool rowLocal(const QuantConfig& c) {
  // What couples rows: a per-tensor scale (group tensor, nvfp4's global f32 scale), outliers
  // chosen over the whole tensor, and the low-rank correction. The Hadamard rotation is
  // row-local (one seeded sign per column, shared by all rows: quant/rotate.cc).
  return c.outliers == 0 && c.lowrank == 0 && c.groupKind != GroupKind::Tensor &&
         c.format != "nvfp4";
}

int64_t peakRssBytes() {
#ifndef _WIN32
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
#ifdef __APPLE__
  return int64_t(ru.ru_maxrss);
#else
  return int64_t(ru.ru_maxrss) * 1024;
#endif
#else
  return 0;
#endif
}

}  // namespace bitsmith
