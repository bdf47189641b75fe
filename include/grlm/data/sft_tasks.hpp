// The instruction tasks of GRLM-SPEC stage 4, built from the dataset (no tokenizer, no store):
// term internalisation, sequence prediction (compat) and collaborative signals.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "grlm/core/comm.hpp"
#include "grlm/data/dataset.hpp"

namespace grlm {

struct SftSample {
  std::string instruction;
  std::string input;
  std::string output;
};

// A sequence-prediction sample with the per-user fields needed to evaluate elsewhere.
struct SequenceSample {
  SftSample sample;
  std::string user_id;
  size_t user = 0;               // the user's row in Dataset::interactions
  std::vector<ItemIndex> items;  // the user's window (last `window` items), oldest first
  ItemIndex validation_item = 0; // item n-1
  ItemIndex test_item = 0;       // item n
};

struct SequenceTaskReport {
  size_t users = 0;                 // users in the interactions
  size_t samples = 0;               // users with a sample
  size_t dropped_invalid_tids = 0;  // an item of the window lacks 5 valid words
  size_t dropped_too_short = 0;     // fewer than 3 items in the window
};

// "[w1, w2, w3, w4, w5]"
std::string tid_text(const Tid& tid);
// True when the item has a TID of 5 non-empty words.
bool has_valid_tid(const TidTable& tids, ItemIndex item);
// "Item text ID: [w1, w2, w3, w4, w5] Title: {title}.\n" ("Title: None." without a title).
std::string item_line(const Tid& tid, const std::string* title);
// The same for an item of the dataset (its TID and catalog title).
std::string item_line(const Dataset& dataset, ItemIndex item);

// Each builder takes `only`: a block of users (sequence) or item rows (term, collaborative
// anchors) to build, so ranks share the work; absent, all of them. Samples come in user or item
// order, so the blocks' samples in block order are the whole task's samples.

struct SequenceTaskOptions {
  size_t window = 20;               // the user's last N items
  bool through_validation = false;  // outputs run through item n-1 (the validation target) too
};

// How many of each user's last items training never sees: the test target, and the validation
// target unless training runs through it. The sequence task and computed neighbours agree on it.
inline size_t held_out_items(bool through_validation) { return through_validation ? 1 : 2; }

// Per user: the last `window` items; input = the first item's line, output = the lines of items
// 2 .. n-2 (compat; 2 .. n-1 `through_validation`); item n-1 is the validation target, item n
// the test target (leave-one-out). The report counts the users of the block.
std::vector<SequenceSample> build_sequence_samples(const Dataset& dataset, const std::string& instruction,
                                                   const SequenceTaskOptions& options, SequenceTaskReport& report,
                                                   std::optional<RowBlock> only = std::nullopt);

// Per item with a valid TID and catalog text: input = title and description, output = its TID.
std::vector<SftSample> build_term_samples(const Dataset& dataset, const std::string& instruction,
                                          std::optional<RowBlock> only = std::nullopt);

// Per anchor with neighbours: input = the anchor's line with title and description, output = a
// numbered list of its first `top_n` neighbours' lines (neighbours without a valid TID skipped).
std::vector<SftSample> build_collaborative_samples(const Dataset& dataset, const Neighbours& neighbours,
                                                   const std::string& instruction, size_t top_n,
                                                   std::optional<RowBlock> only = std::nullopt);

}  // namespace grlm
