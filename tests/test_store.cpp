// The run store at any number of ranks: collective writes of each rank's rows read back exactly,
// strings keep rank order, stage records and chunk logs behave as resume needs.
#include <gtest/gtest.h>

#include "grlm/core/chunked_work.hpp"
#include "grlm/core/comm.hpp"
#include "grlm/core/error.hpp"
#include "grlm/core/store.hpp"
#include "test_support.hpp"

namespace grlm {
namespace {

// Rows [first, first + count) of `total` owned by `rank` in an uneven split (rank r gets r+1 shares).
std::pair<uint64_t, uint64_t> uneven_rows(uint64_t total, int rank, int ranks) {
  const uint64_t shares = static_cast<uint64_t>(ranks * (ranks + 1) / 2);
  uint64_t first = 0;
  for (int r = 0; r < rank; ++r) first += total * static_cast<uint64_t>(r + 1) / shares;
  uint64_t count = total * static_cast<uint64_t>(rank + 1) / shares;
  if (rank == ranks - 1) count = total - first;
  return {first, count};
}

TEST(RunStore, CollectiveWritesOfEachRanksRowsReadBackExactly) {
  const auto dir = test::scratch_dir("store-rows");
  RunStore store(test::runtime(), dir);
  const int rank = store.rank();
  const int ranks = store.world_size();
  constexpr uint64_t kRows = 1001;
  constexpr uint64_t kColumns = 7;
  const auto [first, count] = uneven_rows(kRows, rank, ranks);
  std::vector<float> vectors(count * kColumns);
  std::vector<int64_t> ids(count);
  for (uint64_t r = 0; r < count; ++r) {
    ids[r] = static_cast<int64_t>(first + r) * 1000003 - 5;
    for (uint64_t c = 0; c < kColumns; ++c) vectors[r * kColumns + c] = static_cast<float>(first + r) + 0.001f * c;
  }
  store.create_dataset("/stage/vectors", {kRows, kColumns}, DType::Float32);
  store.create_dataset("/stage/ids", {kRows}, DType::Int64);
  store.write_rows("/stage/vectors", first, count, vectors.data());
  store.write_rows("/stage/ids", first, count, ids.data());
  store.flush();

  EXPECT_EQ(store.dims("/stage/vectors"), (std::vector<uint64_t>{kRows, kColumns}));
  const std::vector<float> all_vectors = store.read_all<float>("/stage/vectors");
  const std::vector<int64_t> all_ids = store.read_all<int64_t>("/stage/ids");
  for (uint64_t r = 0; r < kRows; ++r) {
    ASSERT_EQ(all_ids[r], static_cast<int64_t>(r) * 1000003 - 5) << "row " << r;
    for (uint64_t c = 0; c < kColumns; ++c) {
      ASSERT_EQ(all_vectors[r * kColumns + c], static_cast<float>(r) + 0.001f * c) << "row " << r;
    }
  }
  // Partial reads of a rank's own rows.
  std::vector<float> mine(count * kColumns);
  store.read_rows("/stage/vectors", first, count, mine.data(), DType::Float32);
  EXPECT_EQ(mine, vectors);
}

TEST(RunStore, RowsOutsideTheDatasetAreAnError) {
  const auto dir = test::scratch_dir("store-bounds");
  RunStore store(test::runtime(), dir);
  store.create_dataset("/s/x", {4}, DType::Float64);
  std::vector<double> values(5);
  // Every rank asks for the same bad range, so the error is raised everywhere before any transfer.
  EXPECT_THROW(store.read_rows("/s/x", 2, 3, values.data(), DType::Float64), Error);
  EXPECT_THROW(store.create_dataset("/s/x", {4}, DType::Float64), Error);
}

TEST(RunStore, StringsFromAllRanksKeepRankOrderAndUtf8) {
  const auto dir = test::scratch_dir("store-strings");
  RunStore store(test::runtime(), dir);
  std::vector<std::string> mine;
  for (int k = 0; k <= store.rank(); ++k) mine.push_back("r" + std::to_string(store.rank()) + "-" + std::to_string(k));
  if (store.rank() == 0) {
    mine.push_back("caf\xC3\xA9 \xF0\x9F\x98\x80 \xE4\xB8\xAD\xE6\x96\x87");
    mine.push_back("");
  }
  store.write_strings("/items/ids", mine);
  std::vector<std::string> expected;
  for (int r = 0; r < store.world_size(); ++r) {
    for (int k = 0; k <= r; ++k) expected.push_back("r" + std::to_string(r) + "-" + std::to_string(k));
    if (r == 0) {
      expected.push_back("caf\xC3\xA9 \xF0\x9F\x98\x80 \xE4\xB8\xAD\xE6\x96\x87");
      expected.push_back("");
    }
  }
  EXPECT_EQ(store.read_strings("/items/ids"), expected);
  // Numeric writes still work after the serial string section reopened the file.
  store.create_dataset("/items/count", {1}, DType::Int64);
  const int64_t count = static_cast<int64_t>(expected.size());
  store.write_rows("/items/count", 0, store.rank() == 0 ? 1 : 0, &count);
  EXPECT_EQ(store.read_all<int64_t>("/items/count"), std::vector<int64_t>{count});
}

TEST(RunStore, StageRecordLifecycle) {
  const auto dir = test::scratch_dir("store-stages");
  RunStore store(test::runtime(), dir);
  EXPECT_EQ(store.stage_status("alpha").state, StageState::Absent);

  EXPECT_FALSE(store.start_stage("alpha", "h1", true));
  EXPECT_EQ(store.stage_status("alpha").state, StageState::InProgress);
  store.create_dataset("/alpha/data", {3}, DType::Int32);

  // Same hash, resume allowed: partial data is kept.
  EXPECT_TRUE(store.start_stage("alpha", "h1", true));
  EXPECT_TRUE(store.exists("/alpha/data"));
  // Another hash: the partial data is dropped.
  EXPECT_FALSE(store.start_stage("alpha", "h2", true));
  EXPECT_FALSE(store.exists("/alpha/data"));

  store.complete_stage("alpha", {{"stage_hash", "h2"}, {"world_size", store.world_size()}});
  const StageStatus status = store.stage_status("alpha");
  EXPECT_EQ(status.state, StageState::Complete);
  EXPECT_EQ(status.stage_hash, "h2");
  EXPECT_EQ(status.record["world_size"], store.world_size());

  // A complete stage restarted (e.g. after an input changed) is in progress again and empty.
  EXPECT_FALSE(store.start_stage("alpha", "h2", true));
  EXPECT_EQ(store.stage_status("alpha").state, StageState::InProgress);
  EXPECT_TRUE(store.stage_status("alpha").record.is_null());
  store.delete_stage("alpha");
  EXPECT_EQ(store.stage_status("alpha").state, StageState::Absent);
}

TEST(RunStore, ReopenedStoreKeepsEverything) {
  const auto dir = test::scratch_dir("store-reopen");
  {
    RunStore store(test::runtime(), dir);
    store.start_stage("beta", "hb", true);
    store.create_dataset("/beta/values", {2}, DType::Float64);
    const double values[2] = {0.25, -8.5};
    store.write_rows("/beta/values", 0, store.rank() == 0 ? 2 : 0, values);
    store.complete_stage("beta", {{"stage_hash", "hb"}});
    store.set_attribute("/run", "config", "{\"x\": 1}");
  }
  RunStore store(test::runtime(), dir);
  EXPECT_EQ(store.stage_status("beta").state, StageState::Complete);
  EXPECT_EQ(store.read_all<double>("/beta/values"), (std::vector<double>{0.25, -8.5}));
  EXPECT_EQ(store.get_attribute("/run", "config"), "{\"x\": 1}");
  if (store.rank() == 0) {
    const nlohmann::json description = describe_store(store.file_path());
    ASSERT_EQ(description["stages"].size(), 1u);
    EXPECT_EQ(description["stages"][0]["name"], "beta");
    EXPECT_EQ(description["stages"][0]["status"], "complete");
    EXPECT_EQ(description["datasets"][0]["path"], "/beta/values");
    EXPECT_EQ(description["datasets"][0]["shape"], nlohmann::json::array({2}));
    EXPECT_EQ(description["config"], "{\"x\": 1}");
  }
}

TEST(ChunkLog, ChunksCommittedByAnyRankAreDoneForAllAndSurviveReopening) {
  const auto dir = test::scratch_dir("store-chunks");
  RunStore store(test::runtime(), dir);
  store.start_stage("gamma", "hg", true);
  {
    ChunkLog log(store, "gamma", 10);
    EXPECT_EQ(log.count_done(), 0u);
    std::vector<uint64_t> mine;
    for (uint64_t chunk = static_cast<uint64_t>(store.rank()); chunk < 6; chunk += static_cast<uint64_t>(store.world_size())) {
      mine.push_back(chunk);
    }
    log.commit(mine);
    EXPECT_EQ(log.count_done(), 6u);
    for (uint64_t chunk = 0; chunk < 10; ++chunk) EXPECT_EQ(log.done(chunk), chunk < 6);
  }
  ChunkLog reopened(store, "gamma", 10);
  EXPECT_EQ(reopened.count_done(), 6u);
  EXPECT_THROW(ChunkLog(store, "gamma", 11), Error);
}

// Every dealing: each pending chunk is computed exactly once over all ranks, its rows land where
// they belong, and a second pass (a resume) computes nothing.
TEST(ChunkedWork, EveryDealingComputesEachPendingChunkOnceAndResumesWithNothingLeft) {
  constexpr uint64_t kItems = 103;
  constexpr uint64_t kChunkItems = 10;
  const std::vector<std::pair<std::string, Dealing>> dealings = {
      {"balanced", Dealing::balanced_by_size({5, 0, 0, 9, 1, 1, 1, 7, 3, 0, 2})},
      {"round_robin", Dealing::round_robin()},
      {"queue", Dealing::work_queue()}};
  for (const auto& [name, dealing] : dealings) {
    const auto dir = test::scratch_dir("chunked-" + name);
    RunStore store(test::runtime(), dir);
    store.start_stage("work", "h", true);
    store.create_dataset("/work/values", {kItems}, DType::Int64);
    const bool queue = dealing.kind == Dealing::Kind::WorkQueue;
    const auto fill = [&](std::vector<int64_t>& computed) {
      return [&](const std::optional<WorkChunk>& chunk) {
        std::vector<int64_t> values;
        if (chunk) {
          computed.push_back(static_cast<int64_t>(chunk->index));
          for (uint64_t i = chunk->first; i < chunk->first + chunk->count; ++i) values.push_back(static_cast<int64_t>(i * 3));
        }
        if (queue) {
          store.write_rows_independent("/work/values", chunk->first, chunk->count, values.data(), DType::Int64);
        } else {
          store.write_rows("/work/values", chunk ? chunk->first : 0, values.size(), values.data());
        }
      };
    };
    {
      ChunkedWork work(test::runtime(), store, "work", kItems, kChunkItems);
      // Chunks 0..3 were done by an earlier run.
      ChunkLog(store, "work", work.num_chunks()).commit(store.rank() == 0 ? std::vector<uint64_t>{0, 1, 2, 3} : std::vector<uint64_t>{});
    }
    ChunkedWork work(test::runtime(), store, "work", kItems, kChunkItems);
    ASSERT_EQ(work.num_chunks(), 11u) << name;
    EXPECT_EQ(work.chunks_done(), 4u) << name;
    EXPECT_EQ(work.pending_items(), kItems - 40) << name;
    EXPECT_EQ(work.chunk(10).count, 3u);
    std::vector<int64_t> computed;
    work.run(dealing, {name, "items", 60}, fill(computed));
    const std::vector<std::string> all = all_gather_bytes(test::runtime().world(), nlohmann::json(computed).dump());
    std::vector<int64_t> everyone;
    for (const std::string& bytes : all) {
      for (int64_t chunk : nlohmann::json::parse(bytes)) everyone.push_back(chunk);
    }
    std::sort(everyone.begin(), everyone.end());
    EXPECT_EQ(everyone, (std::vector<int64_t>{4, 5, 6, 7, 8, 9, 10})) << name;
    store.flush();
    const std::vector<int64_t> values = store.read_all<int64_t>("/work/values");
    for (uint64_t i = 40; i < kItems; ++i) EXPECT_EQ(values[i], static_cast<int64_t>(i * 3)) << name << " item " << i;

    ChunkedWork again(test::runtime(), store, "work", kItems, kChunkItems);
    EXPECT_EQ(again.chunks_done(), 11u) << name;
    std::vector<int64_t> recomputed;
    again.run(dealing, {name, "items", 60}, fill(recomputed));
    EXPECT_TRUE(recomputed.empty()) << name;
  }
}

TEST(ChunkedWork, BalancedDealingGivesTheLargestChunksToTheLeastLoadedRanks) {
  const auto dir = test::scratch_dir("chunked-deal");
  RunStore store(test::runtime(), dir);
  store.start_stage("work", "h", true);
  ChunkedWork work(test::runtime(), store, "work", 50, 10);
  const auto dealt = work.deal(Dealing::balanced_by_size({100, 1, 1, 50, 49}), 2);
  // 0 (100) to rank 0; 3 (50) and 4 (49) to rank 1; then the ties go to the first least loaded.
  EXPECT_EQ(dealt[0], (std::vector<uint64_t>{0, 1}));
  EXPECT_EQ(dealt[1], (std::vector<uint64_t>{2, 3, 4}));
  // Chunks of no cost still spread over the ranks.
  const auto free = work.deal(Dealing::balanced_by_size({0, 0, 0, 0, 0}), 3);
  EXPECT_EQ(free[0].size() + free[1].size() + free[2].size(), 5u);
  EXPECT_LE(free[0].size(), 2u);
  const auto rounds = work.deal(Dealing::round_robin(), 2);
  EXPECT_EQ(rounds[1], (std::vector<uint64_t>{1, 3}));
  EXPECT_THROW(work.deal(Dealing::balanced_by_size({1, 2}), 2), Error);
}

}  // namespace
}  // namespace grlm
