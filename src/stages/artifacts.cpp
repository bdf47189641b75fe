#include "grlm/stages/artifacts.hpp"

#include <map>

#include "grlm/core/error.hpp"
#include "grlm/core/store.hpp"
#include "grlm/data/text_file.hpp"

namespace grlm::artifacts {

namespace fs = std::filesystem;

const std::vector<Published>& published() {
  static const std::vector<Published> all = {
      {kEmbedVectors, "embed", {"similar"}},
      {kEmbedItemIds, "embed", {"similar"}},
      {kSimilarIds, "similar", {"extract"}},
      {kSimilarScores, "similar", {"extract"}},
      {kExtractItemIds, "extract", {"build-sft", "evaluate", "recommend"}},
      {kExtractTids, "extract", {"build-sft", "evaluate", "recommend"}},
      {"/build-sft/token_ids", "build-sft", {"train"}},
      {"/build-sft/loss_mask", "build-sft", {"train"}},
      {"/build-sft/sample_offsets", "build-sft", {"train"}},
      {"/build-sft/tokenizer (attribute)", "build-sft", {"train"}},
  };
  return all;
}

fs::path run_dir(const Config& config) { return fs::path(config.get_string("run_dir")); }
fs::path similar_json_file(const Config& config) { return run_dir(config) / "similar" / "similar_items.json"; }
fs::path extract_dir(const Config& config) { return run_dir(config) / "extract"; }
fs::path extracted_tids_file(const Config& config) { return extract_dir(config) / "item_id2tid.json"; }
fs::path sft_dir(const Config& config) { return run_dir(config) / "sft"; }
fs::path train_dir(const Config& config) { return run_dir(config) / "train"; }
fs::path trained_model_folder(const Config& config) { return run_dir(config) / "model"; }
fs::path evaluate_dir(const Config& config) { return run_dir(config) / "evaluate"; }
fs::path metrics_file(const Config& config) { return run_dir(config) / "metrics.json"; }

namespace {

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
      {"transition",
       "Users who bought this item bought the following items right after it. List the items most often bought next, "
       "most frequent first, each written as its text ID and title."},
  };
  return instructions;
}

// "[w1, w2, w3, w4, w5]" (extract's format_tid) back to its words; the words hold no ',' (the TID
// rules), so ", " separates them.
std::optional<Tid> parse_stored_tid(const std::string& text) {
  if (text.size() < 2 || text.front() != '[' || text.back() != ']') return std::nullopt;
  Tid tid;
  size_t start = 1, word = 0;
  while (word < 5) {
    const size_t comma = text.find(", ", start);
    const size_t end = word < 4 ? comma : text.size() - 1;
    if (end == std::string::npos || end < start) return std::nullopt;
    tid[word++] = text.substr(start, end - start);
    start = end + 2;
  }
  return start == text.size() + 1 ? std::optional<Tid>(tid) : std::nullopt;
}

// Extract's TIDs as the store holds them, checked by the TID file's rules.
TidTable stored_tids(RunStore& store, const ItemTable& items) {
  for (const char* path : {kExtractItemIds, kExtractTids}) {
    if (!store.exists(path)) throw InputError(cat(store.file_path().string(), ": ", path, " is missing (run extract, or set data.tids)"));
  }
  const std::vector<std::string> ids = store.read_strings(kExtractItemIds);
  const std::vector<std::string> texts = store.read_strings(kExtractTids);
  if (ids.size() != texts.size()) {
    throw InputError(cat(store.file_path().string(), ": ", kExtractItemIds, " and ", kExtractTids, " differ in length"));
  }
  TidTable table;
  fit_tids_to_items(table, items);
  for (size_t row = 0; row < ids.size(); ++row) {
    if (texts[row].empty()) continue;  // the item has no valid TID
    const std::string where = cat(store.file_path().string(), ":", kExtractTids, ": item \"", ids[row], "\"");
    const std::optional<ItemIndex> item = items.find(ids[row]);
    if (!item) throw InputError(cat(where, ": not an item of the catalog (extract ran on another catalog? rerun it)"));
    const std::optional<Tid> tid = parse_stored_tid(texts[row]);
    if (!tid) throw InputError(cat(where, ": not five words in [w1, ..., w5]: ", texts[row]));
    for (size_t i = 0; i < 5; ++i) {
      if (const std::optional<std::string> problem = tid_word_problem((*tid)[i])) {
        throw InputError(cat(where, ": word ", i + 1, " \"", (*tid)[i], "\": ", *problem));
      }
    }
    table.tids[*item] = *tid;
    table.has[*item] = 1;
  }
  return table;
}

}  // namespace

std::string sft_instruction(const Config& config, const std::string& task) {
  const std::optional<std::string> folder = config.get_optional_string("sft.prompts");
  if (!folder) return default_instructions().at(task);
  std::string text = read_file_bytes(fs::path(*folder) / (task + ".txt"));
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

const Dataset& dataset_with_tids(const Config& config, RunStore& store) {
  if (config.has("data.tids")) return load_dataset_once(config);
  // Read again on every call: extract may have rerun since.
  return load_dataset_once_with_tids(config, stored_tids(store, load_dataset_once(config).items));
}

}  // namespace grlm::artifacts
