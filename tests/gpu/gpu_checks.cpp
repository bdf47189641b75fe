// GPU checks of the foundation, run on a machine with a GPU (scripts/gpu_session.sh): device
// selection binds a CUDA device, and the NCCL backend of the communicator moves and reduces
// device buffers correctly (one rank: every collective must return its input, bit for bit).
#include <cuda_runtime.h>

#include <cstdio>
#include <cstring>
#include <vector>

#include "grlm/core/comm.hpp"
#include "grlm/core/device.hpp"
#include "grlm/core/error.hpp"

namespace {

int g_failures = 0;
int g_passes = 0;

void check(bool ok, const char* what) {
  std::printf("%s %s\n", ok ? "PASS" : "FAIL", what);
  ++(ok ? g_passes : g_failures);
}

void cuda(cudaError_t code) {
  if (code != cudaSuccess) throw grlm::Error(cudaGetErrorString(code));
}

template <class T>
T* device_copy(const std::vector<T>& host) {
  T* buffer = nullptr;
  cuda(cudaMalloc(&buffer, host.size() * sizeof(T)));
  cuda(cudaMemcpy(buffer, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice));
  return buffer;
}

template <class T>
std::vector<T> host_copy(const T* buffer, size_t count, cudaStream_t stream) {
  cuda(cudaStreamSynchronize(stream));
  std::vector<T> host(count);
  cuda(cudaMemcpy(host.data(), buffer, count * sizeof(T), cudaMemcpyDeviceToHost));
  return host;
}

}  // namespace

int main() {
  try {
    const grlm::Device device = grlm::select_device("auto", grlm::RankInfo{});
    std::printf("device: %s\n", device.description.c_str());
    check(device.is_cuda(), "select_device(auto) picks the GPU when one is visible");

    cudaStream_t stream = nullptr;
    cuda(cudaStreamCreate(&stream));
    auto bootstrap = grlm::make_local_communicator();
    auto nccl = grlm::make_nccl_communicator(*bootstrap, stream);
    check(nccl->backend() == "nccl" && nccl->size() == 1, "NCCL communicator of one rank starts");

    std::vector<float> values(1 << 20);
    for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i % 977) * 0.25f - 3.0f;
    float* send = device_copy(values);
    float* recv = device_copy(std::vector<float>(values.size(), 0.0f));

    nccl->all_reduce(send, recv, values.size(), grlm::DType::Float32, grlm::ReduceOp::Sum);
    check(host_copy(recv, values.size(), stream) == values, "all_reduce(sum) float32");
    nccl->all_reduce(recv, recv, values.size(), grlm::DType::Float32, grlm::ReduceOp::Max);
    check(host_copy(recv, values.size(), stream) == values, "all_reduce(max) in place");
    cuda(cudaMemsetAsync(recv, 0, values.size() * sizeof(float), stream));
    nccl->all_gather(send, recv, values.size(), grlm::DType::Float32);
    check(host_copy(recv, values.size(), stream) == values, "all_gather");
    cuda(cudaMemsetAsync(recv, 0, values.size() * sizeof(float), stream));
    nccl->reduce_scatter(send, recv, values.size(), grlm::DType::Float32, grlm::ReduceOp::Sum);
    check(host_copy(recv, values.size(), stream) == values, "reduce_scatter");
    nccl->broadcast(recv, values.size(), grlm::DType::Float32, 0);
    check(host_copy(recv, values.size(), stream) == values, "broadcast");
    cuda(cudaMemsetAsync(recv, 0, values.size() * sizeof(float), stream));
    auto exchange = nccl->start_exchange(send, values.size(), 0, recv, values.size(), 0, grlm::DType::Float32);
    exchange->wait();
    check(host_copy(recv, values.size(), stream) == values, "ring exchange (send/recv to self) + event wait");

    std::vector<uint16_t> halves(4096);
    for (size_t i = 0; i < halves.size(); ++i) halves[i] = static_cast<uint16_t>(0x3f80 + i % 64);  // bf16 bit patterns
    uint16_t* half_send = device_copy(halves);
    uint16_t* half_recv = device_copy(std::vector<uint16_t>(halves.size(), 0));
    nccl->all_reduce(half_send, half_recv, halves.size(), grlm::DType::BFloat16, grlm::ReduceOp::Sum);
    check(host_copy(half_recv, halves.size(), stream) == halves, "all_reduce bfloat16");
    nccl->barrier();
    check(true, "barrier returns");

    cudaFree(send);
    cudaFree(recv);
    cudaFree(half_send);
    cudaFree(half_recv);
    nccl.reset();
    cudaStreamDestroy(stream);
  } catch (const std::exception& error) {
    std::printf("FAIL exception: %s\n", error.what());
    return 1;
  }
  std::printf("%d passed, %d failed\n", g_passes, g_failures);
  return g_failures == 0 ? 0 : 1;
}
