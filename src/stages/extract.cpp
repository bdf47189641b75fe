// Stage "extract" (GRLM-SPEC.md stage 3): five-word Term IDs per item, from an instruct LLM shown
// the item and its most similar items (extract.model), or from the built-in keyword extractor.
// LLM answers are parsed by the reference's rules, invalid ones retried; every item's record
// (raw answer, words, validity, attempts) is stored as its chunk finishes, so a killed run
// resumes at the next unfinished chunk. Ends with the report and the *_item_id2tid.json exports.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <numeric>
#include <set>

#include <nlohmann/json.hpp>

#include "grlm/core/chunked_work.hpp"
#include "grlm/core/error.hpp"
#include "grlm/core/log.hpp"
#include "grlm/data/dataset.hpp"
#include "grlm/data/text_file.hpp"
#include "grlm/stages/artifacts.hpp"
#include "grlm/stages/stages.hpp"
#include "grlm/text/keyword_extractor.hpp"
#include "grlm/text/tid_answer.hpp"
#include "grlm/text/tokenizer.hpp"
#include "grlm/model/chat_generator.hpp"

namespace grlm {
namespace {

using Json = nlohmann::json;
constexpr uint64_t kRecordBytes = 1024;  // one item's record, JSON padded with zero bytes

struct Record {
  std::string raw;
  std::vector<std::string> words;
  bool valid = false;
  int attempts = 0;
};

std::vector<uint8_t> encode_record(const Record& record) {
  Json json = {{"raw", record.raw}, {"words", record.words}, {"valid", record.valid}, {"attempts", record.attempts}};
  std::string text = json.dump(-1, ' ', false, Json::error_handler_t::replace);
  while (text.size() >= kRecordBytes) {  // a very long raw answer is cut (its words are kept)
    json["raw"] = to_valid_utf8(json["raw"].get<std::string>().substr(0, json["raw"].get<std::string>().size() / 2)) + "...";
    text = json.dump(-1, ' ', false, Json::error_handler_t::replace);
  }
  std::vector<uint8_t> bytes(kRecordBytes, 0);
  std::copy(text.begin(), text.end(), bytes.begin());
  return bytes;
}

Record decode_record(const uint8_t* bytes) {
  const std::string text(reinterpret_cast<const char*>(bytes), strnlen(reinterpret_cast<const char*>(bytes), kRecordBytes));
  const Json json = Json::parse(text);
  return {json["raw"].get<std::string>(), json["words"].get<std::vector<std::string>>(), json["valid"].get<bool>(),
          json["attempts"].get<int>()};
}

// The similar stage's neighbours of every item (rows of the item table).
struct SimilarLists {
  int64_t k = 0;
  std::vector<int64_t> ids;
  std::vector<float> scores;
};

SimilarLists read_similar(RunStore& store, uint64_t items) {
  SimilarLists lists;
  const std::vector<uint64_t> dims = store.dims(artifacts::kSimilarIds);
  if (dims.size() != 2 || dims[0] != items) {
    throw Error(cat("extract: ", artifacts::kSimilarIds, " has ", dims.empty() ? 0 : dims[0], " rows but the catalog ", items, " items"));
  }
  lists.k = static_cast<int64_t>(dims[1]);
  lists.ids = store.read_all<int64_t>(artifacts::kSimilarIds);
  lists.scores = store.read_all<float>(artifacts::kSimilarScores);
  return lists;
}

std::vector<int64_t> neighbours_of(const SimilarLists& similar, uint64_t item, int64_t count) {
  const int64_t shown = std::min(count, similar.k);
  return std::vector<int64_t>(similar.ids.begin() + static_cast<std::ptrdiff_t>(item * static_cast<uint64_t>(similar.k)),
                              similar.ids.begin() + static_cast<std::ptrdiff_t>(item * static_cast<uint64_t>(similar.k) + static_cast<uint64_t>(shown)));
}

// ---------------------------------------------------------------- built-in extractor

std::vector<Record> builtin_records(RunContext& context, const Dataset& data, const SimilarLists& similar, int64_t shown) {
  const uint64_t items = data.items.size();
  const int ranks = context.runtime.world_size();
  const int rank = context.runtime.rank();
  const RowBlock mine = row_block(static_cast<int64_t>(items), ranks, rank);
  const auto first = static_cast<uint64_t>(mine.first);
  const auto last = static_cast<uint64_t>(mine.end());
  const auto text_of = [&](uint64_t i) {
    const CatalogItem& item = data.catalog->items[i];
    return KeywordItem{item.title, item.description, item.categories};
  };
  // Document frequencies over the whole catalog: each rank counts its block, counts are merged.
  KeywordExtractor local_counts;
  std::vector<KeywordItem> block;
  for (uint64_t i = first; i < last; ++i) block.push_back(text_of(i));
  local_counts.count_documents(block);
  KeywordExtractor extractor;
  for (const std::string& bytes : all_gather_bytes(context.runtime.world(), Json(local_counts.document_counts()).dump())) {
    extractor.merge_counts(Json::parse(bytes).get<std::unordered_map<std::string, int64_t>>(), 0);
  }
  extractor.merge_counts({}, static_cast<int64_t>(items));
  Json candidates = Json::array();
  for (uint64_t i = first; i < last; ++i) {
    std::vector<KeywordItem> neighbours;
    for (int64_t neighbour : neighbours_of(similar, i, shown)) neighbours.push_back(text_of(static_cast<uint64_t>(neighbour)));
    candidates.push_back(extractor.candidates(text_of(i), neighbours));
  }
  // Collisions are resolved in item order, by one rank.
  const std::vector<std::string> gathered = all_gather_bytes(context.runtime.world(), candidates.dump());
  std::vector<Record> records;
  if (rank != 0) return records;
  std::vector<std::vector<std::string>> all;
  for (const std::string& bytes : gathered) {
    for (const Json& list : Json::parse(bytes)) all.push_back(list.get<std::vector<std::string>>());
  }
  uint64_t collisions = 0;
  const auto tids = choose_tids(all, data.items.ids(), &collisions);
  log::info("extract: built-in extractor resolved ", collisions, " collisions");
  for (const auto& tid : tids) records.push_back({"", std::vector<std::string>(tid.begin(), tid.end()), true, 1});
  return records;
}

// ---------------------------------------------------------------- LLM extraction

std::string prompt_template(const Config& config) {
  if (const auto file = config.get_optional_string("extract.prompt")) {
    std::string text = read_file_bytes(*file);
    if (!text.empty() && text.back() == '\n') text.pop_back();
    if (text.find("{title}") == std::string::npos) throw UsageError(cat("extract.prompt ", *file, ": no {title} placeholder"));
    return text;
  }
  return std::string(default_extract_template());
}

const char* kStricterTurn =
    "Your answer was not in the required form. Answer again with exactly five words, nothing else, in this form: "
    "[w1, w2, w3, w4, w5]";

// Items whose TID equals an earlier item's, in item order.
std::vector<uint64_t> colliding_items(const std::vector<Record>& records) {
  std::set<std::vector<std::string>> seen;
  std::vector<uint64_t> colliding;
  for (uint64_t i = 0; i < records.size(); ++i) {
    if (records[i].valid && !seen.insert(records[i].words).second) colliding.push_back(i);
  }
  return colliding;
}

// One pass over colliding items: each is asked again with the taken TID shown as one to differ
// from; a valid answer that collides with nothing is kept. Every rank holds all records; the
// items are shared round-robin and the answers gathered.
uint64_t resolve_collisions(RunContext& context, std::vector<Record>& records, const std::function<std::string(uint64_t)>& prompt_of,
                        const ChatGenerator& generator, const ChatGeneration& options) {
  const std::vector<uint64_t> colliding = colliding_items(records);
  const int ranks = context.runtime.world_size();
  std::vector<uint64_t> mine;
  std::vector<std::vector<ChatMessage>> asks;
  for (size_t j = static_cast<size_t>(context.runtime.rank()); j < colliding.size(); j += static_cast<size_t>(ranks)) {
    const uint64_t item = colliding[j];
    mine.push_back(item);
    asks.push_back({{"user", prompt_of(item) + "\nThe terms must differ from this Term ID, which another product already has: " +
                                 format_tid(records[item].words)}});
  }
  const std::vector<std::string> replies = asks.empty() ? std::vector<std::string>{} : generator.reply(asks, options);
  Json local = Json::array();
  for (size_t j = 0; j < mine.size(); ++j) local.push_back({mine[j], replies[j]});
  std::map<uint64_t, std::string> answers;
  for (const std::string& bytes : all_gather_bytes(context.runtime.world(), local.dump())) {
    for (const Json& entry : Json::parse(bytes)) answers[entry[0].get<uint64_t>()] = entry[1].get<std::string>();
  }
  std::set<std::vector<std::string>> taken;
  for (const Record& record : records) {
    if (record.valid) taken.insert(record.words);
  }
  uint64_t resolved = 0;
  for (const auto& [item, answer] : answers) {
    const ParsedTid parsed = parse_tid_answer(answer);
    ++records[item].attempts;
    if (parsed.valid && !taken.count(parsed.words)) {
      records[item].raw = answer;
      records[item].words = parsed.words;
      taken.insert(parsed.words);
      ++resolved;
    }
  }
  log::info("extract: collision pass: ", colliding.size(), " colliding items, ", resolved, " given a new TID; ",
            colliding_items(records).size(), " still collide");
  return colliding.size();
}

// Each conversation's record: greedy, then once more with a stricter turn after an invalid answer,
// then sampled (seeded by `seed` and the attempt, the same on any rank), up to `retries` retries.
std::vector<Record> answer_with_retries(const ChatGenerator& generator, const std::vector<std::vector<ChatMessage>>& conversations,
                                        const ChatGeneration& greedy, int64_t retries, uint64_t seed) {
  std::vector<Record> records(conversations.size());
  std::vector<size_t> pending(conversations.size());
  std::iota(pending.begin(), pending.end(), 0);
  for (int64_t attempt = 0; attempt <= retries && !pending.empty(); ++attempt) {
    std::vector<std::vector<ChatMessage>> asks;
    for (size_t p : pending) {
      std::vector<ChatMessage> conversation = conversations[p];
      if (attempt == 1) {  // a stricter follow-up turn after the invalid answer
        conversation.push_back({"assistant", records[p].raw});
        conversation.push_back({"user", kStricterTurn});
      }
      asks.push_back(std::move(conversation));
    }
    ChatGeneration options = greedy;
    if (attempt >= 2) {  // then sampling, seeded per chunk and attempt (the same on any rank)
      options.do_sample = true;
      options.temperature = 0.7;
      options.seed = seed + static_cast<uint64_t>(attempt);
    }
    const std::vector<std::string> replies = generator.reply(asks, options);
    std::vector<size_t> still;
    for (size_t j = 0; j < pending.size(); ++j) {
      Record& record = records[pending[j]];
      const ParsedTid parsed = parse_tid_answer(replies[j]);
      if (attempt == 0 || parsed.valid) {
        record.raw = replies[j];
        record.words = parsed.words;
        record.valid = parsed.valid;
      }
      record.attempts = static_cast<int>(attempt + 1);
      if (!parsed.valid) still.push_back(pending[j]);
    }
    pending = std::move(still);
  }
  return records;
}

std::vector<Record> llm_records(RunContext& context, const StageRun& run, const Dataset& data, const SimilarLists& similar,
                                int64_t shown, const std::string& model_folder, Json& notes) {
  const Config& config = context.config;
  RunStore& store = context.store;
  const uint64_t items = data.items.size();
  const std::string template_text = prompt_template(config);
  const auto generator = ChatGenerator::load(model_folder, context.device, config.get_string("extract.dtype"));
  ChatGeneration greedy;
  greedy.max_new_tokens = config.get_int("extract.max_new_tokens");
  greedy.batch_size = config.get_int("extract.batch_size");
  const int64_t retries = config.get_int("extract.retries");

  const std::function<std::string(uint64_t)> prompt_of = [&](uint64_t i) {
    const CatalogItem& item = data.catalog->items[i];
    std::vector<ContextItem> shown_items;
    const auto neighbours = neighbours_of(similar, i, shown);
    for (size_t j = 0; j < neighbours.size(); ++j) {
      const uint64_t n = static_cast<uint64_t>(neighbours[j]);
      shown_items.push_back({data.items.id(static_cast<ItemIndex>(n)),
                             similar.scores[i * static_cast<uint64_t>(similar.k) + j], data.catalog->items[n].title,
                             data.catalog->items[n].description});
    }
    return render_extract_prompt(template_text, item.title, item.description, shown_items);
  };

  const std::string records_path = "/" + run.name + "/_records";
  if (!store.exists(records_path)) store.create_dataset(records_path, {items, kRecordBytes}, DType::UInt8);
  ChunkedWork work(context.runtime, store, run.name, items, static_cast<uint64_t>(config.get_int("extract.chunk_items")));
  const auto answer_chunk = [&](const std::optional<WorkChunk>& next) {
    const WorkChunk& chunk = *next;  // a work queue hands out chunks only
    std::vector<std::vector<ChatMessage>> conversations;
    for (uint64_t i = chunk.first; i < chunk.first + chunk.count; ++i) conversations.push_back({{"user", prompt_of(i)}});
    const uint64_t seed = static_cast<uint64_t>(config.get_int("seed")) * 1000003u + chunk.first * 31u;
    const std::vector<Record> records = answer_with_retries(*generator, conversations, greedy, retries, seed);
    std::vector<uint8_t> bytes;
    for (const Record& record : records) {
      const std::vector<uint8_t> encoded = encode_record(record);
      bytes.insert(bytes.end(), encoded.begin(), encoded.end());
    }
    store.write_rows_independent(records_path, chunk.first, chunk.count, bytes.data(), DType::UInt8);
  };
  // Chunks go to whichever rank asks next (a rank with short prompts takes more); each chunk's
  // records, then its done flag, are written by that rank alone.
  work.run(Dealing::work_queue(), {"extract", "items", config.get_number("log.progress_interval_s")}, answer_chunk);
  const std::vector<uint8_t> all = store.read_all<uint8_t>(records_path);
  std::vector<Record> records;
  for (uint64_t i = 0; i < items; ++i) records.push_back(decode_record(all.data() + i * kRecordBytes));
  if (config.get_bool("extract.resolve_collisions")) {
    const uint64_t before = resolve_collisions(context, records, prompt_of, *generator, greedy);
    notes["collision_rate_before_resolution"] = items ? static_cast<double>(before) / static_cast<double>(items) : 0.0;
  }
  if (context.runtime.rank() != 0) records.clear();
  return records;
}

// ---------------------------------------------------------------- report and exports

Json make_report(const Dataset& data, const std::vector<Record>& records, const SimilarLists& similar, int64_t shown) {
  const uint64_t items = records.size();
  uint64_t valid = 0;
  uint64_t collisions = 0;
  std::set<std::vector<std::string>> seen;
  std::map<std::string, uint64_t> overall;
  std::vector<std::map<std::string, uint64_t>> per_position(5);
  std::map<int, uint64_t> attempts;
  Json invalid = Json::array();
  double shared_words = 0;
  for (uint64_t i = 0; i < items; ++i) {
    const Record& record = records[i];
    ++attempts[record.attempts];
    if (!record.valid) {
      invalid.push_back(data.items.id(static_cast<ItemIndex>(i)));
      continue;
    }
    ++valid;
    if (!seen.insert(record.words).second) ++collisions;
    for (size_t p = 0; p < 5; ++p) {
      ++overall[record.words[p]];
      ++per_position[p][record.words[p]];
    }
    std::set<std::string> neighbour_words;
    for (int64_t n : neighbours_of(similar, i, shown)) {
      const Record& other = records[static_cast<size_t>(n)];
      if (other.valid) neighbour_words.insert(other.words.begin(), other.words.end());
    }
    shared_words += static_cast<double>(std::count_if(record.words.begin(), record.words.end(),
                                                      [&](const std::string& w) { return neighbour_words.count(w) > 0; }));
  }
  const auto top = [](const std::map<std::string, uint64_t>& counts, size_t n) {
    std::vector<std::pair<uint64_t, std::string>> sorted;
    for (const auto& [word, count] : counts) sorted.emplace_back(count, word);
    std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });
    Json list = Json::array();
    for (size_t i = 0; i < std::min(n, sorted.size()); ++i) list.push_back({sorted[i].second, sorted[i].first});
    return list;
  };
  Json positions = Json::array();
  for (const auto& counts : per_position) positions.push_back(top(counts, 10));
  Json attempt_counts = Json::object();
  for (const auto& [count, n] : attempts) attempt_counts[std::to_string(count)] = n;
  return {{"items", items},
          {"valid", valid},
          {"validity_rate", items ? static_cast<double>(valid) / static_cast<double>(items) : 0.0},
          {"invalid_item_ids", invalid},
          {"vocabulary_size", overall.size()},
          {"distinct_tids", seen.size()},
          {"collisions", collisions},
          {"collision_rate", items ? static_cast<double>(collisions) / static_cast<double>(items) : 0.0},
          {"mean_words_shared_with_similar_items", valid ? shared_words / static_cast<double>(valid) : 0.0},
          {"top_words", top(overall, 20)},
          {"top_words_per_position", positions},
          {"attempts", attempt_counts}};
}

void write_json_file(const std::filesystem::path& file, const Json& json) {
  std::filesystem::create_directories(file.parent_path());
  std::ofstream out(file, std::ios::trunc);
  out << json.dump(2, ' ', false, Json::error_handler_t::replace) << "\n";
  out.close();  // a full disk shows when the buffer is written out
  if (!out) throw Error(cat("cannot write ", file.string(), ": ", std::strerror(errno)));
}

// The reference's exports for users: item_id2tid.json (artifacts::extracted_tids_file) and
// tid2item_id.json beside it.
void export_tids(const Dataset& data, const std::vector<Record>& records, const std::filesystem::path& item_to_tid_file) {
  Json item_to_tid = Json::object();
  Json tid_to_items = Json::object();
  for (size_t i = 0; i < records.size(); ++i) {
    if (!records[i].valid) continue;
    const std::string& id = data.items.id(static_cast<ItemIndex>(i));
    item_to_tid[id] = records[i].words;
    std::string key;
    for (size_t p = 0; p < 5; ++p) key += (p ? "," : "") + records[i].words[p];
    tid_to_items[key].push_back(id);
  }
  write_json_file(item_to_tid_file, item_to_tid);
  write_json_file(item_to_tid_file.parent_path() / "tid2item_id.json", tid_to_items);
}

}  // namespace

void run_extract(RunContext& context, const StageRun& run) {
  const Config& config = context.config;
  const Dataset& data = load_dataset_once(config);
  if (!data.catalog) throw UsageError("stage extract needs data.catalog (the item texts)");
  const uint64_t items = data.items.size();
  const SimilarLists similar = read_similar(context.store, items);
  const int64_t shown = config.get_int("extract.context");
  std::vector<Record> records;
  std::string extractor;
  Json notes = Json::object();
  if (const auto model = config.get_optional_string("extract.model")) {
    records = llm_records(context, run, data, similar, shown, *model, notes);
    extractor = "checkpoint " + *model;
  } else {
    records = builtin_records(context, data, similar, shown);
    extractor = "built-in keyword extractor";
  }
  // Rank 0 holds every record now; the outputs follow.
  Json report;
  std::vector<std::string> tids, raws;
  std::vector<uint8_t> valid;
  std::vector<int32_t> attempts;
  if (context.runtime.is_root()) {
    report = make_report(data, records, similar, shown);
    report["extractor"] = extractor;
    report.update(notes);
    for (const Record& record : records) {
      tids.push_back(record.valid ? format_tid(record.words) : "");
      raws.push_back(record.raw);
      valid.push_back(record.valid ? 1 : 0);
      attempts.push_back(record.attempts);
    }
    const std::filesystem::path folder = artifacts::extract_dir(config);
    export_tids(data, records, artifacts::extracted_tids_file(config));
    write_json_file(folder / "report.json", report);
  }
  RunStore& store = context.store;
  const std::string group = "/" + run.name;
  for (const char* name : {"/item_ids", "/tids", "/raw", "/valid", "/attempts"}) store.remove_if_exists(group + name);
  store.write_strings(group + "/item_ids", context.runtime.is_root() ? data.items.ids() : std::vector<std::string>{});
  store.write_strings(group + "/tids", tids);
  store.write_strings(group + "/raw", raws);
  store.create_dataset(group + "/valid", {items}, DType::UInt8);
  store.create_dataset(group + "/attempts", {items}, DType::Int32);
  const uint64_t mine = context.runtime.is_root() ? items : 0;
  store.write_rows(group + "/valid", 0, mine, valid.data());
  store.write_rows(group + "/attempts", 0, mine, attempts.data());
  const std::string report_text = broadcast_bytes(context.runtime.world(), report.dump(), 0);
  store.set_attributes(group, {{"report", report_text}, {"extractor", extractor}});
  const Json summary = Json::parse(report_text);
  log::info("extract: ", summary["valid"], " of ", items, " items valid (", summary["validity_rate"], "), ",
            summary["distinct_tids"], " distinct TIDs, collision rate ", summary["collision_rate"], ", vocabulary ",
            summary["vocabulary_size"], "; report and item_id2tid.json in ", artifacts::extract_dir(config).string());
  if (!summary["invalid_item_ids"].empty()) {
    log::warn("extract: ", summary["invalid_item_ids"].size(), " items stayed invalid after retries (listed in report.json)");
  }
}

}  // namespace grlm
