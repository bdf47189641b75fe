// MPI backend of the communicator: host buffers, blocking collectives, non-blocking ring steps.
#include <mpi.h>

#include <climits>

#include "grlm/core/comm.hpp"
#include "grlm/core/error.hpp"

namespace grlm {
namespace {

void check_mpi(int code, const char* what) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw Error(cat("MPI ", what, " failed: ", std::string(text, static_cast<size_t>(length))));
}

MPI_Datatype mpi_type(DType dtype) {
  switch (dtype) {
    case DType::UInt8: return MPI_UINT8_T;
    case DType::Int32: return MPI_INT32_T;
    case DType::Int64: return MPI_INT64_T;
    case DType::Float32: return MPI_FLOAT;
    case DType::Float64: return MPI_DOUBLE;
    case DType::BFloat16:
    case DType::Float16: break;
  }
  throw Error(cat("the MPI backend has no ", dtype_name(dtype), " reductions; use float32 on CPU"));
}

MPI_Op mpi_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum: return MPI_SUM;
    case ReduceOp::Max: return MPI_MAX;
    case ReduceOp::Min: return MPI_MIN;
  }
  throw Error("unknown reduce op");
}

int as_count(size_t count) {
  if (count > static_cast<size_t>(INT_MAX)) {
    throw Error(cat("MPI message of ", count, " elements exceeds the int count limit; split it"));
  }
  return static_cast<int>(count);
}

class MpiExchange final : public PendingExchange {
 public:
  MpiExchange() = default;
  ~MpiExchange() override {
    if (!waited_) MPI_Waitall(2, requests_, MPI_STATUSES_IGNORE);
  }
  void wait() override {
    waited_ = true;
    check_mpi(MPI_Waitall(2, requests_, MPI_STATUSES_IGNORE), "Waitall");
  }
  void progress() override {
    int done = 0;
    if (!waited_) check_mpi(MPI_Testall(2, requests_, &done, MPI_STATUSES_IGNORE), "Testall");
  }
  MPI_Request requests_[2] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL};

 private:
  bool waited_ = false;
};

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator() {
    check_mpi(MPI_Comm_dup(MPI_COMM_WORLD, &comm_), "Comm_dup");
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
  }
  ~MpiCommunicator() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Comm_free(&comm_);
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string_view backend() const override { return "mpi"; }

  void all_reduce(const void* send, void* recv, size_t count, DType dtype, ReduceOp op) override {
    const void* source = send == recv ? MPI_IN_PLACE : send;
    check_mpi(MPI_Allreduce(source, recv, as_count(count), mpi_type(dtype), mpi_op(op), comm_),
              "Allreduce");
  }
  void all_gather(const void* send, void* recv, size_t count, DType dtype) override {
    const size_t bytes = count * dtype_size(dtype);
    const void* source = send == static_cast<char*>(recv) + bytes * static_cast<size_t>(rank_)
                             ? MPI_IN_PLACE
                             : send;
    check_mpi(MPI_Allgather(source, as_count(count), raw_type(dtype), recv, as_count(count),
                            raw_type(dtype), comm_),
              "Allgather");
  }
  void reduce_scatter(const void* send, void* recv, size_t count, DType dtype,
                      ReduceOp op) override {
    check_mpi(MPI_Reduce_scatter_block(send, recv, as_count(count), mpi_type(dtype), mpi_op(op),
                                       comm_),
              "Reduce_scatter_block");
  }
  std::unique_ptr<PendingExchange> start_reduce_scatter(const void* send, void* recv, size_t count, DType dtype,
                                                        ReduceOp op) override {
    auto pending = std::make_unique<MpiExchange>();
    check_mpi(MPI_Ireduce_scatter_block(send, recv, as_count(count), mpi_type(dtype), mpi_op(op), comm_,
                                        &pending->requests_[0]),
              "Ireduce_scatter_block");
    return pending;
  }
  void broadcast(void* buffer, size_t count, DType dtype, int root) override {
    check_mpi(MPI_Bcast(buffer, as_count(count), raw_type(dtype), root, comm_), "Bcast");
  }
  std::unique_ptr<PendingExchange> start_exchange(const void* send, size_t send_count, int dest,
                                                  void* recv, size_t recv_count, int source,
                                                  DType dtype) override {
    auto exchange = std::make_unique<MpiExchange>();
    constexpr int kRingTag = 17;
    check_mpi(MPI_Irecv(recv, as_count(recv_count), raw_type(dtype), source, kRingTag, comm_,
                        &exchange->requests_[0]),
              "Irecv");
    check_mpi(MPI_Isend(send, as_count(send_count), raw_type(dtype), dest, kRingTag, comm_,
                        &exchange->requests_[1]),
              "Isend");
    return exchange;
  }
  void barrier() override { check_mpi(MPI_Barrier(comm_), "Barrier"); }

 private:
  // Moving bytes needs no arithmetic, so 16-bit floats travel as pairs of bytes.
  static MPI_Datatype raw_type(DType dtype) {
    if (dtype == DType::BFloat16 || dtype == DType::Float16) return MPI_UINT16_T;
    return mpi_type(dtype);
  }

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0;
  int size_ = 1;
};

}  // namespace

std::unique_ptr<Communicator> make_mpi_world_communicator() {
  return std::make_unique<MpiCommunicator>();
}

}  // namespace grlm
