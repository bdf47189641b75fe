// The instruction tasks on the real Beauty data: one sequence sample per user, the spec's
// leave-one-out split checked by hand for users 1 and 6, and the collaborative task's format.
#include <gtest/gtest.h>

#include "grlm/core/config.hpp"
#include "grlm/data/sft_tasks.hpp"
#include "test_support.hpp"

namespace grlm {
namespace {

const Dataset& beauty() {
  static const Dataset dataset = [] {
    const Config config = Config::load(
        grlm_config_schema(), std::nullopt,
        {"data.interactions=" + test::shared_data("beauty/sequential_data.txt").string(),
         "data.tids=" + test::shared_data("beauty/beauty_item_id2tid.json").string(),
         "data.neighbours=" + test::shared_data("beauty/similar_item_sasrec_num.txt").string()});
    return load_dataset(config);
  }();
  return dataset;
}

const SequenceSample& sample_of(const std::vector<SequenceSample>& samples, const std::string& user) {
  for (const SequenceSample& sample : samples) {
    if (sample.user_id == user) return sample;
  }
  throw std::runtime_error("no sample for user " + user);
}

TEST(SequenceTask, OneSamplePerBeautyUser) {
  SequenceTaskReport report;
  const auto samples = build_sequence_samples(beauty(), "Predict the next item.", {}, report);
  EXPECT_EQ(report.users, 22363u);
  EXPECT_EQ(report.samples, 22363u);
  EXPECT_EQ(report.dropped_invalid_tids, 0u);
  EXPECT_EQ(report.dropped_too_short, 0u);
  for (const SequenceSample& sample : samples) {
    ASSERT_LE(sample.items.size(), 20u);
    // Output lines are items 2 .. n-2: n-3 lines, never the validation or test position.
    const auto lines = static_cast<size_t>(std::count(sample.sample.output.begin(), sample.sample.output.end(), '\n'));
    ASSERT_EQ(lines, sample.items.size() - 3) << sample.user_id;
    ASSERT_EQ(sample.validation_item, sample.items[sample.items.size() - 2]);
    ASSERT_EQ(sample.test_item, sample.items.back());
  }
}

TEST(SequenceTask, UserOneSplitByHand) {
  SequenceTaskReport report;
  const auto samples = build_sequence_samples(beauty(), "Predict.", {}, report);
  const SequenceSample& user = sample_of(samples, "1");  // "1 1 2 3 4 5 6 7 8"
  EXPECT_EQ(user.sample.input, "Item text ID: [hair-mask, color-lock, citrus, protein, unisex] Title: None.\n");
  EXPECT_EQ(user.sample.output.substr(0, user.sample.output.find('\n') + 1),
            "Item text ID: [shampoo, color, care, treated, preserve] Title: None.\n");
  EXPECT_EQ(std::count(user.sample.output.begin(), user.sample.output.end(), '\n'), 5);  // items 2..6
  EXPECT_EQ(beauty().items.id(user.validation_item), "7");
  EXPECT_EQ(beauty().items.id(user.test_item), "8");
}

TEST(SequenceTask, TrainingThroughValidationAddsItemNMinusOneOnly) {
  SequenceTaskReport report;
  const auto compat = build_sequence_samples(beauty(), "Predict.", {}, report);
  const auto through = build_sequence_samples(beauty(), "Predict.", {20, true}, report);
  ASSERT_EQ(through.size(), compat.size());
  for (size_t i = 0; i < compat.size(); ++i) {
    // The compat output, then the validation item's line; the test item never appears.
    ASSERT_EQ(through[i].sample.output, compat[i].sample.output + item_line(beauty(), compat[i].validation_item));
    ASSERT_EQ(through[i].sample.input, compat[i].sample.input);
    ASSERT_EQ(through[i].test_item, compat[i].test_item);
  }
  const SequenceSample& user = sample_of(through, "1");  // "1 1 2 3 4 5 6 7 8": outputs items 2..7
  EXPECT_EQ(std::count(user.sample.output.begin(), user.sample.output.end(), '\n'), 6);
  EXPECT_TRUE(user.sample.output.ends_with(item_line(beauty(), user.validation_item)));
}

TEST(SequenceTask, LongHistoryKeepsTheLastTwentyItems) {
  SequenceTaskReport report;
  const auto samples = build_sequence_samples(beauty(), "Predict.", {}, report);
  // "6 40 41 ... 62": 23 items; the window is 43 .. 62.
  const SequenceSample& user = sample_of(samples, "6");
  ASSERT_EQ(user.items.size(), 20u);
  EXPECT_EQ(beauty().items.id(user.items.front()), "43");
  EXPECT_EQ(user.sample.input, "Item text ID: [conditioner, hydrating, agedefy, hair, pro-v] Title: None.\n");
  EXPECT_TRUE(user.sample.output.ends_with("Item text ID: [spray, moisture, oxygen, lift, hair] Title: None.\n"));
  EXPECT_EQ(beauty().items.id(user.validation_item), "61");
  EXPECT_EQ(beauty().items.id(user.test_item), "62");
  EXPECT_EQ(tid_text(beauty().tids->tids[user.test_item]), "[conditioner, hair, prx, 8oz, formula]");
}

TEST(SequenceTask, ItemsWithoutValidTidsDropTheUser) {
  Dataset dataset;
  dataset.interactions.user_ids = {"u1", "u2", "u3"};
  for (const char* id : {"a", "b", "c", "d"}) dataset.items.intern(id);
  dataset.interactions.items = {0, 1, 2, 3, 0, 1, 2, 0, 1};
  dataset.interactions.offsets = {0, 4, 7, 9};
  dataset.tids = TidTable{};
  fit_tids_to_items(*dataset.tids, dataset.items);
  for (ItemIndex item : {0u, 1u, 2u}) {
    dataset.tids->tids[item] = {"w1", "w2", "w3", "w4", "w" + std::to_string(item)};
    dataset.tids->has[item] = 1;
  }
  dataset.tids->has[3] = 1;  // "d" listed with empty words: not valid
  SequenceTaskReport report;
  const auto samples = build_sequence_samples(dataset, "", {}, report);
  EXPECT_EQ(report.dropped_invalid_tids, 1u);  // u1 has "d"
  EXPECT_EQ(report.dropped_too_short, 1u);     // u3 has 2 items
  ASSERT_EQ(samples.size(), 1u);
  EXPECT_EQ(samples[0].user_id, "u2");
  EXPECT_EQ(samples[0].sample.output, "");  // n = 3: no item between the first and the targets
}

TEST(CollaborativeTask, NumberedTopFiveNeighbourLines) {
  const auto samples = build_collaborative_samples(beauty(), *beauty().neighbours, "Similar items:", 5);
  EXPECT_EQ(samples.size(), 12101u);
  // Anchor "1" is the first item; its line, then five numbered neighbour lines.
  EXPECT_EQ(samples[0].input, "Item text ID: [hair-mask, color-lock, citrus, protein, unisex] Title: None.\n");
  EXPECT_EQ(std::count(samples[0].output.begin(), samples[0].output.end(), '\n'), 5);
  EXPECT_TRUE(samples[0].output.starts_with("1. Item text ID: ["));
  EXPECT_NE(samples[0].output.find("\n5. Item text ID: ["), std::string::npos);
}

}  // namespace
}  // namespace grlm

namespace grlm {
namespace {

TEST(TermTask, TitleAndDescriptionToTheTid) {
  Dataset dataset;
  dataset.catalog = load_catalog(test::shared_data("beauty/beauty.item.head.json"), dataset.items);
  dataset.tids = load_tids(test::shared_data("beauty/beauty_item_id2tid.json"), dataset.items, false);
  const auto samples = build_term_samples(dataset, "Write the text ID.");
  ASSERT_EQ(samples.size(), 273u);  // one per catalog item with a valid TID
  EXPECT_EQ(samples[0].instruction, "Write the text ID.");
  EXPECT_TRUE(samples[0].input.starts_with("Title: Phyto Phytocitrus Restructuring Mask for Unisex, 6.7 Ounce\nDescription: True Colors"));
  EXPECT_EQ(samples[0].output, "[hair-mask, color-lock, citrus, protein, unisex]");
}

}  // namespace
}  // namespace grlm
