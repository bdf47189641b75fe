#include <sstream>

#include "grlm/core/error.hpp"
#include "grlm/data/dataset.hpp"
#include "grlm/data/text_file.hpp"

namespace grlm {
namespace {

std::vector<std::string> split_fields(std::string_view line) {
  std::vector<std::string> fields;
  std::istringstream stream{std::string(line)};
  for (std::string field; stream >> field;) fields.push_back(std::move(field));
  return fields;
}

}  // namespace

Neighbours load_neighbours(const std::filesystem::path& file, const ItemTable& items) {
  const std::string text = read_file_bytes(file);
  if (const auto bad = find_invalid_utf8(text)) {
    throw InputError(cat("neighbours ", file.string(), ": ", describe_position(text, *bad),
                         ": invalid UTF-8 byte sequence"));
  }
  std::istringstream lines{std::string(without_trailing_blank_lines(text))};
  std::string line;
  size_t line_number = 0;
  Neighbours neighbours;
  while (std::getline(lines, line)) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const std::string where = cat("neighbours ", file.string(), ": line ", line_number);
    const std::vector<std::string> fields = split_fields(line);
    if (line_number == 1) {
      if (fields.size() < 2 || fields[0] != "anchor") {
        throw InputError(cat(where, ": expected the header 'anchor top1 top2 ... topN'"));
      }
      neighbours.width = fields.size() - 1;
      continue;
    }
    if (fields.empty()) throw InputError(cat(where, ": empty line"));
    if (fields.size() != neighbours.width + 1) {
      throw InputError(cat(where, ": expected the anchor and ", neighbours.width, " neighbours, got ",
                           fields.size(), " fields"));
    }
    auto row_of = [&](const std::string& id) {
      const std::optional<ItemIndex> row = items.find(id);
      if (!row) throw InputError(cat(where, ": unknown item id \"", id, "\""));
      return *row;
    };
    const ItemIndex anchor = row_of(fields[0]);
    std::vector<ItemIndex> nearest;
    nearest.reserve(neighbours.width);
    for (size_t i = 1; i < fields.size(); ++i) nearest.push_back(row_of(fields[i]));
    if (!neighbours.by_anchor.emplace(anchor, std::move(nearest)).second) {
      throw InputError(cat(where, ": anchor \"", fields[0], "\" appears twice"));
    }
  }
  if (line_number == 0) throw InputError(cat("neighbours ", file.string(), ": empty file"));
  return neighbours;
}

}  // namespace grlm
