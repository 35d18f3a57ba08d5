#include "runtime/version.h"

namespace fx {

const char* version_string() { return "fluxshard 0.1.0"; }

}  // namespace fx
