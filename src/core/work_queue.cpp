#include "grlm/core/work_queue.hpp"

#include <mpi.h>

#include "grlm/core/error.hpp"
#include "grlm/core/runtime.hpp"

namespace grlm {

WorkQueue::WorkQueue(Runtime& runtime, uint64_t items) : items_(items) {
  auto* window = new MPI_Win;
  const MPI_Aint bytes = runtime.is_root() ? static_cast<MPI_Aint>(sizeof(int64_t)) : 0;
  if (MPI_Win_allocate(bytes, sizeof(int64_t), MPI_INFO_NULL, MPI_COMM_WORLD, &counter_, window) != MPI_SUCCESS) {
    delete window;
    throw Error("work queue: MPI_Win_allocate failed");
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
  auto* window = static_cast<MPI_Win*>(window_);
  MPI_Win_free(window);
  delete window;
}

std::optional<uint64_t> WorkQueue::take() {
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
