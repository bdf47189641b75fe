// A shared counter that hands out work items to whichever rank asks first (dynamic load
// balancing: faster ranks take more). One MPI window on rank 0; each take is an atomic
// fetch-and-add, so no rank waits for another. Construction and destruction are collective.
// Where MPI has no one-sided communication between the ranks (Open MPI 4 over TCP between nodes),
// the items are dealt round-robin instead, with a warning.
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
  // False where the items are dealt round-robin (no one-sided communication).
  bool on_demand() const { return window_ != nullptr; }

 private:
  uint64_t items_;
  int ranks_ = 1;
  uint64_t next_static_ = 0;  // round-robin dealing when no window could be made
  void* window_ = nullptr;    // MPI_Win
  int64_t* counter_ = nullptr;
};

}  // namespace grlm
