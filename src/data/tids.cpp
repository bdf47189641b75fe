#include <algorithm>

#include "grlm/core/error.hpp"
#include "grlm/data/dataset.hpp"
#include "grlm/data/text_file.hpp"

namespace grlm {

TidTable load_tids(const std::filesystem::path& file, ItemTable& items, bool closed_items) {
  TidTable table;
  for_each_json_entry(file, "TID file", [&](const std::string& id, nlohmann::json& words) {
    const std::string where = cat("TID file ", file.string(), ": item \"", id, "\"");
    if (!words.is_array() || words.size() != 5 ||
        !std::all_of(words.begin(), words.end(), [](const auto& word) { return word.is_string(); })) {
      throw InputError(cat(where, ": expected a list of 5 strings, got ", words.dump()));
    }
    Tid tid;
    for (size_t i = 0; i < 5; ++i) {
      tid[i] = words[i].get<std::string>();
      if (const std::optional<std::string> problem = tid_word_problem(tid[i])) {
        throw InputError(cat(where, ": word ", i + 1, " ", nlohmann::json(tid[i]).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                             ": ", *problem));
      }
    }
    ItemIndex row;
    if (closed_items) {
      const std::optional<ItemIndex> known = items.find(id);
      if (!known) throw InputError(cat(where, ": not an item of the catalog"));
      row = *known;
    } else {
      row = items.intern(id);
    }
    fit_tids_to_items(table, items);
    table.tids[row] = std::move(tid);
    table.has[row] = 1;
  });
  fit_tids_to_items(table, items);
  return table;
}

}  // namespace grlm
