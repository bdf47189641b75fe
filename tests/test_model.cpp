// The libtorch model's own contracts (parity with transformers is tests/oracle/model_parity.py):
// the logits-processor hook constrains greedy and beam search, KV-cache row moves, parameter
// naming and round trips through safetensors, every dtype on CPU.
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>

#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include "grlm/core/error.hpp"
#include "grlm/model/checkpoint.hpp"
#include "grlm/model/constrained.hpp"
#include "grlm/model/dtype.hpp"
#include "grlm/model/encoder.hpp"
#include "grlm/model/generation.hpp"
#include "test_support.hpp"

namespace grlm {
namespace {

ModelConfig tiny_config(const std::string& family, bool tied) {
  nlohmann::json json = {{"model_type", family}, {"vocab_size", 64}, {"hidden_size", 32}, {"intermediate_size", 48},
                         {"num_hidden_layers", 2}, {"num_attention_heads", 4}, {"num_key_value_heads", 2},
                         {"head_dim", 8}, {"tie_word_embeddings", tied}, {"eos_token_id", 2}, {"initializer_range", 0.5}};
  return ModelConfig::from_json(json, "tiny");
}

std::vector<std::vector<int64_t>> prompts() { return {{5, 9, 13}, {7, 11, 3, 21, 30}, {40}}; }

TEST(Model, LogitsProcessorConstrainsGreedyAndBeamSearch) {
  const Transformer model = init_from_config(tiny_config("qwen3", false), 3, at::kFloat, at::kCPU);
  const std::set<int64_t> allowed = {10, 20, 30, 2};
  GenerationOptions options;
  options.max_new_tokens = 6;
  options.eos_token_ids = {2};
  size_t calls = 0;
  options.logits_processor = [&](const at::Tensor& generated, at::Tensor& scores) {
    ++calls;
    EXPECT_EQ(generated.size(0), scores.size(0));
    at::Tensor keep = at::zeros_like(scores, at::kBool);
    for (int64_t id : allowed) keep.select(1, id).fill_(true);
    scores.masked_fill_(keep.logical_not(), -std::numeric_limits<float>::infinity());
  };
  for (int64_t beams : {1, 4}) {
    options.num_beams = beams;
    options.num_return_sequences = beams;
    calls = 0;
    const auto results = generate(model, prompts(), options);
    EXPECT_GT(calls, 0u);
    ASSERT_EQ(results.size(), 3u);
    for (const auto& per_prompt : results) {
      ASSERT_EQ(per_prompt.size(), static_cast<size_t>(beams));
      for (const GeneratedSequence& sequence : per_prompt) {
        ASSERT_FALSE(sequence.tokens.empty());
        for (int64_t token : sequence.tokens) EXPECT_TRUE(allowed.count(token)) << "token " << token << " with " << beams << " beams";
        EXPECT_TRUE(std::isfinite(sequence.score));
      }
    }
  }
}

// The oracle for "native bfloat16": the kernel flags the CPU reports, capped by the capability
// PyTorch is told to use (ATEN_CPU_CAPABILITY avx2 or default mimics a CPU without AVX-512).
bool cpu_flags_say_native_bf16() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream flags(line.substr(line.find(':') + 1));
    std::set<std::string> set{std::istream_iterator<std::string>(flags), std::istream_iterator<std::string>()};
    const char* capped = std::getenv("ATEN_CPU_CAPABILITY");
    if (capped != nullptr && (std::string(capped) == "avx2" || std::string(capped) == "default")) return false;
    return set.count("avx512f") && (set.count("avx512_bf16") || set.count("amx_bf16"));
  }
  return false;
}

TEST(Dtype, AutoIsBfloat16ExactlyWhereTheCpuRunsItNatively) {
  const Device cpu;
  const DtypeChoice chosen = choose_dtype("auto", cpu);
  EXPECT_EQ(chosen.dtype == at::kBFloat16, cpu_flags_say_native_bf16()) << chosen.reason;
  EXPECT_NE(chosen.reason.find("PyTorch CPU capability"), std::string::npos) << chosen.reason;
  if (const char* capped = std::getenv("ATEN_CPU_CAPABILITY")) {
    if (std::string(capped) == "avx2") EXPECT_EQ(chosen.dtype, at::kFloat) << "an AVX2-only CPU runs float32";
  }
  // An explicit dtype is kept, bfloat16 too (with a warning where it is slow).
  EXPECT_EQ(choose_dtype("bfloat16", cpu).dtype, at::kBFloat16);
  EXPECT_EQ(choose_dtype("float64", cpu).dtype, at::kDouble);
  Device gpu;
  gpu.kind = DeviceKind::Cuda;
  gpu.cuda_bf16 = true;
  EXPECT_EQ(choose_dtype("auto", gpu).dtype, at::kBFloat16);
  gpu.cuda_bf16 = false;
  EXPECT_EQ(choose_dtype("auto", gpu).dtype, at::kFloat);
}

TEST(Model, TrieConstrainedDecodingNeverLeavesTheItemSet) {
  const Transformer model = init_from_config(tiny_config("qwen3", false), 7, at::kFloat, at::kCPU);
  // Fake Term IDs as token sequences of different lengths, two sharing a prefix.
  const std::vector<std::vector<int64_t>> items = {{10, 11, 12, 13}, {10, 11, 20}, {30, 31, 32, 33, 34}, {40, 41},
                                                   {50, 51, 52}, {10, 60, 61}, {5, 6, 7, 8}, {9, 63, 62}};
  const auto trie = std::make_shared<TokenTrie>(items);
  EXPECT_EQ(trie->sequences(), items.size());
  EXPECT_EQ(trie->allowed_after({10}, {2}), (std::vector<int64_t>{11, 60}));
  EXPECT_EQ(trie->allowed_after({10, 11, 20}, {2}), (std::vector<int64_t>{2}));
  EXPECT_TRUE(trie->allowed_after({10, 12}, {2}).empty());
  GenerationOptions options;
  options.max_new_tokens = 8;
  options.eos_token_ids = {2};
  options.logits_processor = trie_processor(trie, {2});
  for (int64_t beams : {1, 8}) {
    options.num_beams = beams;
    options.num_return_sequences = beams;
    for (const auto& per_prompt : generate(model, prompts(), options)) {
      std::set<std::vector<int64_t>> seen;
      for (const GeneratedSequence& sequence : per_prompt) {
        ASSERT_FALSE(sequence.tokens.empty());
        EXPECT_EQ(sequence.tokens.back(), 2) << "every sequence ends after a whole item";
        const std::vector<int64_t> item(sequence.tokens.begin(), sequence.tokens.end() - 1);
        EXPECT_NE(std::find(items.begin(), items.end(), item), items.end()) << "a sequence that is no item";
        EXPECT_TRUE(seen.insert(item).second) << "beams return distinct items";
      }
    }
  }
}

TEST(Model, TrieExclusionClosesOnlyThatPromptsSequences) {
  // 0 and 1 share the prefix {10, 11}; 3 is a prefix of 4.
  const std::vector<std::vector<int64_t>> items = {{10, 11, 12}, {10, 11, 20}, {10, 60}, {40, 41}, {40, 41, 42}, {50}};
  const TokenTrie trie(items);
  const TokenTrie::Exclusion first = trie.exclude({0});
  EXPECT_EQ(trie.allowed_after({10}, {2}, &first), (std::vector<int64_t>{11, 60}));
  EXPECT_EQ(trie.allowed_after({10, 11}, {2}, &first), (std::vector<int64_t>{20}));
  const TokenTrie::Exclusion both = trie.exclude({0, 1});
  EXPECT_EQ(trie.allowed_after({10}, {2}, &both), (std::vector<int64_t>{60})) << "a prefix with nothing left below is closed";
  EXPECT_EQ(trie.allowed_after({}, {2}, &both), (std::vector<int64_t>{10, 40, 50}));
  const TokenTrie::Exclusion shorter = trie.exclude({3});
  EXPECT_EQ(trie.allowed_after({40, 41}, {2}, &shorter), (std::vector<int64_t>{42})) << "no end after an excluded sequence";
  const TokenTrie::Exclusion longer = trie.exclude({4});
  EXPECT_EQ(trie.allowed_after({40, 41}, {2}, &longer), (std::vector<int64_t>{2}));
  const TokenTrie::Exclusion all = trie.exclude({0, 1, 2, 3, 4, 5});
  EXPECT_TRUE(trie.allowed_after({}, {2}, &all).empty());
  EXPECT_EQ(trie.allowed_after({10}, {2}), (std::vector<int64_t>{11, 60})) << "no exclusion: the whole trie";
  EXPECT_THROW(trie.exclude({6}), UsageError);
  // Two inputs that tokenize alike: closed only when both are excluded.
  const TokenTrie twins({{7, 8}, {7, 8}, {9}});
  EXPECT_EQ(twins.sequences(), 2u);
  const TokenTrie::Exclusion one_twin = twins.exclude({0});
  EXPECT_EQ(twins.allowed_after({7, 8}, {2}, &one_twin), (std::vector<int64_t>{2}));
  const TokenTrie::Exclusion both_twins = twins.exclude({0, 1, 0});
  EXPECT_EQ(twins.allowed_after({}, {2}, &both_twins), (std::vector<int64_t>{9}));
}

TEST(Model, PerPromptExclusionsFollowTheirPromptsThroughBatching) {
  const Transformer model = init_from_config(tiny_config("qwen3", false), 7, at::kFloat, at::kCPU);
  const std::vector<std::vector<int64_t>> items = {{10, 11, 12, 13}, {10, 11, 20}, {30, 31, 32, 33, 34}, {40, 41},
                                                   {50, 51, 52}, {10, 60, 61}, {5, 6, 7, 8}, {9, 63, 62}};
  const auto trie = std::make_shared<TokenTrie>(items);
  GenerationOptions options;
  options.max_new_tokens = 8;
  options.eos_token_ids = {2};
  options.num_beams = 8;  // as many as items: no path is pruned, so closing the best two moves the third up
  options.num_return_sequences = 4;
  options.logits_processor = trie_processor(trie, {2});
  const auto item_of = [&](const GeneratedSequence& sequence) {
    const std::vector<int64_t> tokens(sequence.tokens.begin(), sequence.tokens.end() - 1);
    return static_cast<size_t>(std::find(items.begin(), items.end(), tokens) - items.begin());
  };
  // Exclude, per prompt, the two items it ranks first without exclusions (the third prompt none),
  // so the test fails if an exclusion reaches the wrong prompt or none.
  const auto free = generate(model, prompts(), options);
  std::vector<std::vector<size_t>> excluded = {{item_of(free[0][0]), item_of(free[0][1])},
                                               {item_of(free[1][0]), item_of(free[1][1])}, {}};
  std::vector<std::shared_ptr<const TokenTrie::Exclusion>> exclusions;
  for (const auto& list : excluded) {
    exclusions.push_back(list.empty() ? nullptr : std::make_shared<const TokenTrie::Exclusion>(trie->exclude(list)));
  }
  // Batches of two, sorted by prompt length: {40} and {5, 9, 13} together, then {7, 11, 3, 21, 30}.
  const auto results = generate_in_batches(
      model, prompts(),
      [&](const std::vector<size_t>& members) {
        GenerationOptions batch = options;
        std::vector<std::shared_ptr<const TokenTrie::Exclusion>> mine;
        for (size_t member : members) mine.push_back(exclusions[member]);
        batch.logits_processor = trie_processor(trie, {2}, mine, options.num_beams);
        return batch;
      },
      2);
  ASSERT_EQ(results.size(), 3u);
  for (size_t prompt = 0; prompt < results.size(); ++prompt) {
    ASSERT_EQ(results[prompt].size(), 4u);
    for (const GeneratedSequence& sequence : results[prompt]) {
      ASSERT_FALSE(sequence.tokens.empty());
      EXPECT_EQ(sequence.tokens.back(), 2);
      const size_t item = item_of(sequence);
      ASSERT_LT(item, items.size()) << "prompt " << prompt << ": a sequence that is no item";
      EXPECT_EQ(std::count(excluded[prompt].begin(), excluded[prompt].end(), item), 0) << "prompt " << prompt << " item " << item;
    }
  }
  EXPECT_EQ(item_of(results[2][0]), item_of(free[2][0])) << "the prompt without exclusions keeps its best item";
  EXPECT_EQ(item_of(results[0][0]), item_of(free[0][2])) << "the first item not excluded moves up";
}

TEST(Model, TriePriorMassesSumOverPrefixes) {
  // 0 and 1 share {10, 11}; 3 is a prefix of 4; 5 and 6 are twins.
  const std::vector<std::vector<int64_t>> items = {{10, 11, 12}, {10, 11, 20}, {10, 60}, {40, 41}, {40, 41, 42}, {50}, {50}};
  const TokenTrie trie(items);
  const TokenTrie::Masses base = trie.distribution({1, 2, 3, 4, 0, 5, 5});
  const auto at = [&](const std::vector<int64_t>& prefix) { return static_cast<size_t>(trie.node_after(prefix)); };
  EXPECT_DOUBLE_EQ(base.below[0], 1.0);
  EXPECT_DOUBLE_EQ(base.below[at({10})], 6.0 / 20);
  EXPECT_DOUBLE_EQ(base.below[at({10, 11})], 3.0 / 20);
  EXPECT_DOUBLE_EQ(base.ending[at({10, 11})], 0.0);
  EXPECT_DOUBLE_EQ(base.below[at({40, 41})], 4.0 / 20);
  EXPECT_DOUBLE_EQ(base.ending[at({40, 41})], 4.0 / 20);
  EXPECT_DOUBLE_EQ(base.below[at({40, 41, 42})], 0.0);
  EXPECT_DOUBLE_EQ(base.ending[at({50})], 10.0 / 20) << "twins add up";
  EXPECT_EQ(trie.node_after({10, 12}), -1);
  EXPECT_EQ(trie.child(0, 99), -1);

  const TokenTrie::SparseMasses counts = trie.sparse_masses({{1, 2.0}, {4, 3.0}, {1, 1.0}, {2, 0.0}});
  EXPECT_DOUBLE_EQ(counts.total, 6.0);
  EXPECT_DOUBLE_EQ(counts.below.at(0), 6.0);
  EXPECT_DOUBLE_EQ(counts.below.at(static_cast<int32_t>(at({10}))), 3.0);
  EXPECT_DOUBLE_EQ(counts.ending.at(static_cast<int32_t>(at({10, 11, 20}))), 3.0);
  EXPECT_DOUBLE_EQ(counts.below.at(static_cast<int32_t>(at({40, 41}))), 3.0);
  EXPECT_EQ(counts.ending.count(static_cast<int32_t>(at({40, 41}))), 0u) << "sequence 4 ends below {40, 41}";
  EXPECT_EQ(counts.below.count(static_cast<int32_t>(at({10, 60}))), 0u) << "a zero count adds no node";

  EXPECT_THROW(trie.distribution({1, 2, 3}), UsageError);
  EXPECT_THROW(trie.distribution({1, 2, 3, 4, -1, 5, 5}), UsageError);
  EXPECT_THROW(trie.distribution({0, 0, 0, 0, 0, 0, 0}), UsageError);
  EXPECT_THROW(trie.sparse_masses({{7, 1.0}}), UsageError);
  EXPECT_THROW(trie.sparse_masses({{0, -1.0}}), UsageError);
  auto bad = std::make_shared<TriePrior>(TriePrior{1.0, 0.0, std::make_shared<const TokenTrie::Masses>(base), {}});
  EXPECT_THROW(trie_processor(std::make_shared<TokenTrie>(items), {2}, {}, 1, bad), UsageError) << "smoothing must be > 0";
}

TEST(Model, TriePriorAddsItsWeightedLogProbabilityToEveryFinishedSequence) {
  const Transformer model = init_from_config(tiny_config("qwen3", false), 7, at::kFloat, at::kCPU);
  const std::vector<std::vector<int64_t>> items = {{10, 11, 12, 13}, {10, 11, 20}, {30, 31, 32, 33, 34}, {40, 41},
                                                   {50, 51, 52}, {10, 60, 61}, {5, 6, 7, 8}, {9, 63, 62}};
  const auto trie = std::make_shared<TokenTrie>(items);
  const std::vector<double> base_weights = {1, 2, 3, 4, 5, 6, 7, 8};
  const std::vector<std::vector<std::pair<size_t, double>>> counts = {{{2, 3.0}, {5, 1.0}}, {}, {{7, 10.0}, {0, 2.0}}};
  const double weight = 0.7, smoothing = 2.0;
  const auto prior_for = [&](const std::vector<size_t>& members) {
    auto prior = std::make_shared<TriePrior>(
        TriePrior{weight, smoothing, std::make_shared<const TokenTrie::Masses>(trie->distribution(base_weights)), {}});
    for (size_t member : members) {
      prior->counts.push_back(counts[member].empty() ? nullptr
                                                     : std::make_shared<const TokenTrie::SparseMasses>(trie->sparse_masses(counts[member])));
    }
    return prior;
  };
  // P(item) by hand: (count + smoothing * base share) / (total count + smoothing).
  const auto log_prior = [&](size_t prompt, size_t item) {
    double count = 0, total = 0;
    for (const auto& [index, times] : counts[prompt]) {
      total += times;
      if (index == item) count += times;
    }
    return std::log((count + smoothing * base_weights[item] / 36.0) / (total + smoothing));
  };
  GenerationOptions options;
  options.max_new_tokens = 8;
  options.eos_token_ids = {2};
  options.num_beams = 8;  // as many as items: every item is returned, with and without the prior
  options.num_return_sequences = 8;
  options.length_penalty = 0.0;  // scores are sums of log-probabilities
  options.logits_processor = trie_processor(trie, {2});
  const auto free = generate(model, prompts(), options);
  options.logits_processor = trie_processor(trie, {2}, {}, options.num_beams, prior_for({0, 1, 2}));
  const auto fused = generate(model, prompts(), options);
  // The same prompts in batches of two sorted by length: each prompt's counts must follow it.
  const auto batched = generate_in_batches(
      model, prompts(),
      [&](const std::vector<size_t>& members) {
        GenerationOptions batch = options;
        batch.logits_processor = trie_processor(trie, {2}, {}, options.num_beams, prior_for(members));
        return batch;
      },
      2);
  const auto scores_by_item = [&](const std::vector<GeneratedSequence>& sequences) {
    std::map<size_t, double> scores;
    for (const GeneratedSequence& sequence : sequences) {
      const std::vector<int64_t> tokens(sequence.tokens.begin(), sequence.tokens.end() - 1);
      scores[static_cast<size_t>(std::find(items.begin(), items.end(), tokens) - items.begin())] = sequence.score;
    }
    return scores;
  };
  for (size_t prompt = 0; prompt < free.size(); ++prompt) {
    const auto without = scores_by_item(free[prompt]);
    const auto with = scores_by_item(fused[prompt]);
    const auto in_batches = scores_by_item(batched[prompt]);
    ASSERT_EQ(without.size(), items.size());
    ASSERT_EQ(with.size(), items.size());
    for (const auto& [item, score] : with) {
      EXPECT_NEAR(score - without.at(item), weight * log_prior(prompt, item), 1e-4) << "prompt " << prompt << " item " << item;
      EXPECT_NEAR(in_batches.at(item), score, 1e-4) << "prompt " << prompt << " item " << item;
    }
  }
}

TEST(Model, StopCheckEndsASequence) {
  const Transformer model = init_from_config(tiny_config("qwen2", true), 4, at::kFloat, at::kCPU);
  GenerationOptions options;
  options.max_new_tokens = 10;
  const auto free_run = generate(model, prompts(), options);
  options.stop_check = [](const std::vector<int64_t>& generated) { return generated.size() == 3; };
  const auto stopped = generate(model, prompts(), options);
  for (size_t i = 0; i < stopped.size(); ++i) {
    ASSERT_EQ(stopped[i][0].tokens.size(), 3u);
    EXPECT_TRUE(std::equal(stopped[i][0].tokens.begin(), stopped[i][0].tokens.end(), free_run[i][0].tokens.begin()));
  }
}

TEST(Model, KvCacheMovesRowsAndRefusesOverflow) {
  const ModelConfig config = tiny_config("qwen3", true);
  KvCache cache(config, 3, 4, at::kFloat, at::kCPU);
  at::Tensor keys = at::arange(3, at::kFloat).view({3, 1, 1, 1}).expand({3, 2, 2, 8}).contiguous();
  for (size_t layer = 0; layer < 2; ++layer) cache.store(layer, keys, keys);
  cache.advance(2);
  cache.select_rows(at::tensor({2, 2, 0}, at::kLong));
  at::Tensor more = at::zeros({3, 2, 1, 8});
  const auto [stored_keys, stored_values] = cache.store(0, more, more);
  EXPECT_EQ(stored_keys.size(2), 3);
  EXPECT_EQ(stored_keys[0][0][0][0].item<float>(), 2.0f);
  EXPECT_EQ(stored_keys[1][1][1][5].item<float>(), 2.0f);
  EXPECT_EQ(stored_keys[2][0][0][0].item<float>(), 0.0f);
  EXPECT_EQ(KvCache::bytes_needed(config, 3, 4, at::kFloat), 2 * 2 * 3 * 2 * 4 * 8 * 4);
  cache.advance(1);
  at::Tensor too_long = at::zeros({3, 2, 2, 8});
  EXPECT_THROW(cache.store(0, too_long, too_long), Error);
}

// Beams sharing their prompt's keys and values (left-padded prompts, beams reordered between
// steps) give the logits of running each beam's whole sequence without a cache.
TEST(Model, SharedPrefixBeamsGiveTheLogitsOfTheirWholeSequences) {
  c10::InferenceMode guard;
  for (const char* family : {"qwen3", "qwen2"}) {
    const ModelConfig config = tiny_config(family, false);
    const Transformer model = init_from_config(config, 5, at::kFloat, at::kCPU);
    const std::vector<std::vector<int64_t>> prompt_ids = {{5, 9, 13}, {7, 11, 3, 21, 30}};
    const int64_t beams = 3;
    const at::Tensor ids = at::tensor({0, 0, 5, 9, 13, 7, 11, 3, 21, 30}, at::kLong).view({2, 5});
    const at::Tensor mask = at::tensor({0, 0, 1, 1, 1, 1, 1, 1, 1, 1}, at::kLong).view({2, 5});
    const at::Tensor positions = positions_from_mask(mask);
    KvCache cache(config, 2, 5 + 3, at::kFloat, at::kCPU);
    model.hidden_states({ids, positions, mask, &cache});
    cache.share_prefix(beams, mask);
    EXPECT_THROW(cache.share_prefix(beams, mask), Error);
    at::Tensor next_positions = positions.select(1, 4).repeat_interleave(beams, 0);
    std::vector<std::vector<int64_t>> generated(6);
    const std::vector<std::vector<int64_t>> steps = {{10, 11, 12, 20, 21, 22}, {30, 31, 32, 40, 41, 42}, {50, 51, 52, 60, 61, 62}};
    const std::vector<int64_t> reorder = {2, 0, 0, 4, 5, 3};  // beams only move within their prompt
    at::Tensor logits;
    for (size_t step = 0; step < steps.size(); ++step) {
      if (step == 1) {
        cache.select_rows(at::tensor(reorder, at::kLong));
        std::vector<std::vector<int64_t>> moved;
        for (int64_t row : reorder) moved.push_back(generated[static_cast<size_t>(row)]);
        generated = moved;
      }
      next_positions = next_positions + 1;
      for (size_t row = 0; row < 6; ++row) generated[row].push_back(steps[step][row]);
      const at::Tensor hidden = model.hidden_states({at::tensor(steps[step], at::kLong).view({6, 1}), next_positions.view({6, 1}),
                                                     at::Tensor(), &cache});
      logits = model.logits(hidden.select(1, 0));
    }
    for (size_t row = 0; row < 6; ++row) {
      std::vector<int64_t> sequence = prompt_ids[row / beams];
      sequence.insert(sequence.end(), generated[row].begin(), generated[row].end());
      const at::Tensor whole = model.hidden_states({at::tensor(sequence, at::kLong).view({1, -1}), at::Tensor(), at::Tensor(), nullptr});
      const at::Tensor expected = model.logits(whole.select(1, whole.size(1) - 1))[0];
      // float32 sums in another order (the prompt's keys apart from the beam's): ~1e-5 apart,
      // more or less by CPU (AMX or AVX2 kernels); a wrong cache row is off by whole units.
      EXPECT_LT((logits[static_cast<int64_t>(row)] - expected).abs().max().item<float>(), 5e-5f) << family << " row " << row;
    }
    const at::Tensor two = at::zeros({6, 1}, at::kLong);
    EXPECT_THROW(model.hidden_states({two, next_positions.view({6, 1}) + 1, at::Tensor(), &cache}), Error) << "capacity";
  }
}

TEST(Model, ParametersKeepHuggingFaceNamesAndRoundTrip) {
  for (const bool tied : {true, false}) {
    const ModelConfig config = tiny_config(tied ? "qwen2" : "qwen3", tied);
    const Transformer model = init_from_config(config, 9, at::kFloat, at::kCPU);
    int64_t total = 0;
    std::set<std::string> names;
    for (const auto& [name, tensor] : model.named_parameters()) {
      total += tensor.numel();
      names.insert(name);
    }
    EXPECT_EQ(total, config.parameter_count());
    EXPECT_TRUE(names.count("model.layers.1.self_attn.k_proj.weight"));
    EXPECT_EQ(names.count("lm_head.weight"), tied ? 0u : 1u);
    EXPECT_EQ(names.count("model.layers.0.self_attn.q_proj.bias"), tied ? 1u : 0u);  // qwen2 has q/k/v biases
    const auto folder = test::scratch_dir(tied ? "model-roundtrip-tied" : "model-roundtrip");
    save_pretrained(model, folder, at::kFloat);
    const Transformer loaded = load_pretrained(folder);
    const auto original = model.named_parameters();
    const auto reloaded = loaded.named_parameters();
    ASSERT_EQ(original.size(), reloaded.size());
    for (size_t i = 0; i < original.size(); ++i) {
      EXPECT_EQ(original[i].first, reloaded[i].first);
      EXPECT_TRUE(at::equal(original[i].second, reloaded[i].second)) << original[i].first;
    }
  }
}

TEST(Model, EveryDtypeRunsOnCpuAndAgreesWithFloat64) {
  const ModelConfig config = tiny_config("qwen3", false);
  const Transformer reference = init_from_config(config, 5, at::kDouble, at::kCPU);
  c10::InferenceMode inference;
  const at::Tensor ids = at::tensor({4, 8, 15, 16, 23, 42}, at::kLong).unsqueeze(0);
  const at::Tensor expected = reference.logits(reference.hidden_states({ids, {}, {}, nullptr})).to(at::kFloat).log_softmax(-1);
  // Mean tolerances follow the mantissa: 8 bits (bf16), 11 (fp16), 24 (fp32); logits here are large
  // (initializer_range 0.5), so the worst element of bf16 may move by about 1% of their range.
  struct Case {
    at::ScalarType dtype;
    double mean_tolerance;
    double max_tolerance;
  };
  for (const Case& c : {Case{at::kFloat, 1e-5, 1e-4}, Case{at::kBFloat16, 0.1, 1.0}, Case{at::kHalf, 0.02, 0.1}}) {
    const Transformer model = init_from_config(config, 5, c.dtype, at::kCPU);
    const at::Tensor got = model.logits(model.hidden_states({ids, {}, {}, nullptr})).to(at::kFloat).log_softmax(-1);
    const at::Tensor difference = (got - expected).abs();
    EXPECT_LE(difference.mean().item<double>(), c.mean_tolerance) << dtype_name(c.dtype);
    EXPECT_LE(difference.max().item<double>(), c.max_tolerance) << dtype_name(c.dtype);
  }
}

TEST(Model, EncoderPoolsPaddedBatchesLikeSingleSequences) {
  const Transformer model = init_from_config(tiny_config("qwen3", true), 6, at::kFloat, at::kCPU);
  for (const Pooling pooling : {Pooling::Mean, Pooling::Last}) {
    const at::Tensor batch = encode_sequences(model, prompts(), pooling, true);
    for (size_t i = 0; i < prompts().size(); ++i) {
      const at::Tensor alone = encode_sequences(model, {prompts()[i]}, pooling, true);
      EXPECT_LE((batch[static_cast<int64_t>(i)] - alone[0]).abs().max().item<double>(), 1e-5);
    }
    EXPECT_NEAR(batch[0].norm().item<double>(), 1.0, 1e-5);
  }
}

}  // namespace
}  // namespace grlm
