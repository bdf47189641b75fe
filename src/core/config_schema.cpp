// Every config key grlm reads, with its type, default and one line of help. Keys of stages that
// are not built yet are added with those stages. docs/CONFIG.md lists the same keys.
#include "grlm/core/config.hpp"

namespace grlm {

const ConfigSchema& grlm_config_schema() {
  using nlohmann::json;
  static const ConfigSchema schema = {
      {"run_dir", ValueType::String, "run",
       "folder of the run: run store grlm.h5, exported files, metrics", {}},
      {"device", ValueType::String, "auto",
       "compute device per rank: auto (cuda when a GPU is visible), cpu, cuda", {"auto", "cpu", "cuda"}},
      {"seed", ValueType::Integer, 42, "seed of every random choice in the run", {}},
      {"log.level", ValueType::String, "info", "log threshold: debug, info, warn, error",
       {"debug", "info", "warn", "error"}},
      {"log.progress_interval_s", ValueType::Number, 30.0,
       "seconds between progress lines when stderr is not a terminal", {}},
      {"data.catalog", ValueType::String, json(),
       "catalog JSON: item id -> {title, description, categories}", {}},
      {"data.interactions", ValueType::String, json(),
       "interactions text file: 'user_id item_id item_id ...' per line, in time order", {}},
      {"data.tids", ValueType::String, json(),
       "optional item id -> 5-word TID JSON (*_item_id2tid.json); skips embed, similar, extract", {}},
      {"data.neighbours", ValueType::String, json(),
       "optional collaborative neighbours file: header 'anchor top1 ... top20', then one item a line", {}},
  };
  return schema;
}

}  // namespace grlm
