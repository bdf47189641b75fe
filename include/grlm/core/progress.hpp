// Global progress of long work across ranks, shown by rank 0: a live bar on a terminal, periodic
// lines in a batch log ("embed: 4,096/12,101 items (33.8%), 512.3 items/s, ETA 0:00:15").
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace grlm {

class Runtime;

class Progress {
 public:
  // Collective. `global_total` counts the work of all ranks together; `interval_s` is the period
  // of batch-log lines (a terminal redraws at most 5 times a second).
  Progress(Runtime& runtime, std::string label, uint64_t global_total, std::string unit,
           double interval_s);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Adds this rank's newly finished work. Cheap: other ranks report to rank 0 at most twice a
  // second with non-blocking messages, so no rank ever waits for another here.
  void add(uint64_t local_done);
  // Collective: collects the final counts and prints the summary line on rank 0. Returns the
  // global count on rank 0, this rank's count elsewhere.
  uint64_t finish();

  // Formats a duration in seconds as H:MM:SS.
  static std::string format_duration(double seconds);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace grlm
