#include "grlm/data/dataset.hpp"

#include <memory>

#include "grlm/core/config.hpp"
#include "grlm/core/error.hpp"
#include "grlm/core/log.hpp"

namespace grlm {

ItemIndex ItemTable::intern(const std::string& id) {
  const auto [position, inserted] = rows_.try_emplace(id, static_cast<ItemIndex>(ids_.size()));
  if (inserted) ids_.push_back(id);
  return position->second;
}

std::optional<ItemIndex> ItemTable::find(std::string_view id) const {
  const auto position = rows_.find(id);
  if (position == rows_.end()) return std::nullopt;
  return position->second;
}

void fit_tids_to_items(TidTable& tids, const ItemTable& items) {
  tids.tids.resize(items.size());
  tids.has.resize(items.size(), 0);
}

Dataset load_dataset(const Config& config) {
  Dataset dataset;
  const std::optional<std::string> catalog_file = config.get_optional_string("data.catalog");
  const std::optional<std::string> interactions_file = config.get_optional_string("data.interactions");
  const std::optional<std::string> tids_file = config.get_optional_string("data.tids");
  const std::optional<std::string> neighbours_file = config.get_optional_string("data.neighbours");
  if (!interactions_file) {
    throw UsageError("config key 'data.interactions' must be set (a file of 'user_id item_id ...' lines)");
  }
  const bool closed = catalog_file.has_value();
  if (catalog_file) dataset.catalog = load_catalog(*catalog_file, dataset.items);
  if (tids_file) dataset.tids = load_tids(*tids_file, dataset.items, closed);
  dataset.interactions = load_interactions(*interactions_file, dataset.items, closed);
  if (dataset.tids) fit_tids_to_items(*dataset.tids, dataset.items);
  if (neighbours_file) dataset.neighbours = load_neighbours(*neighbours_file, dataset.items);
  log::info("data: ", dataset.items.size(), " items, ", dataset.interactions.num_users(), " users, ",
            dataset.interactions.items.size(), " interactions",
            dataset.catalog ? ", catalog" : ", no catalog", dataset.tids ? ", TIDs given" : "",
            dataset.neighbours ? ", neighbours given" : "");
  return dataset;
}

namespace {

Dataset& cached_dataset(const Config& config) {
  static std::string loaded_key;
  static std::unique_ptr<Dataset> loaded;
  const std::string key = config.select({"data"}).dump();
  if (!loaded || loaded_key != key) {
    loaded.reset();  // the old copy goes before the new one is read
    loaded = std::make_unique<Dataset>(load_dataset(config));
    loaded_key = key;
  }
  return *loaded;
}

}  // namespace

const Dataset& load_dataset_once(const Config& config) { return cached_dataset(config); }

const Dataset& load_dataset_once_with_tids(const Config& config, const std::filesystem::path& tids_file) {
  return load_dataset_once_with_tids(config, load_tids(tids_file, cached_dataset(config).items, /*closed_items=*/true));
}

const Dataset& load_dataset_once_with_tids(const Config& config, TidTable tids) {
  Dataset& dataset = cached_dataset(config);
  fit_tids_to_items(tids, dataset.items);
  dataset.tids = std::move(tids);
  return dataset;
}

}  // namespace grlm
