// Stage "build-sft" (GRLM-SPEC stage 4): the three instruction tasks as LlamaFactory-style JSON
// files in <run_dir>/sft/, and the tokenized mixture the trainer reads from /build-sft.
#include <cmath>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "grlm/core/error.hpp"
#include "grlm/core/hash.hpp"
#include "grlm/core/log.hpp"
#include "grlm/core/progress.hpp"
#include "grlm/data/cf_neighbours.hpp"
#include "grlm/data/sft_tasks.hpp"
#include "grlm/data/text_file.hpp"
#include "grlm/stages/stages.hpp"
#include "grlm/text/sft_prompt.hpp"
#include "grlm/text/tokenizer.hpp"

namespace grlm {
namespace {

using Json = nlohmann::ordered_json;

// Built-in instructions: the same text as configs/prompts/*.txt.
const std::map<std::string, std::string>& default_instructions() {
  static const std::map<std::string, std::string> instructions = {
      {"sequence",
       "Given the user's purchase history, each item written as its text ID and title, predict the items the user "
       "will buy next, one per line in the same format."},
      {"term",
       "Write the text ID of this product: five words, most important first, covering its type, function, "
       "distinctive features, target audience and a unique selling point."},
      {"collaborative",
       "Users who bought this item also bought the following items. List the five most related items, each written "
       "as its text ID and title."},
  };
  return instructions;
}

}  // namespace

std::string sft_instruction(const Config& config, const std::string& task) {
  const std::optional<std::string> folder = config.get_optional_string("sft.prompts");
  if (!folder) return default_instructions().at(task);
  std::string text = read_file_bytes(std::filesystem::path(*folder) / (task + ".txt"));
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

const Dataset& dataset_with_tids(const Config& config, std::optional<Dataset>& storage) {
  const Dataset& loaded = load_dataset_once(config);
  if (config.has("data.tids")) return loaded;
  // Without data.tids the TIDs come from the extract stage's export.
  storage = loaded;
  storage->tids = load_tids(extracted_tids_file(config), storage->items, /*closed_items=*/true);
  fit_tids_to_items(*storage->tids, storage->items);
  return *storage;
}

namespace {

struct Task {
  std::string name;
  int32_t id;
  std::vector<SftSample> samples;
};

// One sample as a JSON object (the sequence file also carries what a user needs to evaluate
// elsewhere). Written one record at a time: a whole-file DOM would hold the text several times.
Json sample_json(const SftSample& sample, const SequenceSample* sequence, const Dataset& dataset) {
  Json record = {{"instruction", sample.instruction}, {"input", sample.input}, {"output", sample.output}};
  if (sequence != nullptr) {
    Json item_ids = Json::array();
    for (ItemIndex item : sequence->items) item_ids.push_back(dataset.items.id(item));
    record["user_id"] = sequence->user_id;
    record["item_ids"] = item_ids;
    record["valid_item_id"] = dataset.items.id(sequence->validation_item);
    record["valid_tid"] = tid_text(dataset.tids->tids[sequence->validation_item]);
    record["test_item_id"] = dataset.items.id(sequence->test_item);
    record["test_tid"] = tid_text(dataset.tids->tids[sequence->test_item]);
  }
  return record;
}

// A JSON list of the task's samples, written through a temporary file renamed when complete.
void write_task_file(const std::filesystem::path& file, const std::vector<SftSample>& samples,
                     const std::vector<SequenceSample>* sequences, const Dataset& dataset) {
  const std::filesystem::path partial = file.string() + ".partial";
  {
    std::ofstream out(partial, std::ios::binary | std::ios::trunc);
    out << "[";
    for (size_t i = 0; i < samples.size(); ++i) {
      out << (i > 0 ? ",\n  " : "\n  ") << sample_json(samples[i], sequences ? &(*sequences)[i] : nullptr, dataset).dump();
    }
    out << "\n]\n";
    if (!out) throw Error(cat("cannot write ", partial.string()));
  }
  std::filesystem::rename(partial, file);
}

// Copies of each sample by the task's weight: floor(w) copies, plus one more with probability
// frac(w) drawn from a hash of (seed, task, sample) so every rank draws the same.
std::vector<const SftSample*> weighted(const std::vector<SftSample>& samples, double weight, const std::string& task,
                                       int64_t seed) {
  if (weight < 0) throw UsageError(cat("sft.weight.", task, " must be >= 0"));
  std::vector<const SftSample*> out;
  const double whole = std::floor(weight);
  const double fraction = weight - whole;
  for (size_t i = 0; i < samples.size(); ++i) {
    size_t copies = static_cast<size_t>(whole);
    if (fraction > 0) {
      const std::string digest = hash_bytes(cat(seed, "/", task, "/", i)).substr(0, 13);
      const double draw = static_cast<double>(std::stoull(digest, nullptr, 16)) / static_cast<double>(1ull << 52);
      copies += draw < fraction ? 1 : 0;
    }
    for (size_t c = 0; c < copies; ++c) out.push_back(&samples[i]);
  }
  return out;
}

// Prompt and response text of a sample in the model's chat format.
struct Renderer {
  SftPrompt format;
  std::pair<std::string, std::string> render(const SftSample& sample) const {
    return {format.prompt(sample.instruction, sample.input), SftPrompt::response(sample.output)};
  }
};

struct TokenizedShard {
  std::vector<int32_t> token_ids;
  std::vector<uint8_t> loss_mask;
  std::vector<int64_t> lengths;
  uint64_t truncated = 0;
};

// Prompt and response are encoded apart (as LlamaFactory does); loss on response tokens only.
// Too long: the response is cut first, then the prompt from its left.
TokenizedShard tokenize_samples(const std::vector<const SftSample*>& samples, const Tokenizer& tokenizer,
                                const Renderer& renderer, size_t max_seq_len, Progress& progress) {
  TokenizedShard shard;
  for (size_t i = 0; i < samples.size(); ++i) {
    if (i % 256 == 255) progress.add(256);
    const SftSample* sample = samples[i];
    const auto [prompt, response] = renderer.render(*sample);
    std::vector<TokenId> prompt_ids = tokenizer.encode(prompt);
    std::vector<TokenId> response_ids = tokenizer.encode(response);
    if (prompt_ids.size() + response_ids.size() > max_seq_len) {
      ++shard.truncated;
      const size_t prompt_keep = std::min(prompt_ids.size(), max_seq_len / 2);
      const size_t response_keep = std::min(response_ids.size(), max_seq_len - prompt_keep);
      truncate(response_ids, response_keep, Side::Right);
      truncate(prompt_ids, max_seq_len - response_ids.size(), Side::Left);
    }
    shard.token_ids.insert(shard.token_ids.end(), prompt_ids.begin(), prompt_ids.end());
    shard.loss_mask.insert(shard.loss_mask.end(), prompt_ids.size(), 0);
    shard.token_ids.insert(shard.token_ids.end(), response_ids.begin(), response_ids.end());
    shard.loss_mask.insert(shard.loss_mask.end(), response_ids.size(), 1);
    shard.lengths.push_back(static_cast<int64_t>(prompt_ids.size() + response_ids.size()));
  }
  progress.add(samples.size() % 256);
  return shard;
}

Tokenizer model_tokenizer(RunContext& context, const std::vector<Task>& tasks, const Dataset& dataset,
                          const std::filesystem::path& sft_dir, Renderer& renderer) {
  if (const std::optional<std::string> path = context.config.get_optional_string("sft.tokenizer")) {
    const std::filesystem::path folder = std::filesystem::is_directory(*path) ? std::filesystem::path(*path)
                                                                              : std::filesystem::path(*path).parent_path();
    renderer.format = SftPrompt::for_tokenizer_folder(folder);
    return Tokenizer::load(*path);
  }
  // From scratch: a word-level vocabulary of every TID term, the format words, frequent words.
  WordLevelSpec spec;
  spec.required_words = {"item", "text", "id", ":", "[", "]", ",", "title", "none.", "user", "assistant"};
  for (size_t item = 0; item < dataset.tids->tids.size(); ++item) {
    if (!has_valid_tid(*dataset.tids, static_cast<ItemIndex>(item))) continue;
    for (const std::string& word : dataset.tids->tids[item]) spec.required_words.push_back(word);
  }
  std::vector<std::string_view> corpus;
  for (const Task& task : tasks) {
    if (!task.samples.empty()) corpus.push_back(task.samples.front().instruction);  // the same for every sample
    for (const SftSample& sample : task.samples) {
      corpus.push_back(sample.input);
      corpus.push_back(sample.output);
    }
  }
  const std::string json = build_word_level_tokenizer(corpus, spec);
  if (context.runtime.is_root()) {
    std::ofstream(sft_dir / "tokenizer.json", std::ios::binary | std::ios::trunc) << json;
    std::ofstream(sft_dir / "tokenizer_config.json", std::ios::binary | std::ios::trunc)
        << Json{{"eos_token", "<|im_end|>"}, {"pad_token", "<pad>"}, {"unk_token", "<unk>"}}.dump(2) << "\n";
  }
  return Tokenizer::from_json(json, (sft_dir / "tokenizer.json").string());
}

}  // namespace

void run_build_sft(RunContext& context, const StageRun& run) {
  const Config& config = context.config;
  std::optional<Dataset> with_extracted_tids;
  const Dataset& dataset = dataset_with_tids(config, with_extracted_tids);
  const std::filesystem::path sft_dir = std::filesystem::path(config.get_string("run_dir")) / "sft";
  if (context.runtime.is_root()) std::filesystem::create_directories(sft_dir);
  context.runtime.world().barrier();
  const std::vector<std::string> wanted = config.get_string_list("sft.tasks");
  auto wants = [&](const std::string& task) { return std::find(wanted.begin(), wanted.end(), task) != wanted.end(); };
  for (const std::string& task : wanted) {
    if (task != "term" && task != "sequence" && task != "collaborative") {
      throw UsageError(cat("sft.tasks: unknown task '", task, "' (term, sequence, collaborative)"));
    }
  }

  std::vector<Task> tasks;
  if (wants("term")) {
    if (dataset.catalog) {
      tasks.push_back({"term", 0, build_term_samples(dataset, sft_instruction(config, "term"))});
    } else {
      log::info("build-sft: no catalog, so no term-internalisation task (titles are written as None)");
    }
  }
  std::vector<SequenceSample> sequences;
  if (wants("sequence")) {
    SequenceTaskReport report;
    sequences = build_sequence_samples(dataset, sft_instruction(config, "sequence"),
                                       static_cast<size_t>(config.get_int("sft.window")), report);
    log::info("build-sft: sequence task: ", report.samples, " of ", report.users, " users; dropped ",
              report.dropped_invalid_tids, " with an item lacking a valid TID, ", report.dropped_too_short,
              " with fewer than 3 items");
    Task task{"sequence", 1, {}};
    task.samples.reserve(sequences.size());
    // The task owns the text; the per-user fields stay in `sequences` (same order).
    for (SequenceSample& sequence : sequences) task.samples.push_back(std::move(sequence.sample));
    tasks.push_back(std::move(task));
  }
  if (wants("collaborative")) {
    std::optional<Neighbours> computed;
    if (!dataset.neighbours) {
      CfNeighbourOptions options;
      options.max_distance = static_cast<size_t>(config.get_int("sft.cf_max_distance"));
      const Neighbours local = compute_cf_neighbours(dataset.interactions, dataset.items.size(), options,
                                                     context.runtime.rank(), context.runtime.world_size());
      computed = gather_neighbours(context.runtime.world(), local);
      if (context.runtime.is_root()) {
        const size_t left_out = write_neighbours_file(sft_dir / "neighbours.txt", *computed, dataset.items);
        log::info("build-sft: computed neighbours for ", computed->by_anchor.size(),
                  " items from training histories (", left_out, " with fewer than 20 left out of neighbours.txt)");
      }
    }
    tasks.push_back({"collaborative", 2,
                     build_collaborative_samples(dataset, computed ? *computed : *dataset.neighbours,
                                                 sft_instruction(config, "collaborative"),
                                                 static_cast<size_t>(config.get_int("sft.collaborative_top_n")))});
  }

  if (context.runtime.is_root()) {
    for (const Task& task : tasks) {
      write_task_file(sft_dir / (task.name + ".json"), task.samples, task.name == "sequence" ? &sequences : nullptr,
                      dataset);
    }
  }

  Renderer renderer;
  const Tokenizer tokenizer = model_tokenizer(context, tasks, dataset, sft_dir, renderer);
  std::vector<const SftSample*> mixture;
  std::vector<int32_t> task_ids;
  for (const Task& task : tasks) {
    const auto copies = weighted(task.samples, config.get_number("sft.weight." + task.name), task.name,
                                 config.get_int("seed"));
    mixture.insert(mixture.end(), copies.begin(), copies.end());
    task_ids.insert(task_ids.end(), copies.size(), task.id);
  }

  // Each rank tokenizes a contiguous block of samples and writes its rows.
  const uint64_t samples = mixture.size();
  const auto ranks = static_cast<uint64_t>(context.runtime.world_size());
  const auto rank = static_cast<uint64_t>(context.runtime.rank());
  const uint64_t first = samples * rank / ranks;
  const uint64_t last = samples * (rank + 1) / ranks;
  std::vector<const SftSample*> mine;
  for (uint64_t i = first; i < last; ++i) mine.push_back(mixture[i]);
  Progress progress(context.runtime, "build-sft: tokenizing", samples, "samples",
                    config.get_number("log.progress_interval_s"));
  const TokenizedShard shard =
      tokenize_samples(mine, tokenizer, renderer, static_cast<size_t>(config.get_int("sft.max_seq_len")), progress);
  progress.finish();

  Communicator& comm = context.runtime.world();
  std::vector<int64_t> token_counts(ranks);
  const int64_t my_tokens = static_cast<int64_t>(shard.token_ids.size());
  comm.all_gather(&my_tokens, token_counts.data(), 1, DType::Int64);
  uint64_t token_offset = 0;
  uint64_t total_tokens = 0;
  for (uint64_t r = 0; r < ranks; ++r) {
    if (r < rank) token_offset += static_cast<uint64_t>(token_counts[r]);
    total_tokens += static_cast<uint64_t>(token_counts[r]);
  }
  std::vector<int64_t> offsets;
  int64_t running = static_cast<int64_t>(token_offset);
  for (int64_t length : shard.lengths) {
    offsets.push_back(running);
    running += length;
  }
  if (rank + 1 == ranks) offsets.push_back(static_cast<int64_t>(total_tokens));

  RunStore& store = context.store;
  const std::string group = "/" + run.name;
  store.create_dataset(group + "/token_ids", {total_tokens}, DType::Int32);
  store.create_dataset(group + "/loss_mask", {total_tokens}, DType::UInt8);
  store.create_dataset(group + "/sample_offsets", {samples + 1}, DType::Int64);
  store.create_dataset(group + "/task_id", {samples}, DType::Int32);
  store.write_rows(group + "/token_ids", token_offset, shard.token_ids.size(), shard.token_ids.data());
  store.write_rows(group + "/loss_mask", token_offset, shard.loss_mask.size(), shard.loss_mask.data());
  store.write_rows(group + "/sample_offsets", first, offsets.size(), offsets.data());
  store.write_rows(group + "/task_id", first, last - first, task_ids.data() + first);
  const uint64_t truncated = all_reduce_value<int64_t>(comm, static_cast<int64_t>(shard.truncated), ReduceOp::Sum);
  Json counts = Json::object();
  for (const Task& task : tasks) counts[task.name] = task.samples.size();
  store.set_attributes(group, {{"tasks", Json{"term", "sequence", "collaborative"}.dump()},
                               {"samples_per_task", counts.dump()},
                               {"truncated_samples", std::to_string(truncated)},
                               {"tokenizer", config.get_optional_string("sft.tokenizer").value_or((sft_dir / "tokenizer.json").string())}});
  log::info("build-sft: ", samples, " samples, ", total_tokens, " tokens, ", truncated, " truncated to ",
            config.get_int("sft.max_seq_len"), " tokens; JSON files in ", sft_dir.string());
}

}  // namespace grlm
