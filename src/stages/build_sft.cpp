// Stage "build-sft" (GRLM-SPEC stage 4): the spec's three instruction tasks (and, on request, the
// transition task) as LlamaFactory-style JSON files in <run_dir>/sft/, and the tokenized mixture
// the trainer reads from /build-sft.
#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "grlm/core/error.hpp"
#include "grlm/core/hash.hpp"
#include "grlm/core/log.hpp"
#include "grlm/core/progress.hpp"
#include "grlm/core/shared_file.hpp"
#include "grlm/data/cf_neighbours.hpp"
#include "grlm/data/sft_tasks.hpp"
#include "grlm/data/text_file.hpp"
#include "grlm/stages/artifacts.hpp"
#include "grlm/stages/stages.hpp"
#include "grlm/text/sft_prompt.hpp"
#include "grlm/text/tokenizer.hpp"

namespace grlm {
namespace {

using Json = nlohmann::ordered_json;

// Every task build-sft knows: the choices of sft.tasks in the schema (which refuses others when
// the config loads); a task's id (/build-sft/task_id) is its place in this list.
const std::vector<std::string>& task_names() {
  static const std::vector<std::string> names = [] {
    for (const ConfigKey& key : grlm_config_schema()) {
      if (key.path == "sft.tasks") return key.choices;
    }
    throw Error("internal: sft.tasks is not in the config schema");
  }();
  return names;
}

int32_t task_id(const std::string& name) {
  const auto& names = task_names();
  return static_cast<int32_t>(std::find(names.begin(), names.end(), name) - names.begin());
}


// A task's samples of this rank's block of users or items; the blocks in rank order are the task.
struct Task {
  std::string name;
  int32_t id;
  std::string instruction;
  std::vector<SftSample> samples;
  uint64_t first_index = 0;  // the task index of samples[0]: lower ranks' samples come before
  uint64_t total = 0;        // the task's samples on all ranks
};

// Collective: given this rank's count per task, each task's offset of this rank's block among
// all ranks' blocks of that task (rank order), and the task's total over all ranks.
struct BlockPlace {
  uint64_t first = 0;
  uint64_t total = 0;
};
std::vector<BlockPlace> place_in_rank_order(Communicator& comm, const std::vector<int64_t>& mine) {
  const size_t count = mine.size();
  std::vector<int64_t> all(count * static_cast<size_t>(comm.size()));
  if (count > 0) comm.all_gather(mine.data(), all.data(), count, DType::Int64);
  std::vector<BlockPlace> places(count);
  for (size_t t = 0; t < count; ++t) {
    for (int r = 0; r < comm.size(); ++r) {
      const auto value = static_cast<uint64_t>(all[static_cast<size_t>(r) * count + t]);
      if (r < comm.rank()) places[t].first += value;
      places[t].total += value;
    }
  }
  return places;
}

// Collective: each task's place of this rank's samples among all ranks' (rank order).
void place_blocks(Communicator& comm, std::vector<Task>& tasks) {
  std::vector<int64_t> mine;
  for (const Task& task : tasks) mine.push_back(static_cast<int64_t>(task.samples.size()));
  const std::vector<BlockPlace> places = place_in_rank_order(comm, mine);
  for (size_t t = 0; t < tasks.size(); ++t) {
    tasks[t].first_index = places[t].first;
    tasks[t].total = places[t].total;
  }
}

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

// Collective: the task's JSON list, each rank writing the records of its block.
void write_task_file(Communicator& comm, const std::filesystem::path& file, const Task& task,
                     const std::vector<SequenceSample>* sequences, const Dataset& dataset) {
  RankOrderedFile output(comm, file);
  std::ofstream& out = output.part();
  if (comm.rank() == 0) out << "[";
  for (size_t i = 0; i < task.samples.size(); ++i) {
    out << (task.first_index + i > 0 ? ",\n  " : "\n  ")
        << sample_json(task.samples[i], sequences ? &(*sequences)[i] : nullptr, dataset).dump();
  }
  if (comm.rank() + 1 == comm.size()) out << "\n]\n";
  output.commit();
}

// Copies of each sample by the task's weight: floor(w) copies, plus one more with probability
// frac(w) drawn from a hash of (seed, task, task index of the sample), so the draw does not
// depend on which rank holds the sample.
std::vector<const SftSample*> weighted(const Task& task, double weight, int64_t seed) {
  if (weight < 0) throw UsageError(cat("sft.weight.", task.name, " must be >= 0"));
  std::vector<const SftSample*> out;
  const double whole = std::floor(weight);
  const double fraction = weight - whole;
  for (size_t i = 0; i < task.samples.size(); ++i) {
    size_t copies = static_cast<size_t>(whole);
    if (fraction > 0) {
      const std::string digest = hash_bytes(cat(seed, "/", task.name, "/", task.first_index + i)).substr(0, 13);
      const double draw = static_cast<double>(std::stoull(digest, nullptr, 16)) / static_cast<double>(1ull << 52);
      copies += draw < fraction ? 1 : 0;
    }
    for (size_t c = 0; c < copies; ++c) out.push_back(&task.samples[i]);
  }
  return out;
}

// Prompt and response text of a sample in the model's chat format.
struct Renderer {
  SftPrompt format;
  std::pair<std::string, std::string> render(const SftSample& sample) const {
    return {format.prompt(sample.instruction, sample.input), format.response(sample.output)};
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

// Collective: word counts of every rank's samples (and each task's instruction once), merged.
WordCounts corpus_word_counts(Communicator& comm, const std::vector<Task>& tasks) {
  std::vector<std::string_view> corpus;
  for (const Task& task : tasks) {
    if (comm.rank() == 0 && task.total > 0) corpus.push_back(task.instruction);  // the same for every sample
    for (const SftSample& sample : task.samples) {
      corpus.push_back(sample.input);
      corpus.push_back(sample.output);
    }
  }
  WordCounts mine;
  count_words(corpus, mine);
  WordCounts all;
  for (const std::string& part : all_gather_bytes(comm, serialize_word_counts(mine))) add_serialized_word_counts(part, all);
  return all;
}

Tokenizer model_tokenizer(RunContext& context, const std::vector<Task>& tasks, const Dataset& dataset,
                          const std::filesystem::path& sft_dir, Renderer& renderer) {
  if (const std::optional<std::string> path = context.config.get_optional_string("sft.tokenizer")) {
    const std::filesystem::path folder = std::filesystem::is_directory(*path) ? std::filesystem::path(*path)
                                                                              : std::filesystem::path(*path).parent_path();
    renderer.format = SftPrompt::for_tokenizer_folder(folder);
    return Tokenizer::load(*path);
  }
  std::vector<Tid> valid_tids;
  for (size_t item = 0; item < dataset.tids->tids.size(); ++item) {
    if (has_valid_tid(*dataset.tids, static_cast<ItemIndex>(item))) valid_tids.push_back(dataset.tids->tids[item]);
  }
  const WordLevelSpec spec = from_scratch_vocabulary(valid_tids);
  const std::string json = build_word_level_tokenizer_from_counts(corpus_word_counts(context.runtime.world(), tasks), spec);
  if (context.runtime.is_root()) {
    write_file_atomically(sft_dir / "tokenizer.json", json);
    write_file_atomically(sft_dir / "tokenizer_config.json",
                          Json{{"eos_token", renderer.format.end_of_turn()}, {"pad_token", "<pad>"}, {"unk_token", "<unk>"}}.dump(2) + "\n");
  }
  return Tokenizer::from_json(json, (sft_dir / "tokenizer.json").string());
}

// Collective: the table in the run store, row i = item i's neighbours as rows of `item_ids`, -1
// past the end of a shorter list; each rank writes the rows of its block.
void store_neighbours(RunStore& store, const std::string& group, const Neighbours& mine, const Dataset& dataset,
                      const RowBlock& block) {
  const auto width = static_cast<int64_t>(mine.width);
  std::vector<int64_t> rows(static_cast<size_t>(block.count * width), -1);
  for (const auto& [anchor, nearest] : mine.by_anchor) {
    for (size_t k = 0; k < nearest.size() && static_cast<int64_t>(k) < width; ++k) {
      rows[static_cast<size_t>((anchor - block.first) * width) + k] = nearest[k];
    }
  }
  store.create_dataset(group + "/cf_neighbours", {dataset.items.size(), mine.width}, DType::Int64);
  store.write_rows(group + "/cf_neighbours", static_cast<uint64_t>(block.first), static_cast<uint64_t>(block.count), rows.data());
  std::vector<std::string> ids;
  for (int64_t item = block.first; item < block.end(); ++item) ids.push_back(dataset.items.id(static_cast<ItemIndex>(item)));
  store.write_strings(group + "/item_ids", ids);
}

// Collective: neighbours from the training histories, each rank computing its block's anchors,
// writing their lines of <sft_dir>/neighbours.txt and their rows of <group>/cf_neighbours.
Neighbours computed_neighbours(RunContext& context, const std::string& group, const Dataset& dataset,
                               const std::filesystem::path& sft_dir) {
  Communicator& comm = context.runtime.world();
  CfNeighbourOptions options;
  options.max_distance = static_cast<size_t>(context.config.get_int("sft.cf_max_distance"));
  options.holdout = held_out_items(context.config.get_bool("sft.train_on_validation"));
  Neighbours mine = compute_cf_neighbours(dataset.interactions, dataset.items.size(), options, comm.rank(), comm.size());
  store_neighbours(context.store, group, mine, dataset,
                   row_block(static_cast<int64_t>(dataset.items.size()), comm.size(), comm.rank()));
  RankOrderedFile file(comm, sft_dir / "neighbours.txt");
  if (comm.rank() == 0) write_neighbours_header(file.part(), mine.width);
  const size_t left_out = write_neighbour_lines(file.part(), mine, dataset.items);
  file.commit();
  const auto anchors = all_reduce_value<int64_t>(comm, static_cast<int64_t>(mine.by_anchor.size()), ReduceOp::Sum);
  const auto short_lists = all_reduce_value<int64_t>(comm, static_cast<int64_t>(left_out), ReduceOp::Sum);
  log::info("build-sft: computed neighbours for ", anchors, " items from training histories without each user's last ",
            options.holdout, " item(s) (", short_lists, " with fewer than ", mine.width, " left out of neighbours.txt)");
  return mine;
}

// This rank's tokenized copies of one task, and where they go among all ranks' rows.
struct TaskRows {
  std::vector<const SftSample*> copies;
  TokenizedShard shard;
  uint64_t first_sample = 0;
  uint64_t first_token = 0;
};

// Collective: the first sample row and token of each (task, rank) block, tasks in order and
// within a task ranks in order, counted in samples or in tokens; returns the total.
uint64_t place_rows(Communicator& comm, std::vector<TaskRows>& rows, bool tokens) {
  std::vector<int64_t> mine;
  for (const TaskRows& task : rows) {
    mine.push_back(static_cast<int64_t>(tokens ? task.shard.token_ids.size() : task.copies.size()));
  }
  const std::vector<BlockPlace> places = place_in_rank_order(comm, mine);
  uint64_t before = 0;  // rows of the earlier tasks
  for (size_t t = 0; t < rows.size(); ++t) {
    (tokens ? rows[t].first_token : rows[t].first_sample) = before + places[t].first;
    before += places[t].total;
  }
  return before;
}

}  // namespace

void run_build_sft(RunContext& context, const StageRun& run) {
  const Config& config = context.config;
  Communicator& comm = context.runtime.world();
  RunStore& store = context.store;
  const std::string group = "/" + run.name;
  const Dataset& dataset = artifacts::dataset_with_tids(config, store);
  const std::filesystem::path sft_dir = artifacts::sft_dir(config);
  if (context.runtime.is_root()) std::filesystem::create_directories(sft_dir);
  comm.barrier();
  const std::vector<std::string> wanted = config.get_string_list("sft.tasks");
  auto wants = [&](const std::string& task) { return std::find(wanted.begin(), wanted.end(), task) != wanted.end(); };
  // Ranks build the samples of consecutive blocks of items (term, collaborative) and users.
  const RowBlock my_items = row_block(static_cast<int64_t>(dataset.items.size()), comm.size(), comm.rank());
  const RowBlock my_users =
      row_block(static_cast<int64_t>(dataset.interactions.num_users()), comm.size(), comm.rank());

  std::vector<Task> tasks;
  if (wants("term")) {
    if (dataset.catalog) {
      const std::string instruction = artifacts::sft_instruction(config, "term");
      tasks.push_back({"term", task_id("term"), instruction, build_term_samples(dataset, instruction, my_items)});
    } else {
      log::info("build-sft: no catalog, so no term-internalisation task (titles are written as None)");
    }
  }
  std::vector<SequenceSample> sequences;
  if (wants("sequence")) {
    const std::string instruction = artifacts::sft_instruction(config, "sequence");
    SequenceTaskReport report;
    const SequenceTaskOptions options{static_cast<size_t>(config.get_int("sft.window")),
                                      config.get_bool("sft.train_on_validation")};
    sequences = build_sequence_samples(dataset, instruction, options, report, my_users);
    std::array<int64_t, 4> counts = {static_cast<int64_t>(report.users), static_cast<int64_t>(report.samples),
                                     static_cast<int64_t>(report.dropped_invalid_tids),
                                     static_cast<int64_t>(report.dropped_too_short)};
    comm.all_reduce(counts.data(), counts.data(), counts.size(), DType::Int64, ReduceOp::Sum);
    log::info("build-sft: sequence task: ", counts[1], " of ", counts[0], " users; dropped ", counts[2],
              " with an item lacking a valid TID, ", counts[3], " with fewer than 3 items; outputs run through item ",
              options.through_validation ? "n-1 (sft.train_on_validation: the validation split is not held out)" : "n-2");
    Task task{"sequence", task_id("sequence"), instruction, {}};
    task.samples.reserve(sequences.size());
    // The task owns the text; the per-user fields stay in `sequences` (same order).
    for (SequenceSample& sequence : sequences) task.samples.push_back(std::move(sequence.sample));
    tasks.push_back(std::move(task));
  }
  if (wants("collaborative")) {
    std::optional<Neighbours> computed;
    if (!dataset.neighbours) computed = computed_neighbours(context, group, dataset, sft_dir);
    const std::string instruction = artifacts::sft_instruction(config, "collaborative");
    tasks.push_back({"collaborative", task_id("collaborative"), instruction,
                     build_collaborative_samples(dataset, computed ? *computed : *dataset.neighbours, instruction,
                                                 static_cast<size_t>(config.get_int("sft.collaborative_top_n")),
                                                 my_items)});
  }
  if (wants("transition")) {
    const auto top_n = static_cast<size_t>(config.get_int("sft.transition_top_n"));
    const size_t holdout = held_out_items(config.get_bool("sft.train_on_validation"));
    const Neighbours followers =
        compute_followers(dataset.interactions, dataset.items.size(), holdout, top_n, comm.rank(), comm.size());
    const std::string instruction = artifacts::sft_instruction(config, "transition");
    tasks.push_back({"transition", task_id("transition"), instruction,
                     build_collaborative_samples(dataset, followers, instruction, top_n, my_items)});
    const auto anchors =
        all_reduce_value<int64_t>(comm, static_cast<int64_t>(followers.by_anchor.size()), ReduceOp::Sum);
    log::info("build-sft: transition task: followers of ", anchors,
              " items from training histories without each user's last ", holdout, " item(s), up to ", top_n, " each");
  }
  place_blocks(comm, tasks);
  for (const Task& task : tasks) {
    write_task_file(comm, sft_dir / (task.name + ".json"), task, task.name == "sequence" ? &sequences : nullptr, dataset);
  }

  Renderer renderer;
  const Tokenizer tokenizer = model_tokenizer(context, tasks, dataset, sft_dir, renderer);
  std::vector<TaskRows> rows(tasks.size());
  for (size_t t = 0; t < tasks.size(); ++t) {
    rows[t].copies = weighted(tasks[t], config.get_number("sft.weight." + tasks[t].name), config.get_int("seed"));
  }
  const uint64_t samples = place_rows(comm, rows, /*tokens=*/false);
  Progress progress(context.runtime, "build-sft: tokenizing", samples, "samples",
                    config.get_number("log.progress_interval_s"));
  const auto max_seq_len = static_cast<size_t>(config.get_int("sft.max_seq_len"));
  for (TaskRows& task : rows) task.shard = tokenize_samples(task.copies, tokenizer, renderer, max_seq_len, progress);
  progress.finish();
  const uint64_t total_tokens = place_rows(comm, rows, /*tokens=*/true);

  store.create_dataset(group + "/token_ids", {total_tokens}, DType::Int32);
  store.create_dataset(group + "/loss_mask", {total_tokens}, DType::UInt8);
  store.create_dataset(group + "/sample_offsets", {samples + 1}, DType::Int64);
  store.create_dataset(group + "/task_id", {samples}, DType::Int32);
  uint64_t truncated = 0;
  for (size_t t = 0; t < rows.size(); ++t) {
    const TaskRows& task = rows[t];
    std::vector<int64_t> offsets;
    auto running = static_cast<int64_t>(task.first_token);
    for (int64_t length : task.shard.lengths) {
      offsets.push_back(running);
      running += length;
    }
    const std::vector<int32_t> task_ids(task.copies.size(), tasks[t].id);
    store.write_rows(group + "/token_ids", task.first_token, task.shard.token_ids.size(), task.shard.token_ids.data());
    store.write_rows(group + "/loss_mask", task.first_token, task.shard.loss_mask.size(), task.shard.loss_mask.data());
    store.write_rows(group + "/sample_offsets", task.first_sample, offsets.size(), offsets.data());
    store.write_rows(group + "/task_id", task.first_sample, task_ids.size(), task_ids.data());
    truncated += task.shard.truncated;
  }
  const auto end_offset = static_cast<int64_t>(total_tokens);
  store.write_rows(group + "/sample_offsets", samples, context.runtime.is_root() ? 1 : 0, &end_offset);
  truncated = static_cast<uint64_t>(all_reduce_value<int64_t>(comm, static_cast<int64_t>(truncated), ReduceOp::Sum));
  Json counts = Json::object();
  for (const Task& task : tasks) counts[task.name] = task.total;
  store.set_attributes(group, {{"tasks", Json(task_names()).dump()},
                               {"samples_per_task", counts.dump()},
                               {"truncated_samples", std::to_string(truncated)},
                               {artifacts::kSftTokenizerAttribute, config.get_optional_string("sft.tokenizer").value_or((sft_dir / "tokenizer.json").string())}});
  log::info("build-sft: ", samples, " samples, ", total_tokens, " tokens, ", truncated, " truncated to ",
            config.get_int("sft.max_seq_len"), " tokens; JSON files in ", sft_dir.string());
}

}  // namespace grlm
