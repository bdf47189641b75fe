#include "grlm/core/device.hpp"

#include <thread>

#include "grlm/core/error.hpp"
#include "grlm/core/log.hpp"

#ifdef GRLM_HAVE_CUDA
#include <cuda_runtime.h>
#endif

namespace grlm {

int cuda_device_count() {
#ifdef GRLM_HAVE_CUDA
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // no driver or no device: clear the sticky error, report none
    return 0;
  }
  return count;
#else
  return 0;
#endif
}

namespace {

Device cpu_device() {
  return Device{DeviceKind::Cpu, -1, cat("cpu (", std::thread::hardware_concurrency(), " threads)")};
}

#ifdef GRLM_HAVE_CUDA
Device bind_cuda_device(const RankInfo& rank, int count) {
  const int index = rank.local_rank % count;
  if (rank.local_size > count && rank.local_rank == 0) {
    log::warn(rank.local_size, " ranks share ", count, " GPU(s) on ", rank.host,
              ": start one rank per GPU for full speed");
  }
  if (cudaSetDevice(index) != cudaSuccess) {
    throw Error(cat("cannot use CUDA device ", index, " on ", rank.host, ": ",
                    cudaGetErrorString(cudaGetLastError())));
  }
  cudaDeviceProp properties{};
  cudaGetDeviceProperties(&properties, index);
  const double memory_gib = static_cast<double>(properties.totalGlobalMem) / (1024.0 * 1024 * 1024);
  char memory_text[32];
  std::snprintf(memory_text, sizeof memory_text, "%.1f GiB", memory_gib);
  return Device{DeviceKind::Cuda, index, cat("cuda:", index, " (", properties.name, ", ", memory_text, ")"), properties.major >= 8};
}
#endif

}  // namespace

Device select_device(std::string_view requested, const RankInfo& rank) {
  if (requested == "cpu") return cpu_device();
  if (requested != "auto" && requested != "cuda") {
    throw UsageError(cat("unknown device '", requested, "' (expected auto, cpu or cuda)"));
  }
  const int count = cuda_device_count();
  if (count == 0) {
    if (requested == "cuda") {
#ifdef GRLM_HAVE_CUDA
      throw UsageError(cat("--device cuda: no CUDA device is visible on ", rank.host,
                           " (check the driver and CUDA_VISIBLE_DEVICES, or use --device cpu)"));
#else
      throw UsageError("--device cuda: this grlm was built without CUDA (rebuild with nvcc found)");
#endif
    }
    return cpu_device();
  }
#ifdef GRLM_HAVE_CUDA
  return bind_cuda_device(rank, count);
#else
  return cpu_device();
#endif
}

}  // namespace grlm
