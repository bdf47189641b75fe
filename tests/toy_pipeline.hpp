// A two-stage toy pipeline over the real driver and store, for the pipeline and resume tests:
// "alpha" writes values in chunks (resumable), "beta" sums them.
#pragma once

#include <functional>
#include <vector>

#include "grlm/core/pipeline.hpp"

namespace grlm::test {

const ConfigSchema& toy_schema();  // run_dir, alpha.scale, alpha.chunks, alpha.inputs, beta.offset, gamma.enabled

struct ToyCounters {
  std::vector<uint64_t> chunks_computed;  // chunks this rank computed in this process
  int alpha_runs = 0;
  int beta_runs = 0;
  // Called after each committed chunk with the number of chunks committed so far (all ranks).
  std::function<void(uint64_t)> after_commit;
  // Called after beta wrote its dataset, before the stage is marked complete.
  std::function<void()> after_beta_write;
};

// 1000 values per chunk; alpha.chunks chunks; value[i] = i * alpha.scale.
Pipeline toy_pipeline(ToyCounters& counters);

}  // namespace grlm::test
