#include "grlm/core/runtime.hpp"

#include <algorithm>

#include <mpi.h>

#include <atomic>
#include <csignal>
#include <cstdlib>

#include "grlm/core/error.hpp"
#include "grlm/core/log.hpp"

namespace grlm {
namespace {

std::atomic<int> g_stop_signal{0};

extern "C" void on_stop_signal(int signal_number) {
  // A second signal means "now": restore the default action so it kills the process.
  if (g_stop_signal.exchange(signal_number) != 0) {
    std::signal(signal_number, SIG_DFL);
    std::raise(signal_number);
  }
}

void install_signal_handlers() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
}

RankInfo query_rank_info() {
  RankInfo info;
  MPI_Comm_rank(MPI_COMM_WORLD, &info.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &info.world_size);
  MPI_Comm node_comm = MPI_COMM_NULL;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, info.rank, MPI_INFO_NULL, &node_comm);
  MPI_Comm_rank(node_comm, &info.local_rank);
  MPI_Comm_size(node_comm, &info.local_size);
  MPI_Comm_free(&node_comm);
  char host[MPI_MAX_PROCESSOR_NAME];
  int host_length = 0;
  MPI_Get_processor_name(host, &host_length);
  info.host.assign(host, static_cast<size_t>(host_length));
  return info;
}

}  // namespace

std::string world_summary(const std::vector<std::string>& host_of_rank) {
  std::vector<std::pair<std::string, std::vector<int>>> hosts;
  for (size_t rank = 0; rank < host_of_rank.size(); ++rank) {
    auto found = std::find_if(hosts.begin(), hosts.end(), [&](const auto& entry) { return entry.first == host_of_rank[rank]; });
    if (found == hosts.end()) found = hosts.insert(hosts.end(), {host_of_rank[rank], {}});
    found->second.push_back(static_cast<int>(rank));
  }
  std::string text = cat(host_of_rank.size(), host_of_rank.size() == 1 ? " rank" : " ranks", " on ", hosts.size(),
                         hosts.size() == 1 ? " node (" : " nodes (");
  for (size_t h = 0; h < hosts.size(); ++h) {
    const std::vector<int>& ranks = hosts[h].second;
    if (h > 0) text.append("; ");
    text.append(hosts[h].first).append(": ");
    for (size_t i = 0; i < ranks.size();) {
      size_t end = i;
      while (end + 1 < ranks.size() && ranks[end + 1] == ranks[end] + 1) ++end;
      if (i > 0) text.append(",");
      text.append(std::to_string(ranks[i]));
      if (end - i >= 2) text.append("-").append(std::to_string(ranks[end]));
      if (end - i == 1) text.append(",").append(std::to_string(ranks[end]));
      i = end + 1;
    }
  }
  return text + ")";
}

std::string describe_world(Runtime& runtime) { return world_summary(all_gather_bytes(runtime.world(), runtime.info().host)); }

Runtime::Runtime(int& argc, char**& argv) {
  int provided = 0;
  // FUNNELED: worker threads compute, only the main thread talks to MPI.
  if (MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
    throw Error("MPI_Init_thread failed");
  }
  // Errors come back as codes, which the communicator turns into exceptions with the message.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  info_ = query_rank_info();
  world_ = make_mpi_world_communicator();
  install_signal_handlers();
}

Runtime::~Runtime() { finalize(); }

void Runtime::finalize() {
  if (finalized_) return;
  finalized_ = true;
  world_.reset();
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

int Runtime::local_stop_signal() { return g_stop_signal.load(); }

bool Runtime::stop_requested_anywhere() {
  return all_reduce_value<int32_t>(*world_, g_stop_signal.load(), ReduceOp::Max) != 0;
}

void Runtime::throw_if_stop_requested() {
  const int32_t signal_number = all_reduce_value<int32_t>(*world_, g_stop_signal.load(), ReduceOp::Max);
  if (signal_number != 0) throw Interrupted(signal_number);
}

namespace {

int collective_exit(Runtime& runtime, const std::string& message, int exit_code) {
  if (runtime.is_root()) log::error(message);
  runtime.finalize();
  return exit_code;
}

}  // namespace

int run_with_error_policy(Runtime& runtime, const std::function<int()>& body) {
  try {
    const int code = body();
    runtime.finalize();
    return code;
  } catch (const UsageError& error) {
    return collective_exit(runtime, error.what(), kExitUsage);
  } catch (const NotBuiltError& error) {
    return collective_exit(runtime, error.what(), kExitNotBuilt);
  } catch (const CollectiveFailure& error) {
    return collective_exit(runtime, error.what(), kExitFailure);
  } catch (const Paused& error) {
    return collective_exit(runtime, error.what(), kExitPaused);
  } catch (const Interrupted& error) {
    return collective_exit(runtime, error.what(), 128 + error.signal_number());
  } catch (const std::exception& error) {
    log::error(error.what());
    if (runtime.world_size() > 1) Runtime::abort_job(kExitFailure);
    runtime.finalize();
    return kExitFailure;
  }
}

bool raised_on_every_rank(const std::exception& error) {
  return dynamic_cast<const UsageError*>(&error) || dynamic_cast<const NotBuiltError*>(&error) ||
         dynamic_cast<const CollectiveFailure*>(&error) || dynamic_cast<const Paused*>(&error) ||
         dynamic_cast<const Interrupted*>(&error);
}

void Runtime::abort_job(int exit_code) {
  int initialized = 0;
  int finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized && !finalized) MPI_Abort(MPI_COMM_WORLD, exit_code);
  std::_Exit(exit_code);
}

}  // namespace grlm
