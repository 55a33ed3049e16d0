#include "napi/register.h"

namespace bitsmith {
void RegisterQuant(Napi::Env, Napi::Object) {}
}  // namespace bitsmith
