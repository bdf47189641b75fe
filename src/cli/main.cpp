// grlm: one SPMD executable for the whole GRLM pipeline. Every rank runs this main.
#include <cstdio>
#include <exception>
#include <memory>

#include "commands.hpp"
#include "grlm/core/error.hpp"
#include "grlm/core/log.hpp"
#include "grlm/core/runtime.hpp"

int main(int argc, char** argv) {
  std::unique_ptr<grlm::Runtime> runtime;
  try {
    runtime = std::make_unique<grlm::Runtime>(argc, argv);
    grlm::log::init(runtime->rank(), grlm::log::Level::Info);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "grlm: cannot start MPI: %s\n", error.what());
    return grlm::kExitFailure;
  }
  return grlm::run_with_error_policy(*runtime, [&] { return grlm::cli::dispatch(*runtime, argc, argv); });
}
