// One communicator interface with two backends: MPI (host buffers, CPU ranks) and NCCL (device
// buffers, one GPU per rank). Algorithms use this interface and never include mpi.h or nccl.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace grlm {

enum class DType { UInt8, Int32, Int64, Float32, Float64, BFloat16, Float16 };
enum class ReduceOp { Sum, Max, Min };

size_t dtype_size(DType dtype);
std::string_view dtype_name(DType dtype);

template <class T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<uint8_t>() { return DType::UInt8; }
template <> constexpr DType dtype_of<int32_t>() { return DType::Int32; }
template <> constexpr DType dtype_of<int64_t>() { return DType::Int64; }
template <> constexpr DType dtype_of<float>() { return DType::Float32; }
template <> constexpr DType dtype_of<double>() { return DType::Float64; }

// A point-to-point exchange that was started and must be waited for before its buffers are reused.
class PendingExchange {
 public:
  virtual ~PendingExchange() = default;
  virtual void wait() = 0;
  // Lets the transfer advance while the caller computes (MPI moves large messages only inside MPI
  // calls); backends that progress on their own do nothing.
  virtual void progress() {}
};

// Counts are in elements. In-place operations pass the same pointer as send and receive buffer.
// MPI: host memory, calls return when done. NCCL: device memory, calls are enqueued on the
// communicator's CUDA stream and complete in stream order.
class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::string_view backend() const = 0;

  virtual void all_reduce(const void* send, void* recv, size_t count, DType dtype, ReduceOp op) = 0;
  // recv holds size() * count elements, rank r's contribution at offset r * count.
  virtual void all_gather(const void* send, void* recv, size_t count, DType dtype) = 0;
  // send holds size() * count elements; rank r receives the reduction of block r.
  virtual void reduce_scatter(const void* send, void* recv, size_t count, DType dtype,
                              ReduceOp op) = 0;
  virtual void broadcast(void* buffer, size_t count, DType dtype, int root) = 0;
  // Sends to `dest` while receiving from `source` (a ring step); started now, finished by wait().
  virtual std::unique_ptr<PendingExchange> start_exchange(const void* send, size_t send_count,
                                                          int dest, void* recv, size_t recv_count,
                                                          int source, DType dtype) = 0;
  virtual void barrier() = 0;
  // reduce_scatter started now and finished by wait(); `send` and `recv` must stay untouched until
  // then. MPI runs it in the background (MPI_Ireduce_scatter_block); backends whose collectives are
  // already asynchronous (NCCL: stream order) enqueue it and return a finished handle.
  virtual std::unique_ptr<PendingExchange> start_reduce_scatter(const void* send, void* recv, size_t count,
                                                                DType dtype, ReduceOp op);
};

// Rows [first, first + count) of `total` split into `parts` nearly equal consecutive blocks
// (the first total % parts blocks one row longer): how ranks share rows, items or users.
struct RowBlock {
  int64_t first = 0;
  int64_t count = 0;
  int64_t end() const { return first + count; }
};
RowBlock row_block(int64_t total, int parts, int part);

// --- host-side conveniences built on the interface (MPI backend or any host communicator) ---

template <class T>
T all_reduce_value(Communicator& comm, T value, ReduceOp op) {
  comm.all_reduce(&value, &value, 1, dtype_of<T>(), op);
  return value;
}

// Every rank's byte string, in rank order (sizes may differ between ranks).
std::vector<std::string> all_gather_bytes(Communicator& comm, const std::string& local);

// Rank `root` sends a byte string; every rank returns it.
std::string broadcast_bytes(Communicator& comm, std::string bytes, int root);

// Collective: rank 0's `problem` (empty: none) reaches every rank, which throws it as an E, so a
// failure only rank 0 can see ends every rank the same way instead of leaving some waiting.
template <class E>
void throw_rank0_problem(Communicator& comm, const std::string& problem) {
  const std::string shared = broadcast_bytes(comm, problem, 0);
  if (!shared.empty()) throw E(shared);
}

// A communicator of one rank in this process (no MPI): collectives copy send to receive. For
// single-process tools and GPU checks, and as the bootstrap of a one-GPU NCCL communicator.
std::unique_ptr<Communicator> make_local_communicator();

// A communicator over MPI_COMM_WORLD (duplicated, so its traffic never mixes with other users').
std::unique_ptr<Communicator> make_mpi_world_communicator();

#ifdef GRLM_HAVE_CUDA
// NCCL over the same ranks as `bootstrap` (used to broadcast the unique id), on the current
// CUDA device; `cuda_stream` is a cudaStream_t (nullptr: the legacy default stream).
std::unique_ptr<Communicator> make_nccl_communicator(Communicator& bootstrap, void* cuda_stream);
#endif

}  // namespace grlm
