// The process's place in the SPMD job: MPI start/stop, rank facts, signal handling, abort.
#pragma once

#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "grlm/core/comm.hpp"

namespace grlm {

struct RankInfo {
  int rank = 0;        // global rank in the job
  int world_size = 1;  // number of ranks in the job
  int local_rank = 0;  // rank among the ranks on this node (selects the GPU)
  int local_size = 1;  // number of ranks on this node
  std::string host;    // this node's name
};

class Runtime {
 public:
  // Starts MPI (a singleton run without mpirun works too) and installs SIGTERM/SIGINT handlers.
  Runtime(int& argc, char**& argv);
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  const RankInfo& info() const { return info_; }
  int rank() const { return info_.rank; }
  int world_size() const { return info_.world_size; }
  bool is_root() const { return info_.rank == 0; }
  // Host-side communicator over all ranks (MPI backend).
  Communicator& world() { return *world_; }

  // Collective: true on every rank when any rank received SIGTERM/SIGINT. Stages call it between
  // atomic writes and stop there, so the run store stays resumable.
  bool stop_requested_anywhere();
  // Collective: throws Interrupted on every rank when any rank received a stop signal.
  void throw_if_stop_requested();
  // Non-zero when this rank received a stop signal (the signal number).
  static int local_stop_signal();

  // Ends every rank of the job with `exit_code`; used when one rank fails alone.
  [[noreturn]] static void abort_job(int exit_code);
  // Ends MPI now (normal shutdown); the destructor then does nothing.
  void finalize();

 private:
  RankInfo info_;
  std::unique_ptr<Communicator> world_;
  bool finalized_ = false;
};

// "4 ranks on 2 nodes (node1: 0,1; node2: 2,3)": the hosts in order of their first rank, each
// with its ranks (runs of three or more as "a-b"). `host_of_rank[r]` is rank r's host.
std::string world_summary(const std::vector<std::string>& host_of_rank);
// Collective: world_summary of this job.
std::string describe_world(Runtime& runtime);

// Runs `body` under grlm's error policy and returns the process exit code. Errors every rank
// raises at the same point (UsageError, NotBuiltError, CollectiveFailure, Interrupted) end the
// job cleanly with rank 0 reporting; any other error is reported with its rank and aborts the
// whole job, so no rank waits forever for one that is gone.
int run_with_error_policy(Runtime& runtime, const std::function<int()>& body);

// True for the errors every rank raises at the same point (those run_with_error_policy ends
// cleanly, Paused included); false for an error that may be this rank's alone.
bool raised_on_every_rank(const std::exception& error);

}  // namespace grlm
