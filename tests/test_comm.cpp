// The MPI backend of the communicator at any number of ranks: every collective against values
// worked out by hand from the rank numbers.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <numeric>
#include <thread>

#include "grlm/core/comm.hpp"
#include "grlm/core/error.hpp"
#include "grlm/core/progress.hpp"
#include "grlm/core/work_queue.hpp"
#include "test_support.hpp"

namespace grlm {
namespace {

Communicator& comm() { return test::runtime().world(); }

TEST(World, SummaryNamesEachHostWithItsRanks) {
  EXPECT_EQ(world_summary({"node1", "node1", "node2", "node2"}), "4 ranks on 2 nodes (node1: 0,1; node2: 2,3)");
  EXPECT_EQ(world_summary({"a"}), "1 rank on 1 node (a: 0)");
  EXPECT_EQ(world_summary({"a", "b", "a", "a", "a", "b"}), "6 ranks on 2 nodes (a: 0,2-4; b: 1,5)");
  EXPECT_EQ(world_summary({"a", "a", "a", "a", "b", "a"}), "6 ranks on 2 nodes (a: 0-3,5; b: 4)");
  // On this job (one machine, or the namespace cluster of scripts/local_cluster.sh): the node-local
  // rank that picks a rank's device agrees with the hosts the ranks report.
  Runtime& runtime = test::runtime();
  const std::vector<std::string> hosts = all_gather_bytes(runtime.world(), runtime.info().host);
  const auto on_my_host = [&](size_t end) {
    return static_cast<int>(std::count(hosts.begin(), hosts.begin() + static_cast<std::ptrdiff_t>(end), runtime.info().host));
  };
  EXPECT_EQ(runtime.info().local_size, on_my_host(hosts.size()));
  EXPECT_EQ(runtime.info().local_rank, on_my_host(static_cast<size_t>(runtime.rank())));
  EXPECT_EQ(describe_world(runtime), world_summary(hosts));
  EXPECT_TRUE(describe_world(runtime).starts_with(cat(runtime.world_size(), runtime.world_size() == 1 ? " rank on " : " ranks on ")));
}

TEST(WorkQueue, EveryItemIsTakenExactlyOnceAcrossRanks) {
  Communicator& comm = test::runtime().world();
  constexpr uint64_t kItems = 1000;
  std::vector<int64_t> taken(kItems, 0);
  bool on_demand = false;
  {
    WorkQueue queue(test::runtime(), kItems);
    on_demand = queue.on_demand();
    // Rank 0 works slowly, so the others must take more than their even share.
    while (const auto item = queue.take()) {
      ++taken[*item];
      if (comm.rank() == 0 && comm.size() > 1) std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }
  const int64_t mine = std::accumulate(taken.begin(), taken.end(), int64_t{0});
  comm.all_reduce(taken.data(), taken.data(), kItems, DType::Int64, ReduceOp::Sum);
  for (uint64_t i = 0; i < kItems; ++i) ASSERT_EQ(taken[i], 1) << "item " << i;
  std::vector<int64_t> per_rank(static_cast<size_t>(comm.size()));
  comm.all_gather(&mine, per_rank.data(), 1, DType::Int64);
  if (comm.size() > 1 && on_demand) {
    EXPECT_LT(per_rank[0], static_cast<int64_t>(kItems) / comm.size()) << "the slow rank took less";
  }
  // On one machine MPI has one-sided communication; between the namespace cluster's nodes (TCP)
  // Open MPI 4 has none, and the queue deals round-robin.
  if (test::runtime().info().local_size == comm.size()) {
    EXPECT_TRUE(on_demand);
  }
}

TEST(Comm, AllReduceSumMaxMin) {
  const int ranks = comm().size();
  const int rank = comm().rank();
  std::vector<double> values = {static_cast<double>(rank), 1.5, -static_cast<double>(rank)};
  comm().all_reduce(values.data(), values.data(), values.size(), DType::Float64, ReduceOp::Sum);
  EXPECT_EQ(values[0], ranks * (ranks - 1) / 2.0);
  EXPECT_EQ(values[1], 1.5 * ranks);
  EXPECT_EQ(all_reduce_value<int64_t>(comm(), rank * 10, ReduceOp::Max), (ranks - 1) * 10);
  EXPECT_EQ(all_reduce_value<int32_t>(comm(), rank + 3, ReduceOp::Min), 3);
}

TEST(Comm, AllGatherPutsEachRankAtItsOffset) {
  const int ranks = comm().size();
  const std::vector<int32_t> mine = {comm().rank(), comm().rank() * 100};
  std::vector<int32_t> all(2 * static_cast<size_t>(ranks));
  comm().all_gather(mine.data(), all.data(), 2, DType::Int32);
  for (int r = 0; r < ranks; ++r) {
    EXPECT_EQ(all[2 * r], r);
    EXPECT_EQ(all[2 * r + 1], r * 100);
  }
}

TEST(Comm, ReduceScatterGivesEachRankItsBlockSum) {
  const int ranks = comm().size();
  // Rank r sends value (r + 1) * (block + 1) in every element of block `block`.
  std::vector<float> send(3 * static_cast<size_t>(ranks));
  for (int block = 0; block < ranks; ++block) {
    for (int k = 0; k < 3; ++k) send[3 * block + k] = static_cast<float>((comm().rank() + 1) * (block + 1));
  }
  std::vector<float> mine(3);
  comm().reduce_scatter(send.data(), mine.data(), 3, DType::Float32, ReduceOp::Sum);
  const float rank_sum = static_cast<float>(ranks * (ranks + 1) / 2);
  for (float value : mine) EXPECT_EQ(value, rank_sum * static_cast<float>(comm().rank() + 1));
}

TEST(Comm, StartedReduceScattersFinishInAnyOrderOfWaits) {
  const int ranks = comm().size();
  std::vector<double> first(4 * static_cast<size_t>(ranks)), second(2 * static_cast<size_t>(ranks));
  for (size_t i = 0; i < first.size(); ++i) first[i] = static_cast<double>(i) + comm().rank();
  for (size_t i = 0; i < second.size(); ++i) second[i] = -static_cast<double>(i);
  std::vector<double> mine_first(4), mine_second(2);
  auto a = comm().start_reduce_scatter(first.data(), mine_first.data(), 4, DType::Float64, ReduceOp::Sum);
  auto b = comm().start_reduce_scatter(second.data(), mine_second.data(), 2, DType::Float64, ReduceOp::Sum);
  b->progress();
  b->wait();
  a->wait();
  const double rank_total = ranks * (ranks - 1) / 2.0;
  for (int k = 0; k < 4; ++k) {
    EXPECT_EQ(mine_first[k], ranks * static_cast<double>(4 * comm().rank() + k) + rank_total);
  }
  for (int k = 0; k < 2; ++k) EXPECT_EQ(mine_second[k], -ranks * static_cast<double>(2 * comm().rank() + k));
}

TEST(Comm, BroadcastFromTheLastRank) {
  const int root = comm().size() - 1;
  std::vector<int64_t> values = {comm().rank() == root ? 42 : 0, comm().rank() == root ? -7 : 0};
  comm().broadcast(values.data(), values.size(), DType::Int64, root);
  EXPECT_EQ(values, (std::vector<int64_t>{42, -7}));
}

TEST(Comm, RingExchangePassesBlocksToTheNextRank) {
  const int ranks = comm().size();
  const int next = (comm().rank() + 1) % ranks;
  const int previous = (comm().rank() + ranks - 1) % ranks;
  std::vector<double> block(1000, comm().rank());
  std::vector<double> received(1000, -1);
  auto pending = comm().start_exchange(block.data(), block.size(), next, received.data(), received.size(), previous,
                                       DType::Float64);
  pending->wait();
  for (double value : received) ASSERT_EQ(value, previous);
}

TEST(Comm, BytesOfDifferentLengthsGatherInRankOrder) {
  const std::string mine(static_cast<size_t>(comm().rank()) * 3 + 1, static_cast<char>('a' + comm().rank()));
  const std::vector<std::string> all = all_gather_bytes(comm(), mine);
  ASSERT_EQ(all.size(), static_cast<size_t>(comm().size()));
  for (int r = 0; r < comm().size(); ++r) {
    EXPECT_EQ(all[r], std::string(static_cast<size_t>(r) * 3 + 1, static_cast<char>('a' + r)));
  }
  EXPECT_EQ(broadcast_bytes(comm(), comm().rank() == 0 ? std::string("from root\0!", 11) : "", 0),
            std::string("from root\0!", 11));
}

TEST(Progress, RankZeroCountsTheWorkOfAllRanks) {
  const uint64_t ranks = static_cast<uint64_t>(comm().size());
  const uint64_t total = ranks * (ranks + 1) / 2 * 50;
  Progress progress(test::runtime(), "test", total, "items", 0.0);
  for (int i = 0; i < 50; ++i) progress.add(static_cast<uint64_t>(comm().rank()) + 1);
  const uint64_t counted = progress.finish();
  if (comm().rank() == 0) {
    EXPECT_EQ(counted, total);
  } else {
    EXPECT_EQ(counted, 50u * (static_cast<uint64_t>(comm().rank()) + 1));
  }
}

}  // namespace
}  // namespace grlm

namespace grlm {
namespace {

TEST(LocalComm, OneRankCollectivesCopySendToReceive) {
  auto local = make_local_communicator();
  EXPECT_EQ(local->size(), 1);
  const std::vector<float> send = {1.5f, -2.0f, 3.0f};
  std::vector<float> recv(3, 0.0f);
  local->all_reduce(send.data(), recv.data(), 3, DType::Float32, ReduceOp::Sum);
  EXPECT_EQ(recv, send);
  std::vector<float> gathered(3, 0.0f);
  local->all_gather(send.data(), gathered.data(), 3, DType::Float32);
  EXPECT_EQ(gathered, send);
  std::vector<float> exchanged(3, 0.0f);
  local->start_exchange(send.data(), 3, 0, exchanged.data(), 3, 0, DType::Float32)->wait();
  EXPECT_EQ(exchanged, send);
  EXPECT_THROW(local->broadcast(recv.data(), 3, DType::Float32, 1), Error);
  EXPECT_EQ(all_gather_bytes(*local, "abc"), std::vector<std::string>{"abc"});
}

}  // namespace
}  // namespace grlm
