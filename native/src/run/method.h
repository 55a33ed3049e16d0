// The quantization method of a job tensor, parsed once from the job (napi/run_api.cc).
#pragma once
#include <string>

namespace bitsmith {

enum class Method {
  Rtn,   // round to nearest on the tensor's grid (importance-weighted with calibration)
  Hqq,   // half-quadratic zero-point search (QuantConfig::hqq)
  Gptq,  // error feedback through the input Hessian (needs calibration)
  Awq,   // activation-aware input scaling (needs calibration)
};

inline const char* methodName(Method m) {
  switch (m) {
    case Method::Rtn:
      return "rtn";
    case Method::Hqq:
      return "hqq";
    case Method::Gptq:
      return "gptq";
    case Method::Awq:
      return "awq";
  }
  return "rtn";
}

/** false for a name no method has. */
inline bool parseMethod(const std::string& s, Method& out) {
  for (Method m : {Method::Rtn, Method::Hqq, Method::Gptq, Method::Awq})
    if (s == methodName(m)) {
      out = m;
      return true;
    }
  return false;
}

/** Whether the method needs the forward pass's Hessians (calibration with activations). */
inline bool needsActivations(Method m) {
  return m == Method::Gptq || m == Method::Awq;
}

}  // namespace bitsmith
