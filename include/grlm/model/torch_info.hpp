// Facts about the linked libtorch, for `grlm --version` (kept out of headers that need no torch).
#pragma once

#include <string>

namespace grlm {

std::string libtorch_version();  // e.g. "2.15.0"

}  // namespace grlm
