#include "grlm/model/torch_info.hpp"

#include <torch/version.h>

namespace grlm {

std::string libtorch_version() { return TORCH_VERSION; }

}  // namespace grlm
