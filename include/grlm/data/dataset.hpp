// In-memory forms of the spec's input files and their loaders. Every loader error names the file
// and the line or item id at fault (InputError).
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

namespace grlm {

class Config;

using ItemIndex = uint32_t;  // row of an item in the dataset's item table

// Item ids in a fixed order (the catalog's, else first appearance) and their rows.
class ItemTable {
 public:
  // Adds the id when new; returns its row either way.
  ItemIndex intern(const std::string& id);
  std::optional<ItemIndex> find(std::string_view id) const;
  const std::string& id(ItemIndex index) const { return ids_[index]; }
  const std::vector<std::string>& ids() const { return ids_; }
  size_t size() const { return ids_.size(); }

 private:
  // Looks ids up by string_view, so the loaders never build a std::string per token.
  struct IdHash {
    using is_transparent = void;
    size_t operator()(std::string_view id) const { return std::hash<std::string_view>{}(id); }
  };
  std::vector<std::string> ids_;
  std::unordered_map<std::string, ItemIndex, IdHash, std::equal_to<>> rows_;
};

struct CatalogItem {
  std::string title;        // empty when absent
  std::string description;  // empty when absent
  std::string categories;   // "A > B > C"; a list of paths is joined with " | "
  nlohmann::json extra;     // other fields, kept as given (null when there are none)
};

// Catalog rows follow the item table: catalog.items[i] describes items.id(i).
struct Catalog {
  std::vector<CatalogItem> items;
};

// One line per user, items in time order, as rows of the item table.
struct Interactions {
  std::vector<std::string> user_ids;
  std::vector<uint64_t> offsets{0};  // user u's items are items[offsets[u] .. offsets[u+1])
  std::vector<ItemIndex> items;
  size_t num_users() const { return user_ids.size(); }
};

using Tid = std::array<std::string, 5>;

// The characters the Term-ID parser (GRLM-SPEC stage 3, compat) strips from a word's ends, after
// whitespace: quotes, brackets and sentence punctuation.
inline constexpr std::string_view kTidStrippedCharacters = "\"'`[](){}<>*.;:!?";

// `word` without what the compat parser trims from its ends: ASCII whitespace and
// kTidStrippedCharacters, in any order.
std::string_view tid_word_trimmed(std::string_view word);

// Why `word` cannot be a TID word, or nullopt when it can. A TID is written "[w1, w2, w3, w4, w5]"
// and read back by the compat parser, so a word may hold anything (digits, ':' '.' '-' '/' '\'',
// other scripts, emoji, inner spaces) except the line's delimiters ([ ] ,) and control characters,
// and must not be empty once the parser has trimmed it.
std::optional<std::string> tid_word_problem(std::string_view word);

// Item -> TID, by item row; has[i] is false for items the file does not list.
struct TidTable {
  std::vector<Tid> tids;
  std::vector<uint8_t> has;
};

// Collaborative neighbours: per anchor row, its neighbours' rows (nearest first).
struct Neighbours {
  size_t width = 0;  // neighbours per anchor, from the header ("top1 ... topN")
  std::unordered_map<ItemIndex, std::vector<ItemIndex>> by_anchor;
};

// --- loaders (the item table grows with ids that are new to it, except where noted)
Catalog load_catalog(const std::filesystem::path& file, ItemTable& items);
// With `closed_items`, an id not already in `items` is an error (the catalog is the item universe).
Interactions load_interactions(const std::filesystem::path& file, ItemTable& items, bool closed_items);
TidTable load_tids(const std::filesystem::path& file, ItemTable& items, bool closed_items);
// Neighbour ids must be known items.
Neighbours load_neighbours(const std::filesystem::path& file, const ItemTable& items);

// Everything the config's data.* keys name, cross-checked.
struct Dataset {
  ItemTable items;
  std::optional<Catalog> catalog;
  Interactions interactions;
  std::optional<TidTable> tids;
  std::optional<Neighbours> neighbours;
};

// Loads data.catalog (optional), data.interactions (required), data.tids and data.neighbours
// (optional). With a catalog, every id elsewhere must be a catalog item.
Dataset load_dataset(const Config& config);

// The same, loaded once per process for the same data.* settings: the input check at the start
// of `grlm run` and the stages share one copy.
const Dataset& load_dataset_once(const Config& config);
// That shared copy with its TIDs read from `tids_file` (items outside the item table refused),
// replacing any it had: extract's export when data.tids is unset, without copying the rest.
const Dataset& load_dataset_once_with_tids(const Config& config, const std::filesystem::path& tids_file);
// The same with a TID table already built (rows of the shared copy's item table).
const Dataset& load_dataset_once_with_tids(const Config& config, TidTable tids);

// Pads a TID table to the item table's size after items were added.
void fit_tids_to_items(TidTable& tids, const ItemTable& items);

}  // namespace grlm
