#include "grlm/model/dtype.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <mutex>

#include <ATen/ATen.h>
#include <ATen/Version.h>
#include <cpuinfo.h>

#include "grlm/core/error.hpp"
#include "grlm/core/log.hpp"
#include "grlm/model/transformer.hpp"

namespace grlm {
namespace {

std::string upper(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return text;
}

// oneDNN runs PyTorch's bfloat16 CPU matrix products; ONEDNN_MAX_CPU_ISA (DNNL_MAX_CPU_ISA before
// oneDNN 2) caps the instructions it may use. Its bfloat16 ISAs name BF16, AMX or AVX10.
bool onednn_allows_bf16(std::string& cap) {
  for (const char* name : {"ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA"}) {
    const char* value = std::getenv(name);
    if (value == nullptr || *value == '\0') continue;
    const std::string isa = upper(value);
    cap = cat(name, "=", value);
    return isa == "ALL" || isa == "DEFAULT" || isa.find("BF16") != std::string::npos || isa.find("AMX") != std::string::npos ||
           isa.find("AVX10") != std::string::npos;
  }
  return true;
}

// Seconds per 256x256 by 256x256 product in `dtype`, best of a few.
double seconds_per_product(at::ScalarType dtype) {
  const at::Tensor a = at::randn({256, 256}).to(dtype), b = at::randn({256, 256}).to(dtype);
  double best = 1e30;
  for (int repeat = 0; repeat < 4; ++repeat) {
    const auto start = std::chrono::steady_clock::now();
    at::Tensor product = at::matmul(a, b);
    (void)product.data_ptr();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return best;
}

void warn_slow_cpu_bf16(const std::string& facts) {
  static std::once_flag warned;
  std::call_once(warned, [&] {
    const double ratio = seconds_per_product(at::kBFloat16) / std::max(seconds_per_product(at::kFloat), 1e-9);
    char measured[32];
    std::snprintf(measured, sizeof measured, "%.1fx", ratio);
    log::warn("dtype bfloat16 on a CPU without native bfloat16 (", facts, "): a 256x256 matrix product takes ", measured,
              " the time of float32 here (measured now)",
              ratio > 1.5 ? "; dtype auto or float32 runs faster" : "; PyTorch's other bfloat16 kernels are not native either");
  });
}

}  // namespace

bool cpu_bf16_native(std::string* facts) {
  const std::string capability = at::get_cpu_capability();
  const bool initialized = cpuinfo_initialize();
  const bool avx512_bf16 = initialized && cpuinfo_has_x86_avx512bf16();
  const bool amx_bf16 = initialized && cpuinfo_has_x86_amx_bf16();
  std::string onednn_cap;
  const bool onednn = onednn_allows_bf16(onednn_cap);
  const bool kernels = capability.rfind("AVX512", 0) == 0 || capability.rfind("AMX", 0) == 0;
  if (facts != nullptr) {
    *facts = cat("PyTorch CPU capability ", capability, ", ",
                 amx_bf16 ? "AMX-BF16" : avx512_bf16 ? "AVX512-BF16" : "no AVX512-BF16/AMX-BF16",
                 onednn_cap.empty() ? "" : ", " + onednn_cap);
  }
  return kernels && (avx512_bf16 || amx_bf16) && onednn;
}

DtypeChoice choose_dtype(const std::string& option, const Device& device) {
  if (option != "auto") {
    const at::ScalarType dtype = parse_dtype(option);
    if (dtype == at::kBFloat16 && !device.is_cuda()) {
      std::string facts;
      if (!cpu_bf16_native(&facts)) {
        warn_slow_cpu_bf16(facts);
        return {dtype, cat("set; not native on this CPU: ", facts)};
      }
      return {dtype, cat("set; native on this CPU: ", facts)};
    }
    return {dtype, "set"};
  }
  if (device.is_cuda()) {
    if (device.cuda_bf16) return {at::kBFloat16, "auto: the GPU has native bfloat16"};
    return {at::kFloat, "auto: the GPU has no native bfloat16 (compute capability below 8.0)"};
  }
  std::string facts;
  if (cpu_bf16_native(&facts)) return {at::kBFloat16, cat("auto: native bfloat16 on this CPU, ", facts)};
  return {at::kFloat, cat("auto: no native bfloat16 on this CPU, ", facts)};
}

LoadOptions load_options_on(const Device& device, const std::string& dtype, std::string_view role,
                            const std::filesystem::path& folder) {
  LoadOptions options;
  options.device = device.is_cuda() ? at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(device.index)) : at::Device(at::kCPU);
  const DtypeChoice choice = choose_dtype(dtype, device);
  options.dtype = choice.dtype;
  log::info(role, " ", folder.string(), ": ", dtype_name(choice.dtype), " (", choice.reason, ") on ", device.description);
  return options;
}

}  // namespace grlm
