// NCCL backend of the communicator: device buffers, collectives enqueued on one CUDA stream.
// The unique id travels over the bootstrap (MPI) communicator, so no extra rendezvous is needed.
#include <cuda_runtime.h>
#include <nccl.h>

#include "grlm/core/comm.hpp"
#include "grlm/core/error.hpp"

namespace grlm {
namespace {

void check_nccl(ncclResult_t code, const char* what) {
  if (code == ncclSuccess) return;
  throw Error(cat("NCCL ", what, " failed: ", ncclGetErrorString(code)));
}

void check_cuda(cudaError_t code, const char* what) {
  if (code == cudaSuccess) return;
  throw Error(cat("CUDA ", what, " failed: ", cudaGetErrorString(code)));
}

ncclDataType_t nccl_type(DType dtype) {
  switch (dtype) {
    case DType::UInt8: return ncclUint8;
    case DType::Int32: return ncclInt32;
    case DType::Int64: return ncclInt64;
    case DType::Float32: return ncclFloat32;
    case DType::Float64: return ncclFloat64;
    case DType::BFloat16: return ncclBfloat16;
    case DType::Float16: return ncclFloat16;
  }
  throw Error("unknown dtype");
}

ncclRedOp_t nccl_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum: return ncclSum;
    case ReduceOp::Max: return ncclMax;
    case ReduceOp::Min: return ncclMin;
  }
  throw Error("unknown reduce op");
}

// Completion of a ring step is an event on the stream: waiting blocks the host only when asked,
// so the caller can keep enqueuing compute that overlaps the transfer.
class NcclExchange final : public PendingExchange {
 public:
  explicit NcclExchange(cudaStream_t stream) {
    check_cuda(cudaEventCreateWithFlags(&done_, cudaEventDisableTiming), "EventCreate");
    check_cuda(cudaEventRecord(done_, stream), "EventRecord");
  }
  ~NcclExchange() override { cudaEventDestroy(done_); }
  void wait() override { check_cuda(cudaEventSynchronize(done_), "EventSynchronize"); }

 private:
  cudaEvent_t done_ = nullptr;
};

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(Communicator& bootstrap, cudaStream_t stream)
      : rank_(bootstrap.rank()), size_(bootstrap.size()), stream_(stream) {
    ncclUniqueId id{};
    if (rank_ == 0) check_nccl(ncclGetUniqueId(&id), "GetUniqueId");
    bootstrap.broadcast(&id, sizeof id, DType::UInt8, 0);
    check_nccl(ncclCommInitRank(&comm_, size_, id, rank_), "CommInitRank");
  }
  ~NcclCommunicator() override { ncclCommDestroy(comm_); }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string_view backend() const override { return "nccl"; }

  void all_reduce(const void* send, void* recv, size_t count, DType dtype, ReduceOp op) override {
    check_nccl(ncclAllReduce(send, recv, count, nccl_type(dtype), nccl_op(op), comm_, stream_),
               "AllReduce");
  }
  void all_gather(const void* send, void* recv, size_t count, DType dtype) override {
    check_nccl(ncclAllGather(send, recv, count, nccl_type(dtype), comm_, stream_), "AllGather");
  }
  void reduce_scatter(const void* send, void* recv, size_t count, DType dtype,
                      ReduceOp op) override {
    check_nccl(ncclReduceScatter(send, recv, count, nccl_type(dtype), nccl_op(op), comm_, stream_),
               "ReduceScatter");
  }
  void broadcast(void* buffer, size_t count, DType dtype, int root) override {
    check_nccl(ncclBroadcast(buffer, buffer, count, nccl_type(dtype), root, comm_, stream_),
               "Broadcast");
  }
  std::unique_ptr<PendingExchange> start_exchange(const void* send, size_t send_count, int dest,
                                                  void* recv, size_t recv_count, int source,
                                                  DType dtype) override {
    check_nccl(ncclGroupStart(), "GroupStart");
    check_nccl(ncclSend(send, send_count, nccl_type(dtype), dest, comm_, stream_), "Send");
    check_nccl(ncclRecv(recv, recv_count, nccl_type(dtype), source, comm_, stream_), "Recv");
    check_nccl(ncclGroupEnd(), "GroupEnd");
    return std::make_unique<NcclExchange>(stream_);
  }
  void barrier() override {
    // An all-reduce of one value, then a host wait: NCCL has no barrier of its own.
    void* scratch = nullptr;
    check_cuda(cudaMallocAsync(&scratch, sizeof(float), stream_), "MallocAsync");
    check_cuda(cudaMemsetAsync(scratch, 0, sizeof(float), stream_), "MemsetAsync");
    all_reduce(scratch, scratch, 1, DType::Float32, ReduceOp::Sum);
    check_cuda(cudaFreeAsync(scratch, stream_), "FreeAsync");
    check_cuda(cudaStreamSynchronize(stream_), "StreamSynchronize");
  }

 private:
  int rank_;
  int size_;
  cudaStream_t stream_;
  ncclComm_t comm_ = nullptr;
};

}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator(Communicator& bootstrap, void* cuda_stream) {
  return std::make_unique<NcclCommunicator>(bootstrap, static_cast<cudaStream_t>(cuda_stream));
}

}  // namespace grlm
