#include "grlm/model/tools.hpp"

#include <algorithm>
#include <fstream>
#include <iostream>

#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>

#include "grlm/core/device.hpp"
#include "grlm/core/error.hpp"
#include "grlm/core/log.hpp"
#include "grlm/data/text_file.hpp"
#include "grlm/model/checkpoint.hpp"
#include "grlm/model/encoder.hpp"
#include "grlm/model/generation.hpp"
#include "grlm/text/chat_template.hpp"
#include "grlm/text/tokenizer.hpp"

namespace grlm {
namespace {

namespace fs = std::filesystem;

std::vector<nlohmann::json> read_json_lines(const std::string& path) {
  const std::string text = read_file_bytes(path);
  std::vector<nlohmann::json> lines;
  for_each_line(text, [&](size_t line_number, std::string_view line) {
    if (line.find_first_not_of(" \t") == std::string_view::npos) {
      throw InputError(cat(path, ": line ", line_number, " is empty (one JSON object per line)"));
    }
    try {
      lines.push_back(nlohmann::json::parse(line));
    } catch (const nlohmann::json::parse_error& error) {
      throw InputError(cat(path, ": line ", line_number, ": not valid JSON (", error.what(), ")"));
    }
  });
  return lines;
}

void write_lines(const std::string& path, const std::vector<std::string>& lines) {
  std::ofstream file;
  if (path != "-") {
    file.open(path, std::ios::binary | std::ios::trunc);
    if (!file) throw Error(cat("cannot write ", path));
  }
  std::ostream& out = path == "-" ? std::cout : file;
  for (const std::string& line : lines) out << line << '\n';
  out.flush();
  if (!out) throw Error(cat("error while writing ", path));
}

at::Device torch_device(Runtime& runtime, const std::string& requested) {
  const Device device = select_device(requested, runtime.info());
  return device.is_cuda() ? at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(device.index)) : at::Device(at::kCPU);
}

std::optional<Tokenizer> optional_tokenizer(const fs::path& folder) {
  if (!fs::exists(folder / "tokenizer.json")) return std::nullopt;
  return Tokenizer::load(folder);
}

std::vector<int64_t> ids_field(const nlohmann::json& line, const std::string& input, size_t line_number) {
  const nlohmann::json& ids = line["ids"];
  if (!ids.is_array() || !std::all_of(ids.begin(), ids.end(), [](const auto& id) { return id.is_number_integer(); })) {
    throw InputError(cat(input, ": line ", line_number, ": \"ids\" must be an array of token ids"));
  }
  return ids.get<std::vector<int64_t>>();
}

// The rank's share of the lines (round-robin, so long and short prompts spread evenly).
std::vector<size_t> my_lines(const Runtime& runtime, size_t count) {
  std::vector<size_t> mine;
  for (size_t i = static_cast<size_t>(runtime.rank()); i < count; i += static_cast<size_t>(runtime.world_size())) mine.push_back(i);
  return mine;
}

// Rank 0 receives every rank's output lines and writes them in input order.
void gather_and_write(Runtime& runtime, const std::string& output, size_t count, const std::vector<size_t>& mine,
                      const std::vector<std::string>& my_output) {
  nlohmann::json packed = nlohmann::json::array();
  for (size_t i = 0; i < mine.size(); ++i) packed.push_back({mine[i], my_output[i]});
  const std::vector<std::string> gathered = all_gather_bytes(runtime.world(), packed.dump());
  if (!runtime.is_root()) return;
  std::vector<std::string> lines(count);
  for (const std::string& bytes : gathered) {
    for (const nlohmann::json& entry : nlohmann::json::parse(bytes)) lines[entry[0].get<size_t>()] = entry[1].get<std::string>();
  }
  write_lines(output, lines);
}

// Threads, device and dtype as the tool's options say, then the checkpoint.
Transformer load_tool_model(Runtime& runtime, const ModelToolFiles& options, bool require_lm_head) {
  if (options.threads > 0) at::set_num_threads(options.threads);
  LoadOptions load;
  load.device = torch_device(runtime, options.device);
  load.require_lm_head = require_lm_head;
  if (!options.dtype.empty()) load.dtype = parse_dtype(options.dtype);
  return load_pretrained(options.model, load);
}

EarlyStopping parse_early_stopping(const std::string& value) {
  if (value == "false") return EarlyStopping::Heuristic;
  if (value == "true") return EarlyStopping::WhenDone;
  if (value == "never") return EarlyStopping::Never;
  throw UsageError(cat("--early-stopping must be false, true or never, got '", value, "'"));
}

}  // namespace

int run_generate_tool(Runtime& runtime, const GenerateToolOptions& options) {
  if (options.batch_size < 1) throw UsageError("--batch-size must be at least 1");
  const fs::path folder = options.model;
  const Transformer model = load_tool_model(runtime, options, true);
  const GenerationDefaults defaults = generation_defaults(folder, model.config());
  const std::optional<Tokenizer> tokenizer = optional_tokenizer(folder);
  std::optional<ChatTemplate> chat;
  if (options.chat) chat = ChatTemplate::load(folder);

  GenerationOptions generation;
  generation.max_new_tokens = options.max_new_tokens;
  generation.num_beams = options.num_beams;
  generation.num_return_sequences = options.num_return_sequences;
  generation.do_sample = options.do_sample;
  generation.temperature = options.temperature;
  generation.top_k = options.top_k;
  generation.top_p = options.top_p;
  generation.seed = options.seed;
  generation.length_penalty = options.length_penalty;
  generation.early_stopping = parse_early_stopping(options.early_stopping);
  generation.eos_token_ids = defaults.eos_token_ids;
  generation.pad_token_id = defaults.pad_token_id;
  if (!options.stop_strings.empty()) {
    if (!tokenizer) throw UsageError("--stop needs the model folder's tokenizer.json to read generated text");
    generation.stop_check = [&](const std::vector<int64_t>& generated) {
      const std::string text = tokenizer->decode(std::vector<TokenId>(generated.begin(), generated.end()));
      return std::any_of(options.stop_strings.begin(), options.stop_strings.end(),
                         [&](const std::string& stop) { return text.find(stop) != std::string::npos; });
    };
  }

  const std::vector<nlohmann::json> lines = read_json_lines(options.input);
  const std::vector<size_t> mine = my_lines(runtime, lines.size());
  std::vector<std::vector<int64_t>> prompts(mine.size());
  for (size_t i = 0; i < mine.size(); ++i) {
    const nlohmann::json& line = lines[mine[i]];
    const size_t line_number = mine[i] + 1;
    if (line.is_object() && line.contains("ids")) {
      prompts[i] = ids_field(line, options.input, line_number);
    } else if (line.is_object() && line.contains("text") && line["text"].is_string()) {
      if (!tokenizer) throw InputError(cat(options.input, ": line ", line_number, ": text prompts need tokenizer.json in ", folder.string()));
      std::string text = line["text"].get<std::string>();
      if (chat) {
        ChatOptions chat_options;
        chat_options.enable_thinking = options.enable_thinking;
        text = chat->render({{"user", text}}, chat_options);
      }
      const auto ids = tokenizer->encode(text, !chat.has_value());
      prompts[i].assign(ids.begin(), ids.end());
    } else {
      throw InputError(cat(options.input, ": line ", line_number, ": expected {\"text\": ...} or {\"ids\": [...]}"));
    }
  }

  const auto results = generate_in_batches(model, prompts, generation, static_cast<size_t>(options.batch_size));
  std::vector<std::string> output(prompts.size());
  for (size_t i = 0; i < prompts.size(); ++i) {
    nlohmann::json record = {{"sequences", nlohmann::json::array()}, {"texts", nlohmann::json::array()}, {"scores", nlohmann::json::array()}};
    for (const GeneratedSequence& sequence : results[i]) {
      record["sequences"].push_back(sequence.tokens);
      record["scores"].push_back(sequence.score);
      if (tokenizer) record["texts"].push_back(tokenizer->decode(std::vector<TokenId>(sequence.tokens.begin(), sequence.tokens.end()), true));
    }
    output[i] = record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  gather_and_write(runtime, options.output, lines.size(), mine, output);
  return 0;
}

int run_score_tool(Runtime& runtime, const ScoreToolOptions& options) {
  const Transformer model = load_tool_model(runtime, options, true);
  const std::vector<nlohmann::json> lines = read_json_lines(options.input);
  const std::vector<size_t> mine = my_lines(runtime, lines.size());
  std::vector<std::vector<int64_t>> sequences;
  for (size_t index : mine) {
    const nlohmann::json& line = lines[index];
    if (!line.is_object() || !line.contains("ids")) throw InputError(cat(options.input, ": line ", index + 1, ": expected {\"ids\": [...]}"));
    sequences.push_back(ids_field(line, options.input, index + 1));
  }
  const auto log_probs = score_tokens(model, sequences);
  std::vector<std::string> output;
  for (const auto& values : log_probs) output.push_back(nlohmann::json({{"logprobs", values}}).dump());
  gather_and_write(runtime, options.output, lines.size(), mine, output);
  return 0;
}

int run_encode_tool(Runtime& runtime, const EncodeToolOptions& options) {
  if (options.batch_size < 1) throw UsageError("--batch-size must be at least 1");
  const Pooling pooling = parse_pooling(options.pooling);
  const Transformer model = load_tool_model(runtime, options, false);
  const std::optional<Tokenizer> tokenizer = optional_tokenizer(options.model);
  const std::vector<nlohmann::json> lines = read_json_lines(options.input);
  const std::vector<size_t> mine = my_lines(runtime, lines.size());
  std::vector<std::vector<int64_t>> sequences;
  for (size_t index : mine) {
    const nlohmann::json& line = lines[index];
    if (line.is_object() && line.contains("ids")) {
      sequences.push_back(ids_field(line, options.input, index + 1));
    } else if (line.is_object() && line.contains("text") && line["text"].is_string()) {
      if (!tokenizer) throw InputError(cat(options.input, ": line ", index + 1, ": text inputs need tokenizer.json in ", options.model));
      const auto ids = tokenizer->encode(options.instruction + line["text"].get<std::string>(), true);
      sequences.emplace_back(ids.begin(), ids.end());
    } else {
      throw InputError(cat(options.input, ": line ", index + 1, ": expected {\"text\": ...} or {\"ids\": [...]}"));
    }
  }
  std::vector<std::string> output(sequences.size());
  for (size_t start = 0; start < sequences.size(); start += static_cast<size_t>(options.batch_size)) {
    const size_t end = std::min(sequences.size(), start + static_cast<size_t>(options.batch_size));
    const std::vector<std::vector<int64_t>> batch(sequences.begin() + static_cast<std::ptrdiff_t>(start),
                                                  sequences.begin() + static_cast<std::ptrdiff_t>(end));
    const at::Tensor vectors = encode_sequences(model, batch, pooling, options.normalize).cpu().contiguous();
    for (size_t i = start; i < end; ++i) {
      const float* row = vectors.data_ptr<float>() + static_cast<int64_t>(i - start) * vectors.size(1);
      output[i] = nlohmann::json({{"embedding", std::vector<float>(row, row + vectors.size(1))}}).dump();
    }
  }
  gather_and_write(runtime, options.output, lines.size(), mine, output);
  return 0;
}

int run_init_model_tool(Runtime& runtime, const InitModelToolOptions& options) {
  if (runtime.is_root()) {
    const ModelConfig config = ModelConfig::load(options.config);
    const at::ScalarType dtype = parse_dtype(options.dtype);
    const Transformer model = init_from_config(config, options.seed, at::kFloat, at::kCPU);
    std::optional<fs::path> tokenizer;
    if (!options.tokenizer.empty()) tokenizer = fs::path(options.tokenizer);
    save_pretrained(model, options.out, dtype, tokenizer);
    log::info("init-model: ", config.model_type, " with ", config.parameter_count(), " parameters written to ", options.out);
  }
  runtime.world().barrier();
  return 0;
}

}  // namespace grlm
