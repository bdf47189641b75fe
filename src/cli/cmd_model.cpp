// grlm generate and grlm score: a Hugging Face Qwen2/Qwen3 checkpoint over JSON Lines.
#include "commands.hpp"
#include "grlm/model/tools.hpp"

namespace grlm::cli {
namespace {

void add_model_options(po::options_description& options) {
  options.add_options()
      ("model", po::value<std::string>()->required(), "checkpoint folder: config.json, model.safetensors (or shards + index), tokenizer.json")
      ("input", po::value<std::string>()->required(), "JSON Lines input")
      ("output", po::value<std::string>()->required(), "JSON Lines output, one line per input line, same order; - is stdout")
      ("device", po::value<std::string>()->default_value("auto"), "auto | cpu | cuda (one GPU per rank)")
      ("dtype", po::value<std::string>()->default_value(""), "float32 | bfloat16 | float16 (default: the checkpoint's dtype)")
      ("threads", po::value<int>()->default_value(0), "CPU threads per rank (0: libtorch's default)");
}

void read_model_options(const po::variables_map& values, ModelToolFiles& options) {
  options.model = values["model"].as<std::string>();
  options.input = values["input"].as<std::string>();
  options.output = values["output"].as<std::string>();
  options.device = values["device"].as<std::string>();
  options.dtype = values["dtype"].as<std::string>();
  options.threads = values["threads"].as<int>();
}

}  // namespace

Command generate_command() {
  Command command;
  command.name = "generate";
  command.group = "tool";
  command.summary = "generate continuations with a Qwen2/Qwen3 checkpoint: greedy, sampling or beam search";
  command.usage = "--model DIR --input prompts.jsonl --output out.jsonl [options]";
  command.options = [] {
    const GenerateToolOptions defaults;
    po::options_description options("Generate options (input lines {\"text\": ...} or {\"ids\": [...]}; output lines "
                                     "{\"sequences\": [[new ids]...], \"texts\": [...], \"scores\": [...]})");
    add_model_options(options);
    options.add_options()
        ("max-new-tokens", po::value<int64_t>()->default_value(defaults.max_new_tokens), "most tokens generated per sequence")
        ("num-beams", po::value<int64_t>()->default_value(defaults.num_beams), "beam width (1: greedy or sampling)")
        ("num-return-sequences", po::value<int64_t>()->default_value(defaults.num_return_sequences), "sequences returned per prompt (<= num-beams)")
        ("length-penalty", po::value<double>()->default_value(defaults.length_penalty), "beam score = sum of log-probs / length^penalty")
        ("early-stopping", po::value<std::string>()->default_value(defaults.early_stopping), "beam search end rule, as Hugging Face: false | true | never")
        ("do-sample", po::bool_switch(), "sample instead of taking the most likely token")
        ("temperature", po::value<double>()->default_value(defaults.temperature), "sampling temperature")
        ("top-k", po::value<int64_t>()->default_value(defaults.top_k), "sample among the k most likely tokens (0: all)")
        ("top-p", po::value<double>()->default_value(defaults.top_p), "sample from the smallest set with this probability (1: all)")
        ("seed", po::value<uint64_t>()->default_value(defaults.seed), "sampling seed (the same seed gives the same samples)")
        ("stop", po::value<std::vector<std::string>>()->composing(), "stop a sequence once its text contains this string (repeatable)")
        ("chat", po::bool_switch(), "wrap each text as a user message with the checkpoint's chat template and the generation prompt")
        ("no-thinking", po::bool_switch(), "with --chat on Qwen3: enable_thinking=false (an empty think block)")
        ("batch-size", po::value<int64_t>()->default_value(defaults.batch_size), "prompts per batch (sorted by length)");
    return options;
  };
  command.run = [](Runtime& runtime, const po::variables_map& values) {
    GenerateToolOptions options;
    read_model_options(values, options);
    options.max_new_tokens = values["max-new-tokens"].as<int64_t>();
    options.num_beams = values["num-beams"].as<int64_t>();
    options.num_return_sequences = values["num-return-sequences"].as<int64_t>();
    options.length_penalty = values["length-penalty"].as<double>();
    options.early_stopping = values["early-stopping"].as<std::string>();
    options.do_sample = values["do-sample"].as<bool>();
    options.temperature = values["temperature"].as<double>();
    options.top_k = values["top-k"].as<int64_t>();
    options.top_p = values["top-p"].as<double>();
    options.seed = values["seed"].as<uint64_t>();
    if (values.count("stop")) options.stop_strings = values["stop"].as<std::vector<std::string>>();
    options.chat = values["chat"].as<bool>();
    if (values["no-thinking"].as<bool>()) options.enable_thinking = false;
    options.batch_size = values["batch-size"].as<int64_t>();
    return run_generate_tool(runtime, options);
  };
  return command;
}

Command score_command() {
  Command command;
  command.name = "score";
  command.group = "tool";
  command.summary = "teacher-forced log-probability of every token after the first (input {\"ids\": [...]})";
  command.usage = "--model DIR --input ids.jsonl --output out.jsonl";
  command.options = [] {
    po::options_description options("Score options (output lines {\"logprobs\": [...]})");
    add_model_options(options);
    return options;
  };
  command.run = [](Runtime& runtime, const po::variables_map& values) {
    ScoreToolOptions options;
    read_model_options(values, options);
    return run_score_tool(runtime, options);
  };
  return command;
}

Command encode_command() {
  Command command;
  command.name = "encode";
  command.group = "tool";
  command.summary = "embed texts with a Qwen2/Qwen3 checkpoint (mean or last-token pooling, L2-normalised)";
  command.usage = "--model DIR --input texts.jsonl --output vectors.jsonl [--pooling mean|last]";
  command.options = [] {
    const EncodeToolOptions defaults;
    po::options_description options("Encode options (input lines {\"text\": ...} or {\"ids\": [...]}; output lines {\"embedding\": [...]})");
    add_model_options(options);
    options.add_options()
        ("pooling", po::value<std::string>()->default_value(defaults.pooling), "mean (average of the tokens' final states) | last (the last token's, Qwen3-Embedding)")
        ("no-normalize", po::bool_switch(), "keep the raw pooled vector instead of L2-normalising it")
        ("instruction", po::value<std::string>()->default_value(""), "text put before every input text (e.g. \"Instruct: ...\\nQuery:\")")
        ("batch-size", po::value<int64_t>()->default_value(defaults.batch_size), "sequences per batch");
    return options;
  };
  command.run = [](Runtime& runtime, const po::variables_map& values) {
    EncodeToolOptions options;
    read_model_options(values, options);
    options.pooling = values["pooling"].as<std::string>();
    options.normalize = !values["no-normalize"].as<bool>();
    options.instruction = values["instruction"].as<std::string>();
    options.batch_size = values["batch-size"].as<int64_t>();
    return run_encode_tool(runtime, options);
  };
  return command;
}

Command init_model_command() {
  Command command;
  command.name = "init-model";
  command.group = "tool";
  command.summary = "write a randomly initialised Qwen2/Qwen3 checkpoint from a config.json (for training from scratch)";
  command.usage = "--config config.json --out DIR [--seed S] [--dtype D] [--tokenizer DIR]";
  command.options = [] {
    const InitModelToolOptions defaults;
    po::options_description options("Init-model options");
    options.add_options()
        ("config", po::value<std::string>()->required(), "config.json of the qwen3 or qwen2 family (or a folder holding one)")
        ("out", po::value<std::string>()->required(), "folder to write: config.json, model.safetensors, generation_config.json")
        ("seed", po::value<uint64_t>()->default_value(defaults.seed), "initialisation seed (same seed, same weights)")
        ("dtype", po::value<std::string>()->default_value(defaults.dtype), "float32 | bfloat16 | float16 weights on disk")
        ("tokenizer", po::value<std::string>()->default_value(""), "folder whose tokenizer files are copied beside the weights");
    return options;
  };
  command.run = [](Runtime& runtime, const po::variables_map& values) {
    InitModelToolOptions options;
    options.config = values["config"].as<std::string>();
    options.out = values["out"].as<std::string>();
    options.seed = values["seed"].as<uint64_t>();
    options.dtype = values["dtype"].as<std::string>();
    options.tokenizer = values["tokenizer"].as<std::string>();
    return run_init_model_tool(runtime, options);
  };
  return command;
}

}  // namespace grlm::cli
