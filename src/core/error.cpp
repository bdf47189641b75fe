#include "grlm/core/error.hpp"

#include <csignal>

namespace grlm {

Interrupted::Interrupted(int signal_number)
    : Error(cat("interrupted by ", signal_number == SIGINT ? "SIGINT" : "SIGTERM",
                "; the run store is consistent: rerun the same command to resume")),
      signal_number_(signal_number) {}

}  // namespace grlm
