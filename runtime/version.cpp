#include "runtime/version.h"

#include "fluxshard/fluxshard.h"

namespace fx {

const char* version_string() { return "fluxshard " FX_VERSION_STRING; }

}  // namespace fx
