// Config: defaults, file, --set overrides, and errors that name the key and where it came from.
#include <gtest/gtest.h>

#include "grlm/core/config.hpp"
#include "grlm/data/cf_neighbours.hpp"
#include "grlm/data/sft_tasks.hpp"
#include "grlm/model/chat_generator.hpp"
#include "grlm/model/similarity.hpp"
#include "grlm/model/tid_recommender.hpp"
#include "grlm/text/lexical_embedder.hpp"
#include "grlm/core/error.hpp"
#include "test_support.hpp"

namespace grlm {
namespace {

using nlohmann::json;

const ConfigSchema& test_schema() {
  static const ConfigSchema schema = {
      {"run_dir", ValueType::String, "run", "run folder", {}},
      {"device", ValueType::String, "auto", "device", {"auto", "cpu", "cuda"}},
      {"data.catalog", ValueType::String, json(), "catalog", {}},
      {"train.lr", ValueType::Number, 1e-4, "learning rate", {}},
      {"train.max_steps", ValueType::Integer, json(), "steps", {}},
      {"train.bf16", ValueType::Boolean, true, "bf16", {}},
      {"sft.tasks", ValueType::StringList, json::array({"seq"}), "tasks", {}},
  };
  return schema;
}

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const UsageError& error) {
    return error.what();
  }
  return "(no error)";
}

std::filesystem::path config_file(const std::string& name, const std::string& text) {
  const auto dir = std::filesystem::temp_directory_path() / "grlm-config-tests";
  std::filesystem::create_directories(dir);
  const auto file = dir / name;
  test::write_text(file, text);
  return file;
}

TEST(Config, DefaultsApplyWithoutFile) {
  const Config config = Config::load(test_schema(), std::nullopt, {});
  EXPECT_EQ(config.get_string("run_dir"), "run");
  EXPECT_DOUBLE_EQ(config.get_number("train.lr"), 1e-4);
  EXPECT_FALSE(config.has("data.catalog"));
  EXPECT_FALSE(config.has("train.max_steps"));
  EXPECT_EQ(config.get_string_list("sft.tasks"), std::vector<std::string>{"seq"});
}

TEST(Config, FileValuesReplaceDefaults) {
  const auto file = config_file("a.json", R"({"run_dir": "runs/a", "train": {"lr": 0.5, "max_steps": 20}})");
  const Config config = Config::load(test_schema(), file, {});
  EXPECT_EQ(config.get_string("run_dir"), "runs/a");
  EXPECT_DOUBLE_EQ(config.get_number("train.lr"), 0.5);
  EXPECT_EQ(config.get_int("train.max_steps"), 20);
  EXPECT_EQ(config.source(), file.string());
}

TEST(Config, DottedSetOverridesFileInOrder) {
  const auto file = config_file("b.json", R"({"train": {"lr": 0.5}})");
  const Config config =
      Config::load(test_schema(), file, {"train.lr=2e-5", "train.bf16=false", "train.max_steps=7", "train.lr=3e-5"});
  EXPECT_DOUBLE_EQ(config.get_number("train.lr"), 3e-5);
  EXPECT_FALSE(config.get_bool("train.bf16"));
  EXPECT_EQ(config.get_int("train.max_steps"), 7);
}

TEST(Config, SetKeepsStringKeysStrings) {
  const Config config = Config::load(test_schema(), std::nullopt, {"run_dir=123", "data.catalog=a b.json"});
  EXPECT_EQ(config.get_string("run_dir"), "123");
  EXPECT_EQ(config.get_string("data.catalog"), "a b.json");
}

TEST(Config, SetNullUnsetsAnOptionalKey) {
  const auto file = config_file("c.json", R"({"data": {"catalog": "x.json"}})");
  const Config config = Config::load(test_schema(), file, {"data.catalog=null"});
  EXPECT_FALSE(config.has("data.catalog"));
}

TEST(Config, StringListFromJsonOrCommas) {
  EXPECT_EQ(Config::load(test_schema(), std::nullopt, {R"(sft.tasks=["a","b"])"}).get_string_list("sft.tasks"),
            (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(Config::load(test_schema(), std::nullopt, {"sft.tasks=a,b,c"}).get_string_list("sft.tasks"),
            (std::vector<std::string>{"a", "b", "c"}));
}

TEST(Config, UnknownKeyInFileNamesFileAndNearestKey) {
  const auto file = config_file("d.json", R"({"train": {"lrr": 0.1}})");
  const std::string message = error_of([&] { Config::load(test_schema(), file, {}); });
  EXPECT_NE(message.find("unknown config key 'train.lrr'"), std::string::npos) << message;
  EXPECT_NE(message.find(file.string()), std::string::npos) << message;
  EXPECT_NE(message.find("did you mean 'train.lr'"), std::string::npos) << message;
}

TEST(Config, UnknownKeyInSetSuggestsTheGroupedName) {
  const std::string message = error_of([] { Config::load(test_schema(), std::nullopt, {"max_steps=3"}); });
  EXPECT_NE(message.find("--set max_steps=3"), std::string::npos) << message;
  EXPECT_NE(message.find("did you mean 'train.max_steps'"), std::string::npos) << message;
}

TEST(Config, FarOffUnknownKeyHasNoSuggestion) {
  const std::string message = error_of([] { Config::load(test_schema(), std::nullopt, {"zzzzzzzzzzzz=1"}); });
  EXPECT_NE(message.find("unknown config key 'zzzzzzzzzzzz'"), std::string::npos);
  EXPECT_EQ(message.find("did you mean"), std::string::npos) << message;
}

TEST(Config, WrongTypeNamesKeyFileAndValue) {
  const auto file = config_file("e.json", R"({"train": {"lr": "fast"}})");
  const std::string message = error_of([&] { Config::load(test_schema(), file, {}); });
  EXPECT_NE(message.find("'train.lr'"), std::string::npos) << message;
  EXPECT_NE(message.find(file.string()), std::string::npos) << message;
  EXPECT_NE(message.find("expected a number"), std::string::npos) << message;
  EXPECT_NE(message.find("\"fast\""), std::string::npos) << message;
}

TEST(Config, IntegerKeyRefusesFractions) {
  const std::string message = error_of([] { Config::load(test_schema(), std::nullopt, {"train.max_steps=2.5"}); });
  EXPECT_NE(message.find("expected an integer"), std::string::npos) << message;
  EXPECT_EQ(Config::load(test_schema(), std::nullopt, {"train.max_steps=1e3"}).get_int("train.max_steps"), 1000);
}

TEST(Config, ChoiceOutsideTheListIsAnError) {
  const std::string message = error_of([] { Config::load(test_schema(), std::nullopt, {"device=gpu"}); });
  EXPECT_NE(message.find("'gpu' is not one of auto, cpu, cuda"), std::string::npos) << message;
}

TEST(Config, GroupGivenAScalarIsAnError) {
  const auto file = config_file("f.json", R"({"train": 3})");
  const std::string message = error_of([&] { Config::load(test_schema(), file, {}); });
  EXPECT_NE(message.find("'train'"), std::string::npos) << message;
  EXPECT_NE(message.find("expected an object"), std::string::npos) << message;
}

TEST(Config, MalformedJsonNamesLineAndColumn) {
  const auto file = config_file("g.json", "{\n  \"run_dir\": \"x\",\n  \"train\": {\"lr\": }\n}\n");
  const std::string message = error_of([&] { Config::load(test_schema(), file, {}); });
  EXPECT_NE(message.find(file.string() + ":3:"), std::string::npos) << message;
  EXPECT_NE(message.find("not valid JSON"), std::string::npos) << message;
}

TEST(Config, MissingFileIsAnError) {
  const std::string message = error_of([] { Config::load(test_schema(), "/nonexistent/grlm.json", {}); });
  EXPECT_NE(message.find("cannot read config file /nonexistent/grlm.json"), std::string::npos) << message;
}

TEST(Config, SetWithoutEqualsIsAnError) {
  const std::string message = error_of([] { Config::load(test_schema(), std::nullopt, {"train.lr"}); });
  EXPECT_NE(message.find("expected KEY=VALUE"), std::string::npos) << message;
}

TEST(Config, SelectGivesTheKeysOfAGroupFlatAndSorted) {
  const Config config = Config::load(test_schema(), std::nullopt, {"train.lr=0.25"});
  const json selected = config.select({"train", "run_dir"});
  EXPECT_EQ(selected.dump(), R"({"run_dir":"run","train.bf16":true,"train.lr":0.25,"train.max_steps":null})");
}

TEST(Config, GrlmSchemaHasTheKeysScriptsRelyOn) {
  const Config config = Config::load(grlm_config_schema(), std::nullopt,
                                     {"run_dir=r", "data.catalog=c.json", "data.interactions=i.txt",
                                      "data.tids=t.json", "data.neighbours=n.txt"});
  EXPECT_EQ(config.get_string("data.tids"), "t.json");
  EXPECT_EQ(config.get_string("data.neighbours"), "n.txt");
  EXPECT_EQ(config.tree()["data"]["catalog"], "c.json");
}

}  // namespace
}  // namespace grlm

namespace grlm {
namespace {

TEST(Config, RangesAndListChoicesOfTheGrlmSchemaNameKeyValueAndSource) {
  const ConfigSchema& schema = grlm_config_schema();
  const auto refused = [&](const std::string& assignment) {
    return error_of([&] { Config::load(schema, std::nullopt, {assignment}); });
  };
  EXPECT_EQ(refused("train.zero_stage=3"),
            "config key 'train.zero_stage' in --set train.zero_stage=3: 3 is out of range (must be in [1, 2])");
  EXPECT_NE(refused("train.global_batch_size=-8").find("-8 is out of range (must be >= 1)"), std::string::npos);
  EXPECT_NE(refused("train.micro_batch_size=0").find("0 is out of range (must be >= 1)"), std::string::npos);
  EXPECT_NE(refused("similar.k=0").find("'similar.k'"), std::string::npos);
  EXPECT_NE(refused("embed.chunk_items=0").find("(must be >= 1)"), std::string::npos);
  EXPECT_NE(refused("train.adam_beta2=1").find("(must be in [0, 1))"), std::string::npos);
  EXPECT_NE(refused("train.adam_epsilon=0").find("(must be > 0)"), std::string::npos);
  EXPECT_EQ(refused("sft.tasks=term,sequnce"),
            "config key 'sft.tasks' in --set sft.tasks=term,sequnce: 'sequnce' is not one of term, sequence, collaborative, transition");
  const auto file = config_file("ranges.json", R"({"train": {"lr": -1}})");
  EXPECT_NE(error_of([&] { Config::load(schema, file, {}); }).find("'train.lr' in " + file.string() + ": -1 is out of range"),
            std::string::npos);
  // Where each value came from, for the checks between keys.
  const Config config = Config::load(schema, config_file("sources.json", R"({"train": {"micro_batch_size": 4}})"),
                                     {"train.global_batch_size=8"});
  EXPECT_EQ(config.described("train.global_batch_size"), "train.global_batch_size (8, in --set train.global_batch_size=8)");
  EXPECT_EQ(config.source_of("train.micro_batch_size"), "in " + (std::filesystem::temp_directory_path() / "grlm-config-tests" / "sources.json").string());
  EXPECT_EQ(config.source_of("train.lr"), "default");
  // Bytes that are not UTF-8 (found by scripts/fuzz_inputs.sh: they escaped as a JSON library error).
  EXPECT_EQ(refused(std::string("train.lr=2e\x8a-5")), "--set \"train.lr=2e\xEF\xBF\xBD-5\": not valid UTF-8");
  const auto huge = config_file("huge.json", R"({"train": {"lr": 2e55555}})");  // found by scripts/fuzz_inputs.sh
  EXPECT_NE(error_of([&] { Config::load(schema, huge, {}); }).find("not valid JSON"), std::string::npos);
  // Every default is inside its own range and choices.
  for (const ConfigKey& key : schema) {
    if (key.default_value.is_number()) {
      EXPECT_TRUE(key.range.contains(key.default_value.get<double>())) << key.path;
    }
  }
}

}  // namespace
}  // namespace grlm

namespace grlm {
namespace {

nlohmann::json schema_default(const std::string& path) {
  for (const ConfigKey& key : grlm_config_schema()) {
    if (key.path == path) return key.default_value;
  }
  ADD_FAILURE() << "no key " << path;
  return nullptr;
}

// Stages fill these library options from the config (the schema is the source of a run's values);
// the libraries' own defaults, for their other users (tools, tests), must not tell another story.
TEST(ConfigSchema, LibraryDefaultsOfConfigBackedOptionsAgreeWithTheSchema) {
  const RecommendOptions recommend;
  EXPECT_EQ(recommend.num_beams, schema_default("evaluate.num_beams"));
  EXPECT_EQ(recommend.num_return_sequences, schema_default("evaluate.num_return_sequences"));
  EXPECT_EQ(recommend.max_new_tokens, schema_default("evaluate.max_new_tokens"));
  EXPECT_EQ(recommend.batch_size, schema_default("evaluate.batch_size"));
  const SimilarityOptions similarity;
  EXPECT_EQ(similarity.k, schema_default("similar.k"));
  EXPECT_EQ(similarity.dtype, schema_default("similar.dtype"));
  const ChatGeneration chat;
  EXPECT_EQ(chat.max_new_tokens, schema_default("extract.max_new_tokens"));
  EXPECT_EQ(chat.batch_size, schema_default("extract.batch_size"));
  const LexicalEmbedderOptions lexical;
  EXPECT_EQ(lexical.dim, schema_default("embed.dim"));
  EXPECT_EQ(static_cast<int64_t>(lexical.seed), schema_default("seed"));
  const CfNeighbourOptions neighbours;
  EXPECT_EQ(static_cast<int64_t>(neighbours.max_distance), schema_default("sft.cf_max_distance"));
  const SequenceTaskOptions sequence;
  EXPECT_EQ(static_cast<int64_t>(sequence.window), schema_default("sft.window"));
}

}  // namespace
}  // namespace grlm
