// A shared counter that hands out work items to whichever rank asks first (dynamic load
// balancing: faster ranks take more). One MPI window on rank 0; each take is an atomic
// fetch-and-add, so no rank waits for another. Construction and destruction are collective.
#pragma once

#include <cstdint>
#include <optional>

namespace grlm {

class Runtime;

class WorkQueue {
 public:
  WorkQueue(Runtime& runtime, uint64_t items);
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // The next unclaimed item in [0, items), or nothing when all are claimed.
  std::optional<uint64_t> take();

 private:
  uint64_t items_;
  void* window_ = nullptr;  // MPI_Win
  int64_t* counter_ = nullptr;
};

}  // namespace grlm
