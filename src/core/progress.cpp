#include "grlm/core/progress.hpp"

#include <mpi.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <thread>
#include <cstdio>
#include <vector>

#include "grlm/core/log.hpp"
#include "grlm/core/runtime.hpp"

namespace grlm {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int kProgressTag = 5;
constexpr double kReportPeriodSeconds = 0.5;
constexpr double kTerminalRedrawSeconds = 0.2;

double seconds_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

std::string with_thousands(uint64_t value) {
  std::string digits = std::to_string(value);
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) digits.insert(static_cast<size_t>(i), ",");
  return digits;
}

}  // namespace

// Message from a rank to rank 0: its cumulative count, and whether it is its last message.
struct ProgressReport {
  uint64_t done = 0;
  uint64_t final = 0;
};

struct Progress::State {
  std::string label;
  std::string unit;
  uint64_t total = 0;
  double interval_s = 30;
  int rank = 0;
  int world_size = 1;
  MPI_Comm comm = MPI_COMM_NULL;
  bool terminal = false;
  bool finished = false;
  Clock::time_point start = Clock::now();
  Clock::time_point last_report = Clock::now();
  Clock::time_point last_print = Clock::now();
  uint64_t local_done = 0;
  std::vector<uint64_t> rank_done;  // rank 0: latest count of every rank
  std::vector<uint8_t> final_seen;  // rank 0: whether each rank sent its last report
  ProgressReport outgoing;          // other ranks: the message in flight
  MPI_Request outgoing_request = MPI_REQUEST_NULL;

  uint64_t global_done() const {
    uint64_t sum = 0;
    for (uint64_t done : rank_done) sum += done;
    return sum;
  }

  std::string line(double elapsed_s) const {
    const uint64_t done = global_done();
    const double rate = elapsed_s > 0 ? static_cast<double>(done) / elapsed_s : 0.0;
    const double percent = total > 0 ? 100.0 * static_cast<double>(done) / static_cast<double>(total) : 100.0;
    char numbers[96];
    std::snprintf(numbers, sizeof numbers, " (%.1f%%), %.1f %s/s", percent, rate, unit.c_str());
    std::string text = cat(label, ": ", with_thousands(done), "/", with_thousands(total), " ", unit, numbers);
    if (rate > 0 && done < total) {
      text += ", ETA " + format_duration(static_cast<double>(total - done) / rate);
    }
    return text;
  }

  bool all_final() const {
    return std::all_of(final_seen.begin(), final_seen.end(), [](uint8_t seen) { return seen != 0; });
  }

  // Takes every report that has arrived; returns when none is waiting.
  void receive_reports() {
    while (true) {
      int waiting = 0;
      MPI_Status status;
      MPI_Iprobe(MPI_ANY_SOURCE, kProgressTag, comm, &waiting, &status);
      if (!waiting) return;
      ProgressReport report;
      MPI_Recv(&report, 2, MPI_UINT64_T, status.MPI_SOURCE, kProgressTag, comm, MPI_STATUS_IGNORE);
      rank_done[static_cast<size_t>(status.MPI_SOURCE)] = report.done;
      if (report.final) final_seen[static_cast<size_t>(status.MPI_SOURCE)] = 1;
    }
  }

  void send_report(bool final) {
    MPI_Wait(&outgoing_request, MPI_STATUS_IGNORE);
    outgoing = ProgressReport{local_done, final ? 1u : 0u};
    MPI_Isend(&outgoing, 2, MPI_UINT64_T, 0, kProgressTag, comm, &outgoing_request);
    if (final) MPI_Wait(&outgoing_request, MPI_STATUS_IGNORE);
  }

  void print(Clock::time_point now) {
    const std::string text = line(seconds_between(start, now));
    if (terminal) {
      const std::string redraw = "\r\033[K" + text;
      if (::write(STDERR_FILENO, redraw.data(), redraw.size()) < 0) return;
    } else {
      log::info(text);
    }
    last_print = now;
  }
};

Progress::Progress(Runtime& runtime, std::string label, uint64_t global_total, std::string unit,
                   double interval_s)
    : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.label = std::move(label);
  s.unit = std::move(unit);
  s.total = global_total;
  s.interval_s = interval_s;
  s.rank = runtime.rank();
  s.world_size = runtime.world_size();
  s.rank_done.assign(static_cast<size_t>(s.world_size), 0);
  s.final_seen.assign(static_cast<size_t>(s.world_size), 0);
  s.final_seen[0] = 1;  // rank 0 reports to itself
  s.terminal = s.rank == 0 && ::isatty(STDERR_FILENO) && log::enabled(log::Level::Info);
  // Its own communicator keeps progress messages apart from every other exchange.
  MPI_Comm_dup(MPI_COMM_WORLD, &s.comm);
}

Progress::~Progress() {
  if (!state_->finished) {
    // Unwinding after an error: the job is about to end, so just release what is local.
    if (state_->outgoing_request != MPI_REQUEST_NULL) MPI_Request_free(&state_->outgoing_request);
  }
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized && state_->comm != MPI_COMM_NULL) MPI_Comm_free(&state_->comm);
}

void Progress::add(uint64_t local_done) {
  State& s = *state_;
  s.local_done += local_done;
  const auto now = Clock::now();
  if (s.rank != 0) {
    int sent = 1;
    if (s.outgoing_request != MPI_REQUEST_NULL) MPI_Test(&s.outgoing_request, &sent, MPI_STATUS_IGNORE);
    if (sent && seconds_between(s.last_report, now) >= kReportPeriodSeconds) {
      s.send_report(false);
      s.last_report = now;
    }
    return;
  }
  s.rank_done[0] = s.local_done;
  s.receive_reports();
  const double period = s.terminal ? kTerminalRedrawSeconds : s.interval_s;
  if (seconds_between(s.last_print, now) >= period) s.print(now);
}

uint64_t Progress::finish() {
  State& s = *state_;
  if (s.finished) return s.rank == 0 ? s.global_done() : s.local_done;
  s.finished = true;
  if (s.rank != 0) {
    s.send_report(true);
    return s.local_done;
  }
  s.rank_done[0] = s.local_done;
  // Rank 0 may finish its share first: keep the display going until every rank has reported.
  while (true) {
    s.receive_reports();
    if (s.all_final()) break;
    const auto waiting_now = Clock::now();
    if (seconds_between(s.last_print, waiting_now) >= (s.terminal ? kTerminalRedrawSeconds : s.interval_s)) {
      s.print(waiting_now);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  const auto now = Clock::now();
  const double elapsed = seconds_between(s.start, now);
  if (s.terminal) {
    const char* clear = "\r\033[K";
    if (::write(STDERR_FILENO, clear, 4) < 0) return s.global_done();
  }
  const double rate = elapsed > 0 ? static_cast<double>(s.global_done()) / elapsed : 0.0;
  char numbers[64];
  std::snprintf(numbers, sizeof numbers, " in %.2f s (%.1f %s/s)", elapsed, rate, s.unit.c_str());
  log::info(s.label, ": ", with_thousands(s.global_done()), " ", s.unit, numbers);
  return s.global_done();
}

std::string Progress::format_duration(double seconds) {
  const auto whole = static_cast<uint64_t>(std::llround(std::max(0.0, seconds)));
  char text[32];
  std::snprintf(text, sizeof text, "%llu:%02llu:%02llu", static_cast<unsigned long long>(whole / 3600),
                static_cast<unsigned long long>(whole / 60 % 60), static_cast<unsigned long long>(whole % 60));
  return text;
}

}  // namespace grlm
