#include "grlm/data/domains.hpp"

#include <algorithm>
#include <fstream>
#include <optional>
#include <set>

#include <nlohmann/json.hpp>

#include "grlm/core/error.hpp"
#include "grlm/data/dataset.hpp"

namespace grlm {
namespace {

using Json = nlohmann::json;

void check_name(const std::string& name, const std::string& spec) {
  const bool ok = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
  if (!ok) throw UsageError(cat("--domain ", spec, ": the name must be letters, digits, '-' or '_'"));
}

std::ofstream open_output(const std::filesystem::path& file) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  if (!out) throw Error(cat("cannot write ", file.string()));
  return out;
}

}  // namespace

DomainFiles parse_domain_spec(const std::string& spec) {
  const size_t equals = spec.find('=');
  if (equals == std::string::npos) throw UsageError(cat("--domain ", spec, ": expected NAME=CATALOG,INTERACTIONS[,TIDS]"));
  DomainFiles domain;
  domain.name = spec.substr(0, equals);
  check_name(domain.name, spec);
  std::vector<std::string> parts;
  std::string rest = spec.substr(equals + 1);
  size_t start = 0;
  while (true) {
    const size_t comma = rest.find(',', start);
    parts.push_back(rest.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (parts.size() < 2 || parts.size() > 3 || parts[1].empty()) {
    throw UsageError(cat("--domain ", spec, ": expected NAME=CATALOG,INTERACTIONS[,TIDS] (CATALOG may be empty)"));
  }
  domain.catalog = parts[0];
  domain.interactions = parts[1];
  if (parts.size() == 3) domain.tids = parts[2];
  return domain;
}

std::string domain_of(const std::string& id) {
  const size_t colon = id.find(':');
  return colon == std::string::npos ? std::string() : id.substr(0, colon);
}

MergeSummary merge_domains(const std::vector<DomainFiles>& domains, const std::filesystem::path& out_dir) {
  if (domains.size() < 2) throw UsageError("merge-domains needs at least two --domain");
  std::set<std::string> names;
  for (const DomainFiles& domain : domains) {
    if (!names.insert(domain.name).second) throw UsageError(cat("domain '", domain.name, "' is given twice"));
  }
  const bool any_catalog = std::any_of(domains.begin(), domains.end(), [](const DomainFiles& d) { return !d.catalog.empty(); });
  const bool all_tids = std::all_of(domains.begin(), domains.end(), [](const DomainFiles& d) { return !d.tids.empty(); });
  std::filesystem::create_directories(out_dir);
  MergeSummary summary;
  summary.has_catalog = any_catalog;
  summary.has_tids = all_tids;
  std::ofstream catalog_out;
  if (any_catalog) catalog_out = open_output(out_dir / "catalog.json");
  std::ofstream interactions_out = open_output(out_dir / "interactions.txt");
  Json tids_out = Json::object();
  Json domain_table = Json::object();
  bool first_item = true;
  if (any_catalog) catalog_out << "{";
  for (const DomainFiles& domain : domains) {
    ItemTable items;
    std::optional<Catalog> catalog;
    if (!domain.catalog.empty()) catalog = load_catalog(domain.catalog, items);
    const Interactions interactions = load_interactions(domain.interactions, items, catalog.has_value());
    std::optional<TidTable> tids;
    if (!domain.tids.empty()) tids = load_tids(domain.tids, items, true);
    const std::string prefix = domain.name + ":";
    if (any_catalog) {
      // Items of a domain without a catalog still need an entry: they are the item universe.
      for (size_t i = 0; i < items.size(); ++i) {
        Json entry = Json::object();
        if (catalog && i < catalog->items.size()) {
          const CatalogItem& item = catalog->items[i];
          if (item.extra.is_object()) entry = item.extra;
          if (!item.title.empty()) entry["title"] = item.title;
          if (!item.description.empty()) entry["description"] = item.description;
          if (!item.categories.empty()) entry["categories"] = item.categories;
        }
        catalog_out << (first_item ? "\n" : ",\n") << Json(prefix + items.id(static_cast<ItemIndex>(i))).dump() << ": "
                    << entry.dump(-1, ' ', false, Json::error_handler_t::replace);
        first_item = false;
      }
    }
    for (size_t user = 0; user < interactions.num_users(); ++user) {
      interactions_out << prefix << interactions.user_ids[user];
      for (uint64_t k = interactions.offsets[user]; k < interactions.offsets[user + 1]; ++k) {
        interactions_out << ' ' << prefix << items.id(interactions.items[k]);
      }
      interactions_out << '\n';
    }
    if (tids) {
      for (size_t i = 0; i < tids->tids.size(); ++i) {
        if (i < tids->has.size() && tids->has[i]) tids_out[prefix + items.id(static_cast<ItemIndex>(i))] = tids->tids[i];
      }
    }
    domain_table[domain.name] = {{"catalog", domain.catalog.string()}, {"interactions", domain.interactions.string()},
                                 {"tids", domain.tids.string()}, {"items", items.size()}, {"users", interactions.num_users()},
                                 {"interactions_count", interactions.items.size()}};
    summary.items += items.size();
    summary.users += interactions.num_users();
    summary.interactions += interactions.items.size();
  }
  if (any_catalog) {
    catalog_out << "\n}\n";
    if (!catalog_out) throw Error(cat("error while writing ", (out_dir / "catalog.json").string()));
  }
  if (!interactions_out) throw Error(cat("error while writing ", (out_dir / "interactions.txt").string()));
  if (all_tids) open_output(out_dir / "item_id2tid.json") << tids_out.dump(1) << "\n";
  open_output(out_dir / "domains.json") << domain_table.dump(2) << "\n";
  return summary;
}

}  // namespace grlm
