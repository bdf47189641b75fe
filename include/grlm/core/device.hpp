// Which compute device this rank uses: one GPU per rank, chosen by local rank, or the CPU.
#pragma once

#include <string>
#include <string_view>

#include "grlm/core/runtime.hpp"

namespace grlm {

enum class DeviceKind { Cpu, Cuda };

struct Device {
  DeviceKind kind = DeviceKind::Cpu;
  int index = -1;           // CUDA device ordinal, -1 on CPU
  std::string description;  // e.g. "cuda:1 (NVIDIA H100 80GB HBM3, 79.1 GiB)" or "cpu (16 threads)"
  bool cuda_bf16 = false;   // a GPU with native bfloat16 (compute capability 8.0 or later)
  bool is_cuda() const { return kind == DeviceKind::Cuda; }
};

// Number of CUDA devices this process can use (0 when built without CUDA or with no driver).
int cuda_device_count();

// `requested` is "auto" (cuda when a GPU is visible), "cpu" or "cuda". On cuda the rank binds to
// GPU local_rank % count and warns when ranks on a node outnumber its GPUs.
Device select_device(std::string_view requested, const RankInfo& rank);

}  // namespace grlm
