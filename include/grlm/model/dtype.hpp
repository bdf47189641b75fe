// The dtype a model runs in: "auto" resolved for the device this rank uses, explicit names kept.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include <c10/core/ScalarType.h>

#include "grlm/core/device.hpp"
#include "grlm/model/checkpoint.hpp"

namespace grlm {

struct DtypeChoice {
  c10::ScalarType dtype = c10::ScalarType::Float;
  std::string reason;  // why, for the log line that names the device
};

// `option` is "auto" or a dtype name (parse_dtype). auto: bfloat16 on a GPU with native bfloat16
// (compute capability 8.0+) and on a CPU whose PyTorch kernels run it natively
// (cpu_bf16_native), float32 elsewhere. An explicit bfloat16 on a CPU without native bfloat16 is
// kept, with one warning per process that says how much slower its matrix products run here.
DtypeChoice choose_dtype(const std::string& option, const Device& device);

// How a checkpoint runs on `device`: its torch device and `dtype` resolved by choose_dtype, logged
// with why as "<role> <folder>: bfloat16 (auto: ...) on cpu (2 threads)".
LoadOptions load_options_on(const Device& device, const std::string& dtype, std::string_view role,
                            const std::filesystem::path& folder);

// Whether this CPU runs bfloat16 matrix products natively: PyTorch's kernel capability
// (at::get_cpu_capability(), which ATEN_CPU_CAPABILITY lowers) is AVX512 or above, the CPU has
// AVX512-BF16 or AMX-BF16, and ONEDNN_MAX_CPU_ISA (if set) lets oneDNN use them. `facts` gets
// the capability and flags in words.
bool cpu_bf16_native(std::string* facts = nullptr);

}  // namespace grlm
