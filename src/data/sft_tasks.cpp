#include "grlm/data/sft_tasks.hpp"

#include <algorithm>

namespace grlm {
namespace {

const std::string* title_of(const Dataset& dataset, ItemIndex item) {
  if (!dataset.catalog || item >= dataset.catalog->items.size()) return nullptr;
  const std::string& title = dataset.catalog->items[item].title;
  return title.empty() ? nullptr : &title;
}

RowBlock block_or_all(const std::optional<RowBlock>& only, size_t count) {
  return only ? *only : RowBlock{0, static_cast<int64_t>(count)};
}

}  // namespace

std::string tid_text(const Tid& tid) {
  std::string text = "[";
  for (size_t i = 0; i < tid.size(); ++i) text += (i > 0 ? ", " : "") + tid[i];
  return text + "]";
}

bool has_valid_tid(const TidTable& tids, ItemIndex item) {
  if (item >= tids.has.size() || !tids.has[item]) return false;
  return std::none_of(tids.tids[item].begin(), tids.tids[item].end(), [](const std::string& word) { return word.empty(); });
}

std::string item_line(const Tid& tid, const std::string* title) {
  return "Item text ID: " + tid_text(tid) + " Title: " + (title ? *title : std::string("None")) + ".\n";
}

std::string item_line(const Dataset& dataset, ItemIndex item) {
  return item_line(dataset.tids->tids[item], title_of(dataset, item));
}

std::vector<SequenceSample> build_sequence_samples(const Dataset& dataset, const std::string& instruction,
                                                   const SequenceTaskOptions& options, SequenceTaskReport& report,
                                                   std::optional<RowBlock> only) {
  std::vector<SequenceSample> samples;
  const Interactions& interactions = dataset.interactions;
  report = SequenceTaskReport{};
  const RowBlock users = block_or_all(only, interactions.num_users());
  report.users = static_cast<size_t>(users.count);
  if (!dataset.tids) return samples;
  const TidTable& tids = *dataset.tids;
  const size_t held_out = held_out_items(options.through_validation);  // the targets not written as outputs
  for (auto user = static_cast<size_t>(users.first); user < static_cast<size_t>(users.end()); ++user) {
    const uint64_t end = interactions.offsets[user + 1];
    const uint64_t begin =
        std::max<uint64_t>(interactions.offsets[user], end >= options.window ? end - options.window : 0);
    const std::vector<ItemIndex> items(interactions.items.begin() + static_cast<std::ptrdiff_t>(begin),
                                       interactions.items.begin() + static_cast<std::ptrdiff_t>(end));
    if (!std::all_of(items.begin(), items.end(), [&](ItemIndex item) { return has_valid_tid(tids, item); })) {
      ++report.dropped_invalid_tids;
      continue;
    }
    if (items.size() < 3) {
      ++report.dropped_too_short;
      continue;
    }
    SequenceSample sequence;
    sequence.user_id = interactions.user_ids[user];
    sequence.user = user;
    sequence.items = items;
    sequence.validation_item = items[items.size() - 2];
    sequence.test_item = items.back();
    sequence.sample.instruction = instruction;
    sequence.sample.input = item_line(tids.tids[items[0]], title_of(dataset, items[0]));
    for (size_t k = 1; k + held_out < items.size(); ++k) {
      sequence.sample.output += item_line(tids.tids[items[k]], title_of(dataset, items[k]));
    }
    samples.push_back(std::move(sequence));
  }
  report.samples = samples.size();
  return samples;
}

std::vector<SftSample> build_term_samples(const Dataset& dataset, const std::string& instruction,
                                          std::optional<RowBlock> only) {
  std::vector<SftSample> samples;
  if (!dataset.catalog || !dataset.tids) return samples;
  const RowBlock items = block_or_all(only, dataset.catalog->items.size());
  const auto end = static_cast<ItemIndex>(std::min<int64_t>(items.end(), static_cast<int64_t>(dataset.catalog->items.size())));
  for (auto item = static_cast<ItemIndex>(items.first); item < end; ++item) {
    if (!has_valid_tid(*dataset.tids, item)) continue;
    const CatalogItem& entry = dataset.catalog->items[item];
    samples.push_back({instruction, "Title: " + (entry.title.empty() ? std::string("None") : entry.title) +
                                        "\nDescription: " + (entry.description.empty() ? std::string("None") : entry.description),
                       tid_text(dataset.tids->tids[item])});
  }
  return samples;
}

std::vector<SftSample> build_collaborative_samples(const Dataset& dataset, const Neighbours& neighbours,
                                                   const std::string& instruction, size_t top_n,
                                                   std::optional<RowBlock> only) {
  std::vector<SftSample> samples;
  if (!dataset.tids) return samples;
  const TidTable& tids = *dataset.tids;
  const RowBlock rows = block_or_all(only, dataset.items.size());
  std::vector<ItemIndex> anchors;
  for (const auto& [anchor, nearest] : neighbours.by_anchor) {
    if (anchor >= rows.first && anchor < rows.end()) anchors.push_back(anchor);
  }
  std::sort(anchors.begin(), anchors.end());  // item order, not hash order: the same files every run
  for (ItemIndex anchor : anchors) {
    if (!has_valid_tid(tids, anchor)) continue;
    std::string output;
    size_t listed = 0;
    for (ItemIndex neighbour : neighbours.by_anchor.at(anchor)) {
      if (listed == top_n) break;
      if (!has_valid_tid(tids, neighbour)) continue;
      output += std::to_string(++listed) + ". " + item_line(tids.tids[neighbour], title_of(dataset, neighbour));
    }
    if (listed == 0) continue;
    std::string input = item_line(tids.tids[anchor], title_of(dataset, anchor));
    if (dataset.catalog && anchor < dataset.catalog->items.size() && !dataset.catalog->items[anchor].description.empty()) {
      input += "Description: " + dataset.catalog->items[anchor].description + "\n";
    }
    samples.push_back({instruction, input, output});
  }
  return samples;
}

}  // namespace grlm
