// Stage "embed" (GRLM-SPEC.md stage 1): one L2-normalised vector per catalog item, from a Hugging
// Face checkpoint used as encoder (embed.model) or from the built-in TF-IDF embedder. Items are cut
// into chunks dealt to ranks balanced by text size (ChunkedWork); each finished round of chunks is
// written collectively and logged, so a killed run resumes at the next unfinished chunk.
#include <algorithm>
#include <numeric>

#include "grlm/core/chunked_work.hpp"
#include "grlm/core/error.hpp"
#include "grlm/core/log.hpp"
#include "grlm/data/dataset.hpp"
#include "grlm/stages/stages.hpp"
#include "grlm/text/lexical_embedder.hpp"
#include "grlm/text/tokenizer.hpp"
#include "grlm/model/text_encoder.hpp"

namespace grlm {
namespace {

// The spec's item text: "Title: … | Description: … | Categories: …", empty parts left out; an
// item with no text at all is represented by its id, so it still gets its own vector.
std::string item_text(const CatalogItem& item, const std::string& id) {
  std::string text;
  const auto add = [&](const char* label, const std::string& value) {
    if (value.empty()) return;
    if (!text.empty()) text += " | ";
    text += label;
    text += value;
  };
  add("Title: ", item.title);
  add("Description: ", item.description);
  add("Categories: ", item.categories);
  return text.empty() ? "Item: " + id : text;
}

// Computes the vectors of one chunk of items.
using ChunkEncoder = std::function<std::vector<float>(uint64_t first, uint64_t count)>;

struct Encoder {
  int64_t dim = 0;
  std::string kind;
  ChunkEncoder encode;
};

Encoder builtin_encoder(RunContext& context, const Dataset& data) {
  LexicalEmbedderOptions options;
  options.dim = context.config.get_int("embed.dim");
  options.seed = static_cast<uint64_t>(context.config.get_int("seed"));
  auto embedder = std::make_shared<LexicalEmbedder>(options);
  const auto texts_of = [&data](uint64_t first, uint64_t count) {
    std::vector<ItemText> texts;
    for (uint64_t i = first; i < first + count; ++i) {
      const CatalogItem& item = data.catalog->items[i];
      if (item.title.empty() && item.description.empty() && item.categories.empty()) {
        texts.push_back({data.items.id(static_cast<ItemIndex>(i)), {}, {}});
      } else {
        texts.push_back({item.title, item.description, item.categories});
      }
    }
    return texts;
  };
  // IDF over the whole catalog: each rank counts a block of items, the counts are summed.
  const RowBlock block = row_block(static_cast<int64_t>(data.items.size()), context.runtime.world_size(), context.runtime.rank());
  std::vector<int32_t> frequencies =
      embedder->document_frequencies(texts_of(static_cast<uint64_t>(block.first), static_cast<uint64_t>(block.count)));
  context.runtime.world().all_reduce(frequencies.data(), frequencies.data(), frequencies.size(), DType::Int32, ReduceOp::Sum);
  embedder->set_idf(frequencies, static_cast<int64_t>(data.items.size()));
  return {options.dim, "built-in TF-IDF + random projection",
          [embedder, texts_of](uint64_t first, uint64_t count) { return embedder->embed(texts_of(first, count)); }};
}

// Token ids of `text`, at most `max_tokens`: the tokenizer's own suffix (Qwen3-Embedding's end
// token, which last-token pooling reads) is kept when the text is cut.
std::vector<int64_t> encode_text(const Tokenizer& tokenizer, const std::string& text, size_t max_tokens, size_t suffix) {
  const std::vector<TokenId> ids = tokenizer.encode(text, true);
  std::vector<int64_t> result(ids.begin(), ids.end());
  if (result.size() > max_tokens && max_tokens > suffix) {
    std::vector<int64_t> cut(result.begin(), result.begin() + static_cast<std::ptrdiff_t>(max_tokens - suffix));
    cut.insert(cut.end(), result.end() - static_cast<std::ptrdiff_t>(suffix), result.end());
    result = std::move(cut);
  }
  return result;
}

Encoder checkpoint_encoder(RunContext& context, const Dataset& data, const std::string& folder) {
  const Config& config = context.config;
  std::shared_ptr<TextEncoder> model = TextEncoder::load(folder, context.device, config.get_string("embed.dtype"),
                                                         config.get_string("embed.pooling"));
  auto tokenizer = std::make_shared<Tokenizer>(Tokenizer::load(folder));
  const size_t suffix = tokenizer->encode("a", true).size() - tokenizer->encode("a", false).size();
  const size_t max_tokens = static_cast<size_t>(config.get_int("embed.max_tokens"));
  const size_t batch_tokens = static_cast<size_t>(config.get_int("embed.batch_tokens"));
  const std::string instruction = config.get_string("embed.instruction");
  return {model->dim(), "checkpoint " + folder,
          [=, &data](uint64_t first, uint64_t count) {
            std::vector<std::vector<int64_t>> sequences;
            for (uint64_t i = first; i < first + count; ++i) {
              const std::string text = item_text(data.catalog->items[i], data.items.id(static_cast<ItemIndex>(i)));
              sequences.push_back(encode_text(*tokenizer, instruction + text, max_tokens, suffix));
            }
            // Similar lengths share a batch; the batch size follows the token budget.
            std::vector<size_t> order(sequences.size());
            std::iota(order.begin(), order.end(), 0);
            std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return sequences[a].size() < sequences[b].size(); });
            const size_t dim = static_cast<size_t>(model->dim());
            std::vector<float> vectors(sequences.size() * dim);
            for (size_t start = 0; start < order.size();) {
              size_t end = start;
              while (end < order.size() && (end - start + 1) * sequences[order[end]].size() <= std::max(batch_tokens, sequences[order[end]].size())) ++end;
              std::vector<std::vector<int64_t>> batch;
              for (size_t i = start; i < end; ++i) batch.push_back(sequences[order[i]]);
              const std::vector<float> encoded = model->encode(batch);
              for (size_t i = start; i < end; ++i) {
                std::copy_n(encoded.begin() + static_cast<std::ptrdiff_t>((i - start) * dim), dim,
                            vectors.begin() + static_cast<std::ptrdiff_t>(order[i] * dim));
              }
              start = end;
            }
            return vectors;
          }};
}

}  // namespace

void run_embed(RunContext& context, const StageRun& run) {
  const Config& config = context.config;
  const Dataset& data = load_dataset_once(config);
  if (!data.catalog) throw UsageError("stage embed needs data.catalog (the item texts)");
  const uint64_t items = data.items.size();
  Encoder encoder;
  if (const std::optional<std::string> model = config.get_optional_string("embed.model")) {
    encoder = checkpoint_encoder(context, data, *model);
  } else {
    encoder = builtin_encoder(context, data);
  }
  RunStore& store = context.store;
  const std::string group = "/" + run.name;
  if (!store.exists(group + "/vectors")) {
    store.create_dataset(group + "/vectors", {items, static_cast<uint64_t>(encoder.dim)}, DType::Float32);
    store.write_strings(group + "/item_ids", context.runtime.is_root() ? data.items.ids() : std::vector<std::string>{});
  }
  ChunkedWork work(context.runtime, store, run.name, items, static_cast<uint64_t>(config.get_int("embed.chunk_items")));
  log::info("embed: ", items, " items with the ", encoder.kind, " (", encoder.dim, " dimensions), ", work.num_chunks(),
            " chunks over ", context.runtime.world_size(), " ranks");
  // Chunks dealt by text size, a proxy of tokens.
  std::vector<uint64_t> text_bytes(work.num_chunks(), 0);
  for (uint64_t c = 0; c < work.num_chunks(); ++c) {
    const WorkChunk chunk = work.chunk(c);
    for (uint64_t i = chunk.first; i < chunk.first + chunk.count; ++i) {
      const CatalogItem& item = data.catalog->items[i];
      text_bytes[c] += 16 + item.title.size() + item.description.size() + item.categories.size();
    }
  }
  work.run(Dealing::balanced_by_size(std::move(text_bytes)), {"embed", "items", config.get_number("log.progress_interval_s")},
           [&](const std::optional<WorkChunk>& chunk) {
             if (!chunk) return store.write_rows<float>(group + "/vectors", 0, 0, nullptr);
             const std::vector<float> vectors = encoder.encode(chunk->first, chunk->count);
             store.write_rows(group + "/vectors", chunk->first, chunk->count, vectors.data());
           });
  store.set_attributes(group, {{"embedder", encoder.kind}, {"dim", std::to_string(encoder.dim)},
                               {"pooling", config.get_optional_string("embed.model") ? config.get_string("embed.pooling") : "tf-idf"}});
}

}  // namespace grlm
