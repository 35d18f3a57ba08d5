#pragma once

namespace fx {

const char* version_string();

}  // namespace fx
