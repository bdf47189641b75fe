// grlm tokenize: JSON Lines in, one JSON array of token ids per line out (or back with --decode).
#include <fstream>
#include <iostream>

#include "commands.hpp"
#include "grlm/core/error.hpp"
#include "grlm/core/log.hpp"
#include "grlm/data/text_file.hpp"
#include "grlm/text/tokenizer.hpp"

namespace grlm::cli {
namespace {

std::vector<std::string> read_lines(const std::string& path) {
  std::string text;
  if (path == "-") {
    std::ostringstream buffer;
    buffer << std::cin.rdbuf();
    text = buffer.str();
  } else {
    text = read_file_bytes(path);
  }
  std::vector<std::string> lines;
  for_each_line(text, [&](size_t, std::string_view line) { lines.emplace_back(line); });
  return lines;
}

nlohmann::json parse_line(const std::string& line, const std::string& input, size_t line_number) {
  try {
    return nlohmann::json::parse(line);
  } catch (const nlohmann::json::parse_error& error) {
    throw InputError(cat(input, ": line ", line_number, ": not valid JSON (", error.what(),
                         "); expected a JSON string or {\"text\": ...}"));
  }
}

std::string text_of(const nlohmann::json& value, const std::string& input, size_t line_number) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_object() && value.contains("text") && value["text"].is_string()) return value["text"].get<std::string>();
  throw InputError(cat(input, ": line ", line_number, ": expected a JSON string or {\"text\": ...}"));
}

std::vector<TokenId> ids_of(const nlohmann::json& value, const std::string& input, size_t line_number) {
  const nlohmann::json& ids = value.is_object() && value.contains("ids") ? value["ids"] : value;
  if (!ids.is_array() || !std::all_of(ids.begin(), ids.end(), [](const auto& id) { return id.is_number_integer(); })) {
    throw InputError(cat(input, ": line ", line_number, ": expected a JSON array of token ids or {\"ids\": [...]}"));
  }
  return ids.get<std::vector<TokenId>>();
}

}  // namespace

Command tokenize_command() {
  Command command;
  command.name = "tokenize";
  command.group = "tool";
  command.summary = "encode JSON Lines text to token ids with a Hugging Face tokenizer.json (or --decode ids)";
  command.usage = "--tokenizer PATH [--input FILE] [--output FILE] [--decode]";
  command.options = [] {
    po::options_description options("Tokenize options");
    options.add_options()
        ("tokenizer", po::value<std::string>()->required(), "a tokenizer.json, or a model folder holding one")
        ("input", po::value<std::string>()->default_value("-"),
         "JSON Lines: each line a JSON string or {\"text\": ...} (with --decode: an id array or {\"ids\": [...]}); - is stdin")
        ("output", po::value<std::string>()->default_value("-"), "one JSON array of ids (or a JSON string) per input line; - is stdout")
        ("decode", po::bool_switch(), "decode id arrays back to text")
        ("add-special-tokens", po::bool_switch(), "apply the tokenizer's post-processor (BOS/EOS) when encoding")
        ("skip-special-tokens", po::bool_switch(), "leave special tokens out when decoding")
        ("threads", po::value<unsigned>()->default_value(0), "encoding threads (0: all cores)");
    return options;
  };
  command.run = [](Runtime& runtime, const po::variables_map& values) {
    // A tool of one process: extra ranks have nothing to do.
    if (!runtime.is_root()) return 0;
    const Tokenizer tokenizer = Tokenizer::load(values["tokenizer"].as<std::string>());
    const std::string input = values["input"].as<std::string>();
    const std::vector<std::string> lines = read_lines(input);
    std::vector<std::string> output_lines(lines.size());
    if (values["decode"].as<bool>()) {
      const bool skip = values["skip-special-tokens"].as<bool>();
      for (size_t i = 0; i < lines.size(); ++i) {
        output_lines[i] = nlohmann::json(tokenizer.decode(ids_of(parse_line(lines[i], input, i + 1), input, i + 1), skip)).dump();
      }
    } else {
      std::vector<std::string> texts(lines.size());
      for (size_t i = 0; i < lines.size(); ++i) texts[i] = text_of(parse_line(lines[i], input, i + 1), input, i + 1);
      const auto encoded = tokenizer.encode_batch(texts, values["add-special-tokens"].as<bool>(), values["threads"].as<unsigned>());
      for (size_t i = 0; i < encoded.size(); ++i) output_lines[i] = nlohmann::json(encoded[i]).dump();
    }
    const std::string output = values["output"].as<std::string>();
    std::ofstream file;
    if (output != "-") {
      file.open(output, std::ios::binary | std::ios::trunc);
      if (!file) throw Error(cat("cannot write ", output));
    }
    std::ostream& out = output == "-" ? std::cout : file;
    for (const std::string& line : output_lines) out << line << '\n';
    out.flush();
    if (!out) throw Error(cat("error while writing ", output));
    return 0;
  };
  return command;
}

}  // namespace grlm::cli
