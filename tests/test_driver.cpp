// Helper program for the process tests, started under mpirun:
//   grlm_test_driver fail-on-rank R            rank R fails alone while the others wait in a barrier
//   grlm_test_driver toy DIR [KEY=VALUE ...] [--kill-after K] [--term-after K]
//       runs the toy pipeline; after K committed chunks rank 0 sends itself SIGKILL (a crash
//       mid-stage) or SIGTERM (pre-emption); prints {"actions", "chunks_computed", "beta_sum"}.
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <thread>

#include "grlm/core/error.hpp"
#include "grlm/core/log.hpp"
#include "grlm/core/runtime.hpp"
#include "toy_pipeline.hpp"

namespace {

int fail_on_rank(grlm::Runtime& runtime, int failing_rank) {
  if (runtime.rank() == failing_rank) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    throw grlm::Error(grlm::cat("injected failure on rank ", failing_rank));
  }
  runtime.world().barrier();  // never returns: the failing rank never arrives
  return 0;
}

int run_toy(grlm::Runtime& runtime, int argc, char** argv) {
  const std::string dir = argv[2];
  std::vector<std::string> overrides = {"run_dir=" + dir};
  long kill_after = -1;
  long term_after = -1;
  for (int i = 3; i < argc; ++i) {
    if (std::strcmp(argv[i], "--kill-after") == 0) {
      kill_after = std::stol(argv[++i]);
    } else if (std::strcmp(argv[i], "--term-after") == 0) {
      term_after = std::stol(argv[++i]);
    } else {
      overrides.emplace_back(argv[i]);
    }
  }
  const grlm::Config config = grlm::Config::load(grlm::test::toy_schema(), std::nullopt, overrides);
  grlm::RunStore store(runtime, dir);
  grlm::RunContext context{config, runtime, store, grlm::Device{}};
  grlm::test::ToyCounters counters;
  counters.after_commit = [&](uint64_t committed) {
    if (runtime.rank() != 0) return;
    if (kill_after >= 0 && committed >= static_cast<uint64_t>(kill_after)) std::raise(SIGKILL);
    if (term_after >= 0 && committed >= static_cast<uint64_t>(term_after)) {
      std::raise(SIGTERM);
      term_after = -1;
    }
  };
  const auto outcomes = grlm::test::toy_pipeline(counters).run(context, {});
  const int64_t computed =
      grlm::all_reduce_value<int64_t>(runtime.world(), static_cast<int64_t>(counters.chunks_computed.size()),
                                      grlm::ReduceOp::Sum);
  const double beta_sum = store.exists("/beta/sum") ? store.read_all<double>("/beta/sum")[0] : -1;
  if (runtime.is_root()) {
    nlohmann::json report = {{"actions", nlohmann::json::array()}, {"chunks_computed", computed}, {"beta_sum", beta_sum}};
    for (const auto& outcome : outcomes) report["actions"].push_back(outcome.name + ":" + grlm::stage_action_name(outcome.action));
    std::cout << report.dump() << std::endl;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  grlm::Runtime runtime(argc, argv);
  grlm::log::init(runtime.rank(), grlm::log::Level::Info);
  return grlm::run_with_error_policy(runtime, [&]() -> int {
    const std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "fail-on-rank" && argc == 3) return fail_on_rank(runtime, std::stoi(argv[2]));
    if (mode == "toy" && argc >= 3) return run_toy(runtime, argc, argv);
    throw grlm::UsageError("usage: grlm_test_driver fail-on-rank R | toy DIR [KEY=VALUE ...] [--kill-after K]");
  });
}
