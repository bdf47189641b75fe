// `grlm recommend`: the next K items for any users' histories, from a trained run. Every rank
// reads the histories (the interactions format or JSON Lines), maps their items to the run's
// catalog, and builds each user's prompt exactly as evaluate does (HistoryRecommender: one prompt
// builder, one recommender); chunks of users are dealt to the ranks balanced by prompt length and
// committed to the output's own store (OUTPUT.partial.h5), so a large batch resumes where it
// stopped; rank 0 then writes the output in input order (JSON Lines or HDF5) and removes the
// partial store.
#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <unordered_map>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "grlm/core/chunked_work.hpp"
#include "grlm/core/error.hpp"
#include "grlm/core/hash.hpp"
#include "grlm/core/log.hpp"
#include "grlm/core/store.hpp"
#include "grlm/data/sft_tasks.hpp"
#include "grlm/data/text_file.hpp"
#include "grlm/stages/artifacts.hpp"
#include "grlm/stages/history_recommender.hpp"
#include "grlm/stages/stages.hpp"

namespace grlm {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

namespace {

constexpr const char* kGroup = "recommend";
constexpr size_t kShownIds = 5;

// One input line: a user and the item ids of their history, oldest first.
struct HistoryLine {
  std::string user_id;
  std::vector<std::string> item_ids;
  size_t line = 0;
};

bool json_lines_file(const fs::path& file) {
  const std::string extension = file.extension().string();
  return extension == ".jsonl" || extension == ".json" || extension == ".ndjson";
}

std::string id_text(const nlohmann::json& value, const std::string& where) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number_integer()) return value.dump();
  throw InputError(cat(where, ": expected a string or integer id, got ", value.dump()));
}

HistoryLine parse_json_line(const std::string& text, const std::string& where) {
  nlohmann::json object;
  try {
    object = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& error) {
    throw InputError(cat(where, ": not JSON (", error.what(), ")"));
  }
  if (!object.is_object() || !object.contains("user_id") || !object.contains("item_ids") || !object["item_ids"].is_array()) {
    throw InputError(cat(where, R"(: expected {"user_id": ..., "item_ids": [...]})"));
  }
  HistoryLine history;
  history.user_id = id_text(object["user_id"], where + " user_id");
  for (const auto& item : object["item_ids"]) history.item_ids.push_back(id_text(item, where + " item_ids"));
  return history;
}

HistoryLine parse_text_line(const std::string& text) {
  HistoryLine history;
  size_t position = 0;
  bool first = true;
  while (position < text.size()) {
    const size_t start = text.find_first_not_of(" \t\r", position);
    if (start == std::string::npos) break;
    const size_t end = std::min(text.find_first_of(" \t\r", start), text.size());
    std::string token = text.substr(start, end - start);
    if (first) {
      history.user_id = std::move(token);
      first = false;
    } else {
      history.item_ids.push_back(std::move(token));
    }
    position = end;
  }
  return history;
}

// Every history of the file, in file order. Blank lines at the end are accepted; one in the
// middle is refused (as in the interactions format), as is a line with no user id.
std::vector<HistoryLine> read_histories(const fs::path& file) {
  if (!fs::exists(file)) throw InputError(cat(file.string(), ": no such file"));
  const std::string bytes = read_file_bytes(file);
  const bool json_lines = json_lines_file(file);
  std::vector<HistoryLine> histories;
  size_t start = 0, line = 0, blank_at = 0;
  while (start < bytes.size()) {
    const size_t end = std::min(bytes.find('\n', start), bytes.size());
    const std::string text = bytes.substr(start, end - start);
    start = end + 1;
    ++line;
    if (text.find_first_not_of(" \t\r") == std::string::npos) {
      if (blank_at == 0) blank_at = line;
      continue;
    }
    const std::string where = cat(file.string(), ":", line);
    if (blank_at != 0) throw InputError(cat(file.string(), ":", blank_at, ": blank line before more histories"));
    HistoryLine history = json_lines ? parse_json_line(text, where) : parse_text_line(text);
    if (history.user_id.empty()) throw InputError(cat(where, ": no user id"));
    history.line = line;
    histories.push_back(std::move(history));
  }
  return histories;
}

std::string first_few(const std::vector<std::string>& ids, size_t total) {
  std::string text = join(std::vector<std::string>(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(std::min(ids.size(), kShownIds))), ", ");
  return total > kShownIds ? text + ", ..." : text;
}

// One user's request as the model sees it.
struct UserRequest {
  std::vector<ItemIndex> history;  // the known items with a valid TID, oldest first
  std::string prompt;              // empty: nothing to recommend from
};

std::vector<UserRequest> resolve_histories(const std::vector<HistoryLine>& lines, const Dataset& dataset, const fs::path& input,
                                           const std::string& unknown_policy) {
  std::vector<UserRequest> requests(lines.size());
  size_t unknown = 0, no_tid = 0, empty = 0;
  std::vector<std::string> unknown_ids, no_tid_ids, empty_users, duplicate_users;
  std::unordered_map<std::string, size_t> users_seen;
  for (size_t u = 0; u < lines.size(); ++u) {
    const HistoryLine& line = lines[u];
    if (users_seen[line.user_id]++ == 1) duplicate_users.push_back(line.user_id);
    for (const std::string& id : line.item_ids) {
      const std::optional<ItemIndex> item = dataset.items.find(id);
      if (item && has_valid_tid(*dataset.tids, *item)) {
        requests[u].history.push_back(*item);
        continue;
      }
      const std::string problem = item ? "has no valid Term ID in the run" : "is not in the run's catalog";
      if (unknown_policy == "error") {
        throw InputError(cat(input.string(), ":", line.line, ": item ", id, " of user ", line.user_id, " ", problem,
                             " (--unknown skip leaves such items out)"));
      }
      if (item) {
        if (no_tid++ < kShownIds) no_tid_ids.push_back(id);
      } else if (unknown++ < kShownIds) {
        unknown_ids.push_back(id);
      }
    }
    if (requests[u].history.empty() && empty++ < kShownIds) empty_users.push_back(line.user_id);
  }
  if (unknown > 0) log::warn("recommend: ", unknown, " item(s) not in the run's catalog left out of histories: ", first_few(unknown_ids, unknown));
  if (no_tid > 0) log::warn("recommend: ", no_tid, " item(s) without a valid Term ID left out of histories: ", first_few(no_tid_ids, no_tid));
  if (empty > 0) {
    log::warn("recommend: ", empty, " user(s) with no known item in their history get no recommendations: ",
              first_few(empty_users, empty));
  }
  if (!duplicate_users.empty()) {
    log::warn("recommend: ", duplicate_users.size(), " user id(s) appear on more than one line; each line is answered on its own: ",
              first_few(duplicate_users, duplicate_users.size()));
  }
  return requests;
}

std::string request_hash(const std::vector<UserRequest>& requests, const fs::path& model_folder, const HistoryRecommender& recommender,
                         const Config& config, int64_t k) {
  Hasher hasher;
  hasher.field("grlm recommend v1").field(fs::absolute(model_folder).lexically_normal().string());
  std::error_code error;
  const fs::path weights = model_folder / "model.safetensors";
  hasher.field(std::to_string(fs::exists(weights, error) ? fs::file_size(weights, error) : 0));
  if (fs::exists(weights, error)) hasher.field(std::to_string(fs::last_write_time(weights, error).time_since_epoch().count()));
  hasher.field(config.select({"evaluate"}).dump()).field(std::to_string(k)).field(recommender.exclude_seen() ? "1" : "0");
  for (const UserRequest& request : requests) {
    hasher.field(request.prompt);
    for (ItemIndex item : request.history) hasher.field(std::to_string(item));
  }
  return hasher.hex();
}

Json score_json(double score) { return std::isnan(score) ? Json(nullptr) : Json(score); }

void write_json_lines(const fs::path& file, const std::vector<HistoryLine>& lines, const Dataset& dataset,
                      const std::vector<int64_t>& items, const std::vector<double>& scores, size_t k) {
  std::string text;
  for (size_t u = 0; u < lines.size(); ++u) {
    Json ids = Json::array(), item_scores = Json::array(), tids = Json::array();
    for (size_t j = 0; j < k; ++j) {
      const int64_t item = items[u * k + j];
      if (item < 0) break;
      ids.push_back(dataset.items.id(static_cast<ItemIndex>(item)));
      item_scores.push_back(score_json(scores[u * k + j]));
      tids.push_back(tid_text(dataset.tids->tids[static_cast<size_t>(item)]));
    }
    text += Json{{"user_id", lines[u].user_id}, {"item_ids", ids}, {"scores", item_scores}, {"tids", tids}}.dump() + "\n";
  }
  write_file_atomically(file, text);
}

// Users' lists as [users, k] rows (item rows -1 and scores NaN past a short list), computed in
// chunks dealt to the ranks by prompt length and committed to the partial store `partial`: a
// rerun with the same `hash` resumes its chunks.
struct Lists {
  std::vector<int64_t> items;
  std::vector<double> scores;
};
Lists recommend_in_chunks(Runtime& runtime, const Config& config, const HistoryRecommender& recommender,
                          const std::vector<UserRequest>& prompted, const fs::path& partial, const std::string& hash,
                          size_t k, int64_t chunk_size) {
  const uint64_t users = prompted.size();
  RunStore store(runtime, partial, RunStore::FileMode::OpenOrCreate);
  if (store.start_stage(kGroup, hash, /*resume=*/true)) log::info("recommend: carrying on from ", partial.string());
  const std::string group = std::string("/") + kGroup;
  ChunkedWork work(runtime, store, kGroup, users, static_cast<uint64_t>(std::max<int64_t>(1, chunk_size)));
  if (!store.exists(group + "/items")) {
    store.create_dataset(group + "/items", {users, k}, DType::Int64);
    store.create_dataset(group + "/scores", {users, k}, DType::Float64);
  }
  std::vector<uint64_t> prompt_bytes(work.num_chunks(), 0);
  for (uint64_t c = 0; c < work.num_chunks(); ++c) {
    const WorkChunk chunk = work.chunk(c);
    for (uint64_t u = chunk.first; u < chunk.first + chunk.count; ++u) prompt_bytes[c] += prompted[u].prompt.size();
  }
  const auto recommend_chunk = [&](const std::optional<WorkChunk>& chunk) {
    std::vector<int64_t> item_rows;
    std::vector<double> score_rows;
    if (chunk) {
      std::vector<std::string> prompts;
      std::vector<ItemIndex> last_items;
      std::vector<std::unordered_set<uint32_t>> seen;
      std::vector<size_t> asked;  // users of the chunk with a prompt
      for (uint64_t u = chunk->first; u < chunk->first + chunk->count; ++u) {
        if (prompted[u].prompt.empty()) continue;
        asked.push_back(u - chunk->first);
        prompts.push_back(prompted[u].prompt);
        last_items.push_back(prompted[u].history.back());
        seen.emplace_back(prompted[u].history.begin(), prompted[u].history.end());
      }
      const std::vector<Recommendation> recommendations = recommender.recommend(prompts, last_items, seen, k);
      item_rows.assign(chunk->count * k, -1);
      score_rows.assign(chunk->count * k, std::numeric_limits<double>::quiet_NaN());
      for (size_t p = 0; p < asked.size(); ++p) {
        const Recommendation& recommendation = recommendations[p];
        for (size_t j = 0; j < recommendation.items.size() && j < k; ++j) {
          item_rows[asked[p] * k + j] = recommendation.items[j];
          score_rows[asked[p] * k + j] = recommendation.scores[j];
        }
      }
    }
    const uint64_t first = chunk ? chunk->first : 0, count = chunk ? chunk->count : 0;
    store.write_rows(group + "/items", first, count, item_rows.data());
    store.write_rows(group + "/scores", first, count, score_rows.data());
  };
  work.run(Dealing::balanced_by_size(std::move(prompt_bytes)), {"recommend", "users", config.get_number("log.progress_interval_s")},
           recommend_chunk);
  Lists lists{store.read_all<int64_t>(group + "/items"), store.read_all<double>(group + "/scores")};
  store.complete_stage(kGroup, {{"users", users}, {"k", k}});
  return lists;
}

}  // namespace

int run_recommend(Runtime& runtime, const Config& config, const Device& device, const RecommendRequestOptions& options) {
  const fs::path input = options.input, output = options.output;
  const auto k = static_cast<size_t>(options.k);
  const bool h5_output = output.extension() == ".h5" || output.extension() == ".hdf5";
  if (!h5_output && output.extension() != ".jsonl") {
    throw UsageError(cat("--output ", output.string(), ": name a .jsonl (JSON Lines) or .h5 (HDF5) file"));
  }
  if (options.k < 1) throw UsageError(cat("--k ", options.k, ": must be >= 1"));
  if (options.unknown != "skip" && options.unknown != "error") throw UsageError(cat("--unknown ", options.unknown, ": skip or error"));
  if (options.k > config.get_int("evaluate.num_beams")) {
    throw UsageError(cat("--k ", options.k, " must be <= ", config.described("evaluate.num_beams"),
                         ": each beam names one item (raise the beams with --set evaluate.num_beams=N)"));
  }
  // The run's store, read-only: extract's TIDs when data.tids is unset.
  RunStore run_store(runtime, artifacts::run_dir(config) / RunStore::kFileName, RunStore::FileMode::ReadOnly);
  const Dataset& dataset = [&]() -> const Dataset& {
    try {
      return artifacts::dataset_with_tids(config, run_store);
    } catch (const InputError& error) {
      // Every rank reads the same files and fails alike. Paths in the recorded config are as the
      // run was given them (relative ones: to the directory it was started in).
      throw CollectiveFailure(cat(error.what(), " (the run's data, as its recorded config names it; --set data.KEY=PATH "
                                  "if it moved)"));
    }
  }();
  std::vector<HistoryLine> lines;
  std::string problem;
  try {
    lines = read_histories(input);
  } catch (const InputError& error) {
    problem = error.what();
  }
  throw_rank0_problem<InputError>(runtime.world(), problem);
  const std::vector<UserRequest> requests = [&] {
    try {
      return resolve_histories(lines, dataset, input, options.unknown);
    } catch (const InputError& error) {
      throw CollectiveFailure(error.what());  // every rank reads the same file and fails alike
    }
  }();
  const fs::path model_folder = config.get_optional_string("evaluate.model").value_or(artifacts::trained_model_folder(config));
  // The transition prior counts every history of the run's data (nothing is held out any more).
  HistoryRecommender recommender(config, dataset, model_folder, device, 0);
  recommender.return_at_least(options.k);
  std::vector<UserRequest> prompted = requests;
  for (UserRequest& request : prompted) {
    if (request.history.empty()) continue;
    const size_t keep = std::min(request.history.size(), recommender.window_items());
    request.prompt = recommender.prompt({request.history.end() - static_cast<std::ptrdiff_t>(keep), request.history.end()});
  }
  const uint64_t users = prompted.size();
  log::info("recommend: ", users, " user(s) from ", input.string(), "; top ", k, " by ",
            recommender.constrained() ? "trie-constrained" : "free (grounded)", " beam search of ", model_folder.string(),
            recommender.exclude_seen() ? ", items of the history excluded" : "");

  const fs::path partial = output.string() + ".partial.h5";
  if (users == 0) log::warn("recommend: no history in ", input.string(), ": the output is empty");
  // (A store of zero chunks is not written: HDF5 cannot write zero rows of an empty dataset.)
  const Lists lists = users == 0 ? Lists{}
                                 : recommend_in_chunks(runtime, config, recommender, prompted, partial,
                                                       request_hash(prompted, model_folder, recommender, config, options.k), k,
                                                       options.chunk_users);
  const std::vector<int64_t>& items = lists.items;
  const std::vector<double>& scores = lists.scores;
  if (h5_output) {
    RunStore out(runtime, output, RunStore::FileMode::Truncate);
    std::vector<std::string> user_ids, item_ids, tids;
    if (runtime.is_root()) {
      for (size_t u = 0; u < users; ++u) {
        user_ids.push_back(lines[u].user_id);
        for (size_t j = 0; j < k; ++j) {
          const int64_t item = items[u * k + j];
          item_ids.push_back(item < 0 ? std::string() : dataset.items.id(static_cast<ItemIndex>(item)));
          tids.push_back(item < 0 ? std::string() : tid_text(dataset.tids->tids[static_cast<size_t>(item)]));
        }
      }
    }
    out.write_strings("/user_ids", user_ids);
    out.write_strings("/item_ids", item_ids, k);
    out.write_strings("/tids", tids, k);
    out.create_dataset("/scores", {users, k}, DType::Float64);
    if (users > 0) out.write_rows("/scores", 0, runtime.is_root() ? users : 0, scores.data());
    out.set_attributes("/", {{"model", model_folder.string()}, {"input", input.string()}, {"k", std::to_string(k)},
                             {"missing", "item_ids and tids \"\", scores NaN where a user has fewer than k items"}});
    out.flush();
  } else if (runtime.is_root()) {
    write_json_lines(output, lines, dataset, items, scores, k);
  }
  runtime.world().barrier();
  if (runtime.is_root()) {
    std::error_code ignored;
    fs::remove(partial, ignored);
  }
  size_t answered = 0;
  for (const UserRequest& request : prompted) answered += request.prompt.empty() ? 0 : 1;
  log::info("recommend: ", answered, " of ", users, " user(s) got recommendations; ", output.string());
  return kExitOk;
}

}  // namespace grlm
