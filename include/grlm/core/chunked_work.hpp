// Resumable work in chunks, the one loop of every stage that cuts its items into chunks (embed,
// extract, evaluate, and `grlm recommend`): the items are cut into equal chunks; the chunks the
// store's ChunkLog does not have yet are dealt to the ranks by a policy; each is computed and
// written by the caller, then marked done. A killed run resumes at the next unfinished chunk.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "grlm/core/store.hpp"

namespace grlm {

class Runtime;

// One chunk of items: [first, first + count).
struct WorkChunk {
  uint64_t index = 0;
  uint64_t first = 0;
  uint64_t count = 0;
};

// How pending chunks reach the ranks.
struct Dealing {
  enum class Kind {
    // Collective rounds. Largest chunks first, each to the least loaded rank (same plan on every
    // rank); a rank works through its chunks in chunk order. `costs`: one per chunk.
    BalancedBySize,
    // Collective rounds. Round r gives the rank-th of the next world-size pending chunks.
    RoundRobin,
    // No rounds: each rank takes the next chunk when it is free (faster ranks take more). Writes
    // must use independent I/O; the done flag is written by the rank that did the chunk.
    WorkQueue,
  };
  Kind kind = Kind::RoundRobin;
  std::vector<uint64_t> costs;

  static Dealing balanced_by_size(std::vector<uint64_t> costs) { return {Kind::BalancedBySize, std::move(costs)}; }
  static Dealing round_robin() { return {Kind::RoundRobin, {}}; }
  static Dealing work_queue() { return {Kind::WorkQueue, {}}; }
};

// The progress line shown while the chunks run (see Progress).
struct ProgressLine {
  std::string label;
  std::string unit;
  double interval_s = 30;
};

class ChunkedWork {
 public:
  // Collective: the chunk log /<group>/_chunks_done is opened, or created with nothing done.
  ChunkedWork(Runtime& runtime, RunStore& store, const std::string& group, uint64_t items, uint64_t chunk_items);

  uint64_t num_chunks() const { return log_.num_chunks(); }
  uint64_t chunks_done() const { return log_.count_done(); }
  WorkChunk chunk(uint64_t index) const;
  // The chunks not done yet, in chunk order, and their items.
  std::vector<uint64_t> pending() const;
  uint64_t pending_items() const;

  // With a chunk: compute and write it. With none (collective dealings only: this rank has no
  // chunk in the round), take part in the round's collective writes with zero rows.
  using Work = std::function<void(const std::optional<WorkChunk>& chunk)>;

  // Collective: runs every pending chunk by `dealing`, commits each as done after its rows are
  // written, shows the progress on rank 0 (and what a resume found done), and stops (Interrupted)
  // on a signal at the next round.
  void run(const Dealing& dealing, const ProgressLine& progress, const Work& work);

  // Called on every rank after each commit with the chunks done so far (collective dealings: on
  // all ranks; a work queue: as this rank knows them). Tests stop a run at a chunk boundary with it.
  void after_each_commit(std::function<void(uint64_t chunks_done)> observer) { after_commit_ = std::move(observer); }

  // The pending chunks each rank gets under a collective dealing (exposed for tests).
  std::vector<std::vector<uint64_t>> deal(const Dealing& dealing, int ranks) const;

 private:
  void run_rounds(const Dealing& dealing, const ProgressLine& line, const Work& work);
  void run_queue(const ProgressLine& line, const Work& work);

  Runtime& runtime_;
  RunStore& store_;
  uint64_t items_;
  uint64_t chunk_items_;
  ChunkLog log_;
  std::function<void(uint64_t)> after_commit_;
};

}  // namespace grlm
