// Error kinds: each maps to one exit code, so scripts and Slurm can tell them apart.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace grlm {

// Builds a message from any streamable parts: cat("row ", 3, " of ", path).
template <class... Parts>
std::string cat(Parts&&... parts) {
  std::ostringstream out;
  (out << ... << std::forward<Parts>(parts));
  return out.str();
}

// "a, b, c" from {"a", "b", "c"} and ", ".
inline std::string join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string joined;
  for (size_t i = 0; i < parts.size(); ++i) joined.append(i ? separator : std::string_view()).append(parts[i]);
  return joined;
}

// Anything that stops the run; exit code 1.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A bad command line or config value: detected identically on every rank; exit code 2.
class UsageError : public Error {
 public:
  using Error::Error;
};

// A malformed input file; the message names the file and the line or item.
class InputError : public Error {
 public:
  using Error::Error;
};

// Any failure that every rank raised at the same point (e.g. all ranks validated the same input
// file): the job ends cleanly with exit code 1 instead of being aborted.
class CollectiveFailure : public Error {
 public:
  using Error::Error;
};

// A command or stage this build lacks (e.g. one that needs libtorch in a build without it); exit code 3.
class NotBuiltError : public Error {
 public:
  using Error::Error;
};

// SIGTERM/SIGINT was received and the run stopped at a resumable point; exit code 130 or 143.
class Interrupted : public Error {
 public:
  explicit Interrupted(int signal_number);
  int signal_number() const { return signal_number_; }

 private:
  int signal_number_;
};

// Work stopped on purpose at a resumable point (train.stop_after_steps: a job that trains in
// slices); every rank raises it together; exit code 75 (EX_TEMPFAIL: rerun to continue).
class Paused : public Error {
 public:
  using Error::Error;
};

// Exit codes documented in docs/CLI.md.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitNotBuilt = 3;
inline constexpr int kExitPaused = 75;

}  // namespace grlm
