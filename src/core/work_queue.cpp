#include "grlm/core/work_queue.hpp"

#include <mpi.h>

#include "grlm/core/error.hpp"
#include "grlm/core/log.hpp"
#include "grlm/core/runtime.hpp"

namespace grlm {

WorkQueue::WorkQueue(Runtime& runtime, uint64_t items)
    : items_(items), ranks_(runtime.world_size()), next_static_(static_cast<uint64_t>(runtime.rank())) {
  auto* window = new MPI_Win;
  const MPI_Aint bytes = runtime.is_root() ? static_cast<MPI_Aint>(sizeof(int64_t)) : 0;
  const bool allocated =
      MPI_Win_allocate(bytes, sizeof(int64_t), MPI_INFO_NULL, MPI_COMM_WORLD, &counter_, window) == MPI_SUCCESS;
  // Open MPI 4 over TCP between nodes has no one-sided component for a FUNNELED program
  // (osc/rdma needs an RDMA network): every rank's allocation fails alike, and the items are
  // dealt round-robin instead.
  int everywhere = allocated ? 1 : 0;
  MPI_Allreduce(MPI_IN_PLACE, &everywhere, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  if (!allocated || !everywhere) {
    if (allocated) throw Error("work queue: MPI_Win_allocate failed on some ranks only");
    delete window;
    if (runtime.is_root()) {
      log::warn("work queue: MPI one-sided communication is not available between these ranks (MPI_Win_allocate failed): "
                "work is dealt round-robin instead of on demand");
    }
    return;
  }
  if (runtime.is_root()) {
    MPI_Win_lock(MPI_LOCK_EXCLUSIVE, 0, 0, *window);
    *counter_ = 0;
    MPI_Win_unlock(0, *window);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  window_ = window;
}

WorkQueue::~WorkQueue() {
  if (!window_) return;
  auto* window = static_cast<MPI_Win*>(window_);
  MPI_Win_free(window);
  delete window;
}

std::optional<uint64_t> WorkQueue::take() {
  if (!window_) {  // round-robin: this rank's items r, r + ranks, ...
    if (next_static_ >= items_) return std::nullopt;
    const uint64_t item = next_static_;
    next_static_ += static_cast<uint64_t>(ranks_);
    return item;
  }
  auto* window = static_cast<MPI_Win*>(window_);
  const int64_t one = 1;
  int64_t claimed = 0;
  MPI_Win_lock(MPI_LOCK_SHARED, 0, 0, *window);
  MPI_Fetch_and_op(&one, &claimed, MPI_INT64_T, 0, 0, MPI_SUM, *window);
  MPI_Win_unlock(0, *window);
  if (claimed < 0 || static_cast<uint64_t>(claimed) >= items_) return std::nullopt;
  return static_cast<uint64_t>(claimed);
}

}  // namespace grlm
