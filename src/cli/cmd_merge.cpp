// grlm merge-domains: several datasets into one cross-domain dataset with namespaced ids.
#include "commands.hpp"
#include "grlm/core/log.hpp"
#include "grlm/data/domains.hpp"

namespace grlm::cli {

Command merge_domains_command() {
  Command command;
  command.name = "merge-domains";
  command.group = "tool";
  command.summary = "merge datasets of several domains into one, ids namespaced by domain (cross-domain runs)";
  command.usage = "--domain NAME=CATALOG,INTERACTIONS[,TIDS] --domain ... --out DIR";
  command.options = [] {
    po::options_description options("Merge-domains options");
    options.add_options()
        ("domain", po::value<std::vector<std::string>>()->composing()->required(),
         "NAME=CATALOG,INTERACTIONS[,TIDS], repeatable (CATALOG may be empty); ids become NAME:id")
        ("out,o", po::value<std::string>()->required(),
         "output folder: catalog.json, interactions.txt, item_id2tid.json (when every domain has TIDs), domains.json");
    return options;
  };
  command.run = [](Runtime& runtime, const po::variables_map& values) {
    std::vector<DomainFiles> domains;
    for (const std::string& spec : values["domain"].as<std::vector<std::string>>()) domains.push_back(parse_domain_spec(spec));
    if (runtime.is_root()) {
      const MergeSummary summary = merge_domains(domains, values["out"].as<std::string>());
      log::info("merge-domains: ", domains.size(), " domains, ", summary.items, " items, ", summary.users, " users, ",
                summary.interactions, " interactions", summary.has_tids ? ", TIDs merged" : "", " -> ",
                values["out"].as<std::string>());
    }
    runtime.world().barrier();
    return 0;
  };
  return command;
}

}  // namespace grlm::cli
