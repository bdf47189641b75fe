// One writer per run store: rank 0 holds a POSIX record lock on run_dir/grlm.lock for the whole
// command, so a second job on the same run_dir (a resubmitted Slurm job, two array tasks) is
// refused before it opens the store instead of corrupting it.
#pragma once

#include <filesystem>

#include "grlm/core/runtime.hpp"

namespace grlm {

class RunLock {
 public:
  static constexpr const char* kFileName = "grlm.lock";

  // Collective. Creates run_dir when missing and takes the lock on rank 0; when another process
  // holds it, every rank throws InputError naming that process's host, pid, start time and
  // command. The kernel drops the lock when its holder ends, kill -9 included, so there is no
  // stale lock to clean. On a filesystem without POSIX locks (some NFS and Lustre mounts) it
  // warns that a second job cannot be stopped and goes on.
  RunLock(Runtime& runtime, const std::filesystem::path& run_dir);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace grlm
