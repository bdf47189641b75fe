#include "grlm/core/chunked_work.hpp"

#include <algorithm>
#include <numeric>

#include "grlm/core/error.hpp"
#include "grlm/core/log.hpp"
#include "grlm/core/progress.hpp"
#include "grlm/core/runtime.hpp"
#include "grlm/core/work_queue.hpp"

namespace grlm {
namespace {

uint64_t chunks_of(uint64_t items, uint64_t chunk_items) { return (items + chunk_items - 1) / chunk_items; }

}  // namespace

ChunkedWork::ChunkedWork(Runtime& runtime, RunStore& store, const std::string& group, uint64_t items, uint64_t chunk_items)
    : runtime_(runtime),
      store_(store),
      items_(items),
      chunk_items_(std::max<uint64_t>(1, chunk_items)),
      log_(store, group, chunks_of(items, std::max<uint64_t>(1, chunk_items))) {}

WorkChunk ChunkedWork::chunk(uint64_t index) const {
  const uint64_t first = index * chunk_items_;
  return {index, first, std::min(items_, first + chunk_items_) - first};
}

std::vector<uint64_t> ChunkedWork::pending() const {
  std::vector<uint64_t> chunks;
  for (uint64_t c = 0; c < num_chunks(); ++c) {
    if (!log_.done(c)) chunks.push_back(c);
  }
  return chunks;
}

uint64_t ChunkedWork::pending_items() const {
  uint64_t items = 0;
  for (uint64_t c : pending()) items += chunk(c).count;
  return items;
}

std::vector<std::vector<uint64_t>> ChunkedWork::deal(const Dealing& dealing, int ranks) const {
  const std::vector<uint64_t> chunks = pending();
  std::vector<std::vector<uint64_t>> dealt(static_cast<size_t>(ranks));
  if (dealing.kind == Dealing::Kind::RoundRobin) {
    for (size_t i = 0; i < chunks.size(); ++i) dealt[i % static_cast<size_t>(ranks)].push_back(chunks[i]);
    return dealt;
  }
  if (dealing.kind != Dealing::Kind::BalancedBySize) throw Error("chunked work: a work queue is not dealt in advance");
  if (dealing.costs.size() != num_chunks()) {
    throw Error(cat("chunked work: ", dealing.costs.size(), " chunk costs for ", num_chunks(), " chunks"));
  }
  std::vector<uint64_t> order = chunks;
  std::stable_sort(order.begin(), order.end(), [&](uint64_t a, uint64_t b) { return dealing.costs[a] > dealing.costs[b]; });
  std::vector<uint64_t> load(static_cast<size_t>(ranks), 0);
  for (uint64_t c : order) {
    const size_t rank = static_cast<size_t>(std::min_element(load.begin(), load.end()) - load.begin());
    dealt[rank].push_back(c);
    load[rank] += dealing.costs[c] + 1;  // +1: chunks of no cost still spread
  }
  for (auto& mine : dealt) std::sort(mine.begin(), mine.end());
  return dealt;
}

void ChunkedWork::run(const Dealing& dealing, const ProgressLine& line, const Work& work) {
  if (chunks_done() > 0) log::info(line.label, ": resuming, ", chunks_done(), " of ", num_chunks(), " chunks already done");
  if (dealing.kind == Dealing::Kind::WorkQueue) {
    run_queue(line, work);
  } else {
    run_rounds(dealing, line, work);
  }
}

void ChunkedWork::run_rounds(const Dealing& dealing, const ProgressLine& line, const Work& work) {
  const std::vector<std::vector<uint64_t>> dealt = deal(dealing, runtime_.world_size());
  size_t rounds = 0;
  for (const auto& chunks : dealt) rounds = std::max(rounds, chunks.size());
  const std::vector<uint64_t>& mine = dealt[static_cast<size_t>(runtime_.rank())];
  Progress progress(runtime_, line.label, pending_items(), line.unit, line.interval_s);
  for (size_t round = 0; round < rounds; ++round) {
    runtime_.throw_if_stop_requested();
    if (round < mine.size()) {
      const WorkChunk next = chunk(mine[round]);
      work(next);
      log_.commit({next.index});
      progress.add(next.count);
    } else {
      work(std::nullopt);
      log_.commit({});
    }
    if (after_commit_) after_commit_(log_.count_done());
  }
  progress.finish();
}

void ChunkedWork::run_queue(const ProgressLine& line, const Work& work) {
  const std::vector<uint64_t> chunks = pending();
  store_.flush();  // the datasets exist on disk before ranks write into them on their own
  WorkQueue queue(runtime_, chunks.size());
  Progress progress(runtime_, line.label, pending_items(), line.unit, line.interval_s);
  while (Runtime::local_stop_signal() == 0) {
    const std::optional<uint64_t> taken = queue.take();
    if (!taken) break;
    const WorkChunk next = chunk(chunks[*taken]);
    work(next);
    log_.mark_done_independent(next.index);
    progress.add(next.count);
    if (after_commit_) after_commit_(log_.count_done());
  }
  runtime_.throw_if_stop_requested();
  progress.finish();
}

}  // namespace grlm
