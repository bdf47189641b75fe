// Cross-domain runs (GRLM-SPEC.md: "train on a catalog and interactions merged from two
// domains"): several datasets merged into one, every item and user id namespaced by its domain
// ("beauty:B0001"), so ids never clash and evaluation can report per domain.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace grlm {

struct DomainFiles {
  std::string name;  // the id prefix: letters, digits, '-' and '_'
  std::filesystem::path catalog;       // may be empty
  std::filesystem::path interactions;  // required
  std::filesystem::path tids;          // may be empty
};

// "NAME=CATALOG,INTERACTIONS[,TIDS]" (an empty CATALOG is allowed: "games=,inter.txt").
DomainFiles parse_domain_spec(const std::string& spec);

struct MergeSummary {
  uint64_t items = 0;
  uint64_t users = 0;
  uint64_t interactions = 0;
  bool has_catalog = false;
  bool has_tids = false;
};

// Writes DIR/catalog.json (when any domain has one), DIR/interactions.txt, DIR/item_id2tid.json
// (when every domain has TIDs) and DIR/domains.json (per domain: files and counts). Each
// domain's files are read and checked by the usual loaders first.
MergeSummary merge_domains(const std::vector<DomainFiles>& domains, const std::filesystem::path& out_dir);

// The domain of a namespaced id ("beauty:B0001" -> "beauty"); empty when it has no prefix.
std::string domain_of(const std::string& id);

}  // namespace grlm
