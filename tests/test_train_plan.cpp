// The trainer's plan: permutations, splits, batches per rank and micro-step, the schedule, FLOPs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "grlm/core/error.hpp"
#include "grlm/train/plan.hpp"

namespace grlm {
namespace {

SftTokens tokens_of_lengths(const std::vector<int64_t>& lengths) {
  SftTokens tokens;
  tokens.offsets.push_back(0);
  for (int64_t length : lengths) {
    for (int64_t t = 0; t < length; ++t) {
      tokens.token_ids.push_back(static_cast<int32_t>(t));
      tokens.loss_mask.push_back(t >= length / 2 ? 1 : 0);
    }
    tokens.offsets.push_back(static_cast<int64_t>(tokens.token_ids.size()));
  }
  return tokens;
}

TEST(TrainPlan, PermutationIsDeterministicAndComplete) {
  const auto a = seeded_permutation(1000, 7);
  EXPECT_EQ(a, seeded_permutation(1000, 7));
  EXPECT_NE(a, seeded_permutation(1000, 8));
  std::vector<int64_t> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 1000; ++i) EXPECT_EQ(sorted[static_cast<size_t>(i)], i);
  // The first values of the documented algorithm (Fisher-Yates over splitmix64), as the Python
  // oracle in tests/oracle/check_train.py computes them.
  EXPECT_EQ(seeded_permutation(5, 0), (std::vector<int64_t>{2, 3, 1, 4, 0}));
}

TEST(TrainPlan, LossTokensSkipTheFirstPosition) {
  SftTokens tokens;
  tokens.token_ids = {1, 2, 3, 4, 5};
  tokens.loss_mask = {1, 0, 1, 1, 0};
  tokens.offsets = {0, 3, 5};
  EXPECT_EQ(tokens.loss_tokens(0), 1);  // position 0 has nothing before it
  EXPECT_EQ(tokens.loss_tokens(1), 0);  // its mask starts at 1, but position 3 is its first
}

TEST(TrainPlan, SplitHoldsOutASeededShare) {
  const SftTokens tokens = tokens_of_lengths(std::vector<int64_t>(100, 4));
  const SampleSplit none = split_samples(tokens, 0.0, 1);
  EXPECT_TRUE(none.validation.empty());
  EXPECT_EQ(none.train.size(), 100u);
  const SampleSplit some = split_samples(tokens, 0.1, 1);
  EXPECT_EQ(some.validation.size(), 10u);
  EXPECT_EQ(some.train.size(), 90u);
  std::set<int64_t> all(some.train.begin(), some.train.end());
  all.insert(some.validation.begin(), some.validation.end());
  EXPECT_EQ(all.size(), 100u);
  EXPECT_EQ(split_samples(tokens, 0.1, 1).validation, some.validation);
  EXPECT_THROW(split_samples(tokens, 1.0, 1), UsageError);
}

TEST(TrainPlan, RanksAndMicroStepsCoverTheGlobalBatchOnce) {
  std::vector<int64_t> lengths;
  for (int64_t i = 0; i < 50; ++i) lengths.push_back(3 + (i * 7) % 20);
  std::vector<int64_t> samples(50);
  for (int64_t i = 0; i < 50; ++i) samples[static_cast<size_t>(i)] = i;
  for (int world : {1, 2, 4}) {
    const BatchPlan plan(samples, lengths, 8, world, 2, 3);
    EXPECT_EQ(plan.steps_per_epoch(), 6);  // 50 / 8, the incomplete last batch left out
    EXPECT_EQ(plan.micro_steps(), 8 / (world * 2));
    std::set<int64_t> epoch_seen;
    for (int64_t step = 0; step < 6; ++step) {
      const std::vector<int64_t> batch = plan.global_batch(step);
      std::multiset<int64_t> dealt;
      for (int rank = 0; rank < world; ++rank) {
        const auto micro = plan.micro_batches(step, rank);
        ASSERT_GE(micro.size(), 1u);  // every rank reaches a last micro-step
        for (const auto& group : micro) {
          EXPECT_EQ(group.size(), 2u);
          dealt.insert(group.begin(), group.end());
        }
      }
      EXPECT_EQ(dealt, std::multiset<int64_t>(batch.begin(), batch.end()));
      EXPECT_EQ(static_cast<int64_t>(dealt.size()), 8);
      for (size_t i = 1; i < batch.size(); ++i) {
        EXPECT_GE(lengths[static_cast<size_t>(batch[i - 1])], lengths[static_cast<size_t>(batch[i])]);
      }
      epoch_seen.insert(batch.begin(), batch.end());
    }
    EXPECT_EQ(epoch_seen.size(), 48u);  // no sample twice in an epoch
    // The batches of a step are the same whatever the world size.
    const BatchPlan single(samples, lengths, 8, 1, 8, 3);
    EXPECT_EQ(plan.global_batch(9), single.global_batch(9));
  }
  EXPECT_THROW(BatchPlan(samples, lengths, 8, 3, 2, 3), UsageError);   // 8 is not a multiple of 6
  EXPECT_THROW(BatchPlan(samples, lengths, 64, 1, 2, 3), UsageError);  // more than the samples
}

TEST(TrainPlan, MicroBatchesBalancePaddedTokensAcrossRanks) {
  // Lengths 100, 90, ..., 30 (sorted), micro-batches of 2: padded costs 200, 160, 120, 80.
  std::vector<int64_t> lengths = {100, 90, 80, 70, 60, 50, 40, 30};
  std::vector<int64_t> samples = {0, 1, 2, 3, 4, 5, 6, 7};
  const BatchPlan plan(samples, lengths, 8, 2, 2, 1);
  // 200 -> rank 0; 160 -> rank 1; 120 -> rank 1 (160 < 200); 80 -> rank 0 (200 < 280).
  EXPECT_EQ(plan.micro_batches(0, 0), (std::vector<std::vector<int64_t>>{{0, 1}, {6, 7}}));
  EXPECT_EQ(plan.micro_batches(0, 1), (std::vector<std::vector<int64_t>>{{2, 3}, {4, 5}}));
}

TEST(TrainPlan, CosineScheduleMatchesHuggingFace) {
  // get_cosine_schedule_with_warmup(num_warmup_steps=ceil(0.1 * 100) = 10, num_training_steps=100)
  EXPECT_DOUBLE_EQ(cosine_learning_rate(1.0, 0, 100, 0.1), 0.0);
  EXPECT_DOUBLE_EQ(cosine_learning_rate(1.0, 5, 100, 0.1), 0.5);
  EXPECT_DOUBLE_EQ(cosine_learning_rate(1.0, 10, 100, 0.1), 1.0);
  EXPECT_NEAR(cosine_learning_rate(1.0, 55, 100, 0.1), 0.5, 1e-15);
  EXPECT_NEAR(cosine_learning_rate(2.0, 99, 100, 0.1), 2.0 * 0.5 * (1 + std::cos(M_PI * 89.0 / 90.0)), 1e-15);
  EXPECT_DOUBLE_EQ(cosine_learning_rate(1.0, 0, 10, 0.0), 1.0);  // no warmup
}

TEST(TrainPlan, FlopsOfASample) {
  FlopModel model{1000, 10, 4, 2, 8};
  // 6 * 1000 * 5 + 6 * 10 * 4 * 2 + 6 * 2 * 8 * 25
  EXPECT_DOUBLE_EQ(model.sample_flops(5, 2), 30000 + 480 + 2400);
}

}  // namespace
}  // namespace grlm
