#include "napi/register.h"

namespace bitsmith {
void RegisterRun(Napi::Env, Napi::Object) {}
}  // namespace bitsmith
