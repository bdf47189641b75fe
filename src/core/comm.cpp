#include "grlm/core/comm.hpp"

#include <algorithm>
#include <cstring>

#include "grlm/core/error.hpp"

namespace grlm {

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::UInt8: return 1;
    case DType::Int32: return 4;
    case DType::Int64: return 8;
    case DType::Float32: return 4;
    case DType::Float64: return 8;
    case DType::BFloat16: return 2;
    case DType::Float16: return 2;
  }
  throw Error("unknown dtype");
}

std::string_view dtype_name(DType dtype) {
  switch (dtype) {
    case DType::UInt8: return "uint8";
    case DType::Int32: return "int32";
    case DType::Int64: return "int64";
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
    case DType::BFloat16: return "bfloat16";
    case DType::Float16: return "float16";
  }
  return "?";
}

namespace {
// An exchange that was done when it started (blocking fallbacks, the one-rank communicator).
class FinishedExchange final : public PendingExchange {
 public:
  void wait() override {}
};
}  // namespace

std::unique_ptr<PendingExchange> Communicator::start_reduce_scatter(const void* send, void* recv, size_t count,
                                                                    DType dtype, ReduceOp op) {
  reduce_scatter(send, recv, count, dtype, op);
  return std::make_unique<FinishedExchange>();
}

RowBlock row_block(int64_t total, int parts, int part) {
  const int64_t base = total / parts;
  const int64_t extra = total % parts;
  return {part * base + std::min<int64_t>(part, extra), base + (part < extra ? 1 : 0)};
}

std::vector<std::string> all_gather_bytes(Communicator& comm, const std::string& local) {
  const int ranks = comm.size();
  std::vector<int64_t> sizes(static_cast<size_t>(ranks));
  const int64_t local_size = static_cast<int64_t>(local.size());
  comm.all_gather(&local_size, sizes.data(), 1, DType::Int64);
  const int64_t padded = *std::max_element(sizes.begin(), sizes.end());
  // Fixed-size blocks keep this on plain all_gather, which every backend has.
  std::string send(static_cast<size_t>(padded), '\0');
  std::copy(local.begin(), local.end(), send.begin());
  std::string gathered(static_cast<size_t>(padded * ranks), '\0');
  if (padded > 0) comm.all_gather(send.data(), gathered.data(), static_cast<size_t>(padded), DType::UInt8);
  std::vector<std::string> parts(static_cast<size_t>(ranks));
  for (int r = 0; r < ranks; ++r) {
    parts[static_cast<size_t>(r)] = gathered.substr(static_cast<size_t>(r * padded),
                                                    static_cast<size_t>(sizes[static_cast<size_t>(r)]));
  }
  return parts;
}

std::string broadcast_bytes(Communicator& comm, std::string bytes, int root) {
  int64_t size = static_cast<int64_t>(bytes.size());
  comm.broadcast(&size, 1, DType::Int64, root);
  bytes.resize(static_cast<size_t>(size));
  if (size > 0) comm.broadcast(bytes.data(), static_cast<size_t>(size), DType::UInt8, root);
  return bytes;
}

namespace {

class LocalCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string_view backend() const override { return "local"; }
  void all_reduce(const void* send, void* recv, size_t count, DType dtype, ReduceOp) override {
    copy(send, recv, count, dtype);
  }
  void all_gather(const void* send, void* recv, size_t count, DType dtype) override { copy(send, recv, count, dtype); }
  void reduce_scatter(const void* send, void* recv, size_t count, DType dtype, ReduceOp) override {
    copy(send, recv, count, dtype);
  }
  void broadcast(void*, size_t, DType, int root) override { check_peer(root); }
  std::unique_ptr<PendingExchange> start_exchange(const void* send, size_t send_count, int dest, void* recv,
                                                  size_t recv_count, int source, DType dtype) override {
    check_peer(dest);
    check_peer(source);
    if (send_count != recv_count) throw Error("local exchange: send and receive counts differ");
    copy(send, recv, send_count, dtype);
    return std::make_unique<FinishedExchange>();
  }
  void barrier() override {}

 private:
  static void copy(const void* send, void* recv, size_t count, DType dtype) {
    if (send != recv && count > 0) std::memmove(recv, send, count * dtype_size(dtype));
  }
  static void check_peer(int peer) {
    if (peer != 0) throw Error(cat("local communicator has one rank; rank ", peer, " does not exist"));
  }
};

}  // namespace

std::unique_ptr<Communicator> make_local_communicator() { return std::make_unique<LocalCommunicator>(); }

}  // namespace grlm
