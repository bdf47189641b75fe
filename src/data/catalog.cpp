#include <algorithm>

#include "grlm/core/error.hpp"
#include "grlm/data/dataset.hpp"
#include "grlm/data/text_file.hpp"

namespace grlm {
namespace {

using Json = nlohmann::json;

std::string optional_text(const Json& item, const char* field, const std::string& where) {
  const auto found = item.find(field);
  if (found == item.end() || found->is_null()) return {};
  if (!found->is_string()) {
    throw InputError(cat(where, ": field '", field, "' must be a string, got ", found->dump()));
  }
  return found->get<std::string>();
}

// "Beauty > Hair Care", or Amazon's list of paths [["Beauty", "Hair Care"], ...].
std::string categories_text(const Json& item, const std::string& where) {
  const auto found = item.find("categories");
  if (found == item.end() || found->is_null()) return {};
  if (found->is_string()) return found->get<std::string>();
  auto bad = [&]() {
    return InputError(cat(where, ": field 'categories' must be a string, a list of strings or a list "
                          "of lists of strings, got ", found->dump()));
  };
  if (!found->is_array()) throw bad();
  auto join_path = [&](const Json& path) {
    std::string text;
    for (const Json& part : path) {
      if (!part.is_string()) throw bad();
      text += (text.empty() ? "" : " > ") + part.get<std::string>();
    }
    return text;
  };
  if (std::all_of(found->begin(), found->end(), [](const Json& part) { return part.is_string(); })) {
    return join_path(*found);
  }
  std::string text;
  for (const Json& path : *found) {
    if (!path.is_array()) throw bad();
    text += (text.empty() ? "" : " | ") + join_path(path);
  }
  return text;
}

}  // namespace

Catalog load_catalog(const std::filesystem::path& file, ItemTable& items) {
  Catalog catalog;
  for_each_json_entry(file, "catalog", [&](const std::string& id, Json& item) {
    const std::string where = cat("catalog ", file.string(), ": item \"", id, "\"");
    if (id.empty()) throw InputError(cat("catalog ", file.string(), ": an item id is empty"));
    if (!item.is_object()) throw InputError(cat(where, ": expected an object of fields, got ", item.dump()));
    CatalogItem entry;
    entry.title = optional_text(item, "title", where);
    entry.description = optional_text(item, "description", where);
    entry.categories = categories_text(item, where);
    for (auto& [field, value] : item.items()) {
      if (field != "title" && field != "description" && field != "categories") entry.extra[field] = std::move(value);
    }
    const ItemIndex row = items.intern(id);
    if (row != catalog.items.size()) {
      throw InputError(cat(where, ": the catalog must be loaded first, before other files add items"));
    }
    catalog.items.push_back(std::move(entry));
  });
  if (catalog.items.empty()) throw InputError(cat("catalog ", file.string(), ": no items"));
  return catalog;
}

}  // namespace grlm
