// Stage "similar" (GRLM-SPEC.md stage 2): for every item the k most similar other items by
// cosine similarity, exact, from /embed/vectors; each rank owns a block of rows and the blocks
// circulate in a ring (see grlm/model/similarity.hpp). Also runs alone on a user's vectors:
// grlm similar --vectors FILE.h5:/DATASET --k K --output OUT.h5.
#include <cerrno>
#include <cstring>
#include <chrono>
#include <fstream>

#include <nlohmann/json.hpp>

#include "grlm/core/error.hpp"
#include "grlm/core/log.hpp"
#include "grlm/stages/artifacts.hpp"
#include "grlm/stages/stages.hpp"
#include "grlm/model/similarity.hpp"

namespace grlm {
namespace {

// k clamped to the rows there are; one row has no neighbours at all.
int64_t usable_k(int64_t k, uint64_t rows, const std::string& source) {
  if (rows < 2) throw InputError(cat(source, ": ", rows, " row(s): similarity search needs at least 2"));
  if (k < 1) throw UsageError(cat("k must be at least 1, got ", k));
  if (static_cast<uint64_t>(k) >= rows) {
    log::warn("similar: k = ", k, " but only ", rows, " rows: using k = ", rows - 1);
    return static_cast<int64_t>(rows - 1);
  }
  return k;
}

struct SearchResult {
  RowBlock block;
  NeighbourLists lists;
};

// Reads this rank's block of `dataset` (N x D, float32 in memory), checks and normalises the rows,
// and runs the ring search. `describe` names the row in errors (e.g. with its item id).
SearchResult search(Runtime& runtime, RunStore& input, const std::string& dataset, int64_t k, const std::string& dtype,
                    const Device& device, const std::string& source) {
  const std::vector<uint64_t> dims = input.dims(dataset);
  if (dims.size() != 2) throw InputError(cat(source, ": ", dataset, " must be 2-dimensional (rows x dimensions)"));
  const int64_t dim = static_cast<int64_t>(dims[1]);
  SearchResult result;
  result.block = row_block(static_cast<int64_t>(dims[0]), runtime.world_size(), runtime.rank());
  SimilarityOptions options;
  options.k = usable_k(k, dims[0], source);
  options.dtype = dtype;
  options.cuda_device = device.is_cuda() ? device.index : -1;
  std::vector<float> rows(static_cast<size_t>(result.block.count * dim));
  input.read_rows(dataset, static_cast<uint64_t>(result.block.first), static_cast<uint64_t>(result.block.count), rows.data(),
                  DType::Float32);
  std::string problem;
  try {
    normalize_rows(rows, dim, result.block.first, source + ":" + dataset);
  } catch (const InputError& error) {
    problem = error.what();
  }
  // A bad row sits in one rank's block: every rank learns of it and stops together.
  for (const std::string& message : all_gather_bytes(runtime.world(), problem)) {
    if (!message.empty()) throw CollectiveFailure(message);
  }
  const auto start = std::chrono::steady_clock::now();
  result.lists = ring_top_k(runtime.world(), rows, dim, options);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  log::info("similar: ring search over ", dims[0], " x ", dim, " on ", runtime.world_size(), device.is_cuda() ? " GPU(s)" : " CPU rank(s)",
            " took ", seconds, " s");
  return result;
}

void write_lists(RunStore& store, const std::string& group, uint64_t total_rows, const SearchResult& result) {
  const uint64_t k = static_cast<uint64_t>(result.lists.k);
  store.create_dataset(group + "/ids", {total_rows, k}, DType::Int64);
  store.create_dataset(group + "/scores", {total_rows, k}, DType::Float32);
  store.write_rows(group + "/ids", static_cast<uint64_t>(result.block.first), static_cast<uint64_t>(result.block.count),
                   result.lists.ids.data());
  store.write_rows(group + "/scores", static_cast<uint64_t>(result.block.first), static_cast<uint64_t>(result.block.count),
                   result.lists.scores.data());
}

// The reference's form: {item_id: [{"item_id": ..., "similarity": ...}, ...]}, written by rank 0.
void write_reference_json(RunStore& store, const std::string& group, const std::filesystem::path& file) {
  const std::vector<std::string> ids = store.read_strings(artifacts::kEmbedItemIds);
  const std::vector<int64_t> neighbours = store.read_all<int64_t>(group + "/ids");
  const std::vector<float> scores = store.read_all<float>(group + "/scores");
  if (store.rank() != 0) return;
  const size_t k = ids.empty() ? 0 : neighbours.size() / ids.size();
  std::filesystem::create_directories(file.parent_path());
  std::ofstream out(file, std::ios::trunc);
  out << "{";
  for (size_t row = 0; row < ids.size(); ++row) {
    nlohmann::json list = nlohmann::json::array();
    for (size_t j = 0; j < k; ++j) {
      list.push_back({{"item_id", ids[static_cast<size_t>(neighbours[row * k + j])]}, {"similarity", scores[row * k + j]}});
    }
    out << (row ? ",\n" : "\n") << nlohmann::json(ids[row]).dump() << ": " << list.dump();
  }
  out << "\n}\n";
  out.close();  // a full disk shows when the buffer is written out
  if (!out) throw Error(cat("cannot write ", file.string(), ": ", std::strerror(errno)));
}

}  // namespace

void run_similar(RunContext& context, const StageRun& run) {
  const Config& config = context.config;
  const SearchResult result = search(context.runtime, context.store, artifacts::kEmbedVectors, config.get_int("similar.k"),
                                     config.get_string("similar.dtype"), context.device, context.store.file_path().string());
  const std::string group = "/" + run.name;
  const uint64_t rows = context.store.dims(artifacts::kEmbedVectors)[0];
  write_lists(context.store, group, rows, result);
  context.store.set_attributes(group, {{"k", std::to_string(result.lists.k)}, {"dtype", config.get_string("similar.dtype")}});
  if (config.get_bool("similar.json")) {
    const std::filesystem::path file = artifacts::similar_json_file(config);
    write_reference_json(context.store, group, file);
    log::info("similar: wrote ", file.string());
  }
  log::info("similar: top-", result.lists.k, " neighbours of ", rows, " items");
}

int run_similar_standalone(Runtime& runtime, const SimilarStandaloneOptions& options) {
  const size_t colon = options.vectors.rfind(":/");
  if (colon == std::string::npos) throw UsageError(cat("--vectors must be FILE.h5:/DATASET, got '", options.vectors, "'"));
  const std::string file = options.vectors.substr(0, colon);
  const std::string dataset = options.vectors.substr(colon + 1);
  SearchResult result;
  uint64_t rows = 0;
  {
    RunStore input(runtime, file, RunStore::FileMode::ReadOnly);
    if (!input.exists(dataset)) throw CollectiveFailure(cat(file, ": no dataset ", dataset));
    rows = input.dims(dataset).empty() ? 0 : input.dims(dataset)[0];
    result = search(runtime, input, dataset, options.k, options.dtype, select_device(options.device, runtime.info()), file);
  }
  RunStore output(runtime, options.output, RunStore::FileMode::Truncate);
  write_lists(output, "", rows, result);
  output.flush();
  log::info("similar: top-", result.lists.k, " neighbours of ", rows, " rows written to ", options.output, " (ids, scores)");
  return 0;
}

}  // namespace grlm
