#include <unordered_map>

#include "grlm/core/error.hpp"
#include "grlm/data/dataset.hpp"
#include "grlm/data/text_file.hpp"

namespace grlm {
namespace {

template <class OnField>
void for_each_field(std::string_view line, OnField&& on_field) {
  size_t position = 0;
  while (position < line.size()) {
    while (position < line.size() && (line[position] == ' ' || line[position] == '\t')) ++position;
    const size_t start = position;
    while (position < line.size() && line[position] != ' ' && line[position] != '\t') ++position;
    if (position > start) on_field(line.substr(start, position - start));
  }
}

}  // namespace

Interactions load_interactions(const std::filesystem::path& file, ItemTable& items, bool closed_items) {
  const std::string text = read_file_bytes(file);
  Interactions interactions;
  std::unordered_map<std::string, size_t> line_of_user;
  interactions.items.reserve(text.size() / 6);
  for_each_line(without_trailing_blank_lines(text), [&](size_t line_number, std::string_view line) {
    auto where = [&] { return cat("interactions ", file.string(), ": line ", line_number); };
    if (const auto bad = find_invalid_utf8(line)) {
      throw InputError(cat(where(), ", column ", *bad + 1, ": invalid UTF-8 byte sequence"));
    }
    bool is_user_field = true;
    std::string user;
    for_each_field(line, [&](std::string_view field) {
      if (is_user_field) {
        user.assign(field);
        is_user_field = false;
        return;
      }
      if (const std::optional<ItemIndex> row = items.find(field)) {
        interactions.items.push_back(*row);
      } else if (closed_items) {
        throw InputError(cat(where(), ": user \"", user, "\": item id \"", field, "\" is not in the catalog"));
      } else {
        interactions.items.push_back(items.intern(std::string(field)));
      }
    });
    if (is_user_field) throw InputError(cat(where(), ": empty line (expected 'user_id item_id item_id ...')"));
    if (interactions.items.size() == interactions.offsets.back()) {
      throw InputError(cat(where(), ": user \"", user, "\" has no items"));
    }
    const auto [earlier, inserted] = line_of_user.try_emplace(user, line_number);
    if (!inserted) {
      throw InputError(cat(where(), ": user \"", user, "\" appears again (first on line ", earlier->second, ")"));
    }
    interactions.user_ids.push_back(std::move(user));
    interactions.offsets.push_back(interactions.items.size());
  });
  if (interactions.user_ids.empty()) throw InputError(cat("interactions ", file.string(), ": no users"));
  return interactions;
}

}  // namespace grlm
