// The safetensors reader refuses malformed and hostile files with a message naming the file and
// the tensor, and never reads outside the file; the writer's files read back exactly.
#include <cstring>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "grlm/core/error.hpp"
#include "grlm/model/model_config.hpp"
#include "grlm/model/safetensors.hpp"
#include "test_support.hpp"

namespace grlm {
namespace {

std::string with_header(const std::string& header, const std::string& data, uint64_t declared_size) {
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[static_cast<size_t>(i)] = static_cast<char>((declared_size >> (8 * i)) & 0xff);
  return bytes + header + data;
}

std::string with_header(const std::string& header, const std::string& data) {
  return with_header(header, data, header.size());
}

std::string error_of(const std::string& bytes) {
  const auto file = test::scratch_dir("safetensors") / "file.safetensors";
  test::write_text(file, bytes);
  try {
    SafetensorsFile::open(file);
  } catch (const InputError& error) {
    return error.what();
  }
  return "no error";
}

TEST(Safetensors, WrittenFilesReadBack) {
  const auto file = test::scratch_dir("safetensors-roundtrip") / "model.safetensors";
  const std::vector<float> weights = {1.5f, -2.0f, 3.25f, 0.0f, 7.0f, -1.0f};
  const std::vector<uint16_t> halves = {0x3c00, 0xc000};
  write_safetensors(file, {{"a.weight", SafeDtype::F32, {2, 3}, std::as_bytes(std::span(weights))},
                           {"b", SafeDtype::BF16, {2}, std::as_bytes(std::span(halves))}},
                    {{"note", "test"}});
  const SafetensorsFile read = SafetensorsFile::open(file);
  ASSERT_EQ(read.tensors().size(), 2u);
  const SafeTensorView& a = read.at("a.weight");
  EXPECT_EQ(a.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(a.dtype, SafeDtype::F32);
  EXPECT_EQ(std::memcmp(a.data, weights.data(), a.bytes), 0);
  EXPECT_EQ(read.at("b").dtype, SafeDtype::BF16);
  EXPECT_EQ(read.metadata().at("format"), "pt");
  EXPECT_EQ(read.metadata().at("note"), "test");
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a.data) % 8, 0u) << "data starts 8-byte aligned";
}

TEST(Safetensors, RefusesTruncatedAndOversizedHeaders) {
  EXPECT_NE(error_of("abc").find("shorter than the 8-byte header size"), std::string::npos);
  EXPECT_NE(error_of(with_header("{}", "", 1000)).find("runs past the end of the file"), std::string::npos);
  EXPECT_NE(error_of(with_header("{}", "", 1ull << 62)).find("exceeds the limit"), std::string::npos);
  EXPECT_NE(error_of(with_header("{\"a\": ", "")).find("not valid JSON"), std::string::npos);
  EXPECT_NE(error_of(with_header("[1, 2]", "")).find("not a JSON object"), std::string::npos);
}

TEST(Safetensors, RefusesBadEntries) {
  const std::string data(24, 'x');
  const auto entry = [](const std::string& body) { return "{\"w\": " + body + "}"; };
  EXPECT_NE(error_of(with_header(entry(R"({"dtype": "F33", "shape": [2], "data_offsets": [0, 8]})"), data)).find("unknown dtype \"F33\""), std::string::npos);
  EXPECT_NE(error_of(with_header(entry(R"({"dtype": "F32", "shape": [3], "data_offsets": [0, 8]})"), data)).find("needs 12 bytes"), std::string::npos);
  EXPECT_NE(error_of(with_header(entry(R"({"dtype": "F32", "shape": [8], "data_offsets": [0, 32]})"), data)).find("run past the end of the data"), std::string::npos);
  EXPECT_NE(error_of(with_header(entry(R"({"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]})"), data)).find("non-negative"), std::string::npos);
  EXPECT_NE(error_of(with_header(entry(R"({"dtype": "F32", "shape": [2], "data_offsets": [8, 0]})"), data)).find("end before they begin"), std::string::npos);
  EXPECT_NE(error_of(with_header(entry(R"({"dtype": "F32", "shape": [2]})"), data)).find("missing \"data_offsets\""), std::string::npos);
  EXPECT_NE(error_of(with_header(entry(R"({"dtype": "F32", "shape": [4294967296, 4294967296, 4294967296], "data_offsets": [0, 8]})"), data)).find("too many elements"), std::string::npos);
  const std::string overlapping = R"({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
                                      "b": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}})";
  const std::string message = error_of(with_header(overlapping, data));
  EXPECT_NE(message.find("overlap"), std::string::npos) << message;
  EXPECT_NE(message.find("\"a\""), std::string::npos) << message;
  EXPECT_EQ(error_of(with_header(entry(R"({"dtype": "F32", "shape": [2], "data_offsets": [0, 8]})"), data)), "no error");
}

TEST(ModelConfigFile, ReadsBothRopeFormsAndRefusesOtherFamilies) {
  const nlohmann::json old_form = {{"model_type", "qwen2"}, {"vocab_size", 100}, {"hidden_size", 64},
                                   {"intermediate_size", 128}, {"num_hidden_layers", 2}, {"num_attention_heads", 4},
                                   {"num_key_value_heads", 2}, {"rope_theta", 1e6},
                                   {"rope_scaling", {{"type", "yarn"}, {"factor", 4.0}, {"original_max_position_embeddings", 32768}}},
                                   {"torch_dtype", "bfloat16"}, {"eos_token_id", {1, 2}}};
  const ModelConfig config = ModelConfig::from_json(old_form, "config.json");
  EXPECT_EQ(config.head_dim, 16);
  EXPECT_EQ(config.rope.type, "yarn");
  EXPECT_DOUBLE_EQ(config.rope.theta, 1e6);
  EXPECT_EQ(config.rope.original_max_position_embeddings, 32768);
  EXPECT_EQ(config.torch_dtype, "bfloat16");
  EXPECT_EQ(config.eos_token_ids, (std::vector<int64_t>{1, 2}));
  EXPECT_TRUE(config.qkv_bias());
  EXPECT_FALSE(config.qk_norm());
  nlohmann::json llama = old_form;
  llama["model_type"] = "llama";
  EXPECT_THROW(ModelConfig::from_json(llama, "config.json"), InputError);
  nlohmann::json bad_heads = old_form;
  bad_heads["num_key_value_heads"] = 3;
  EXPECT_THROW(ModelConfig::from_json(bad_heads, "config.json"), InputError);
  nlohmann::json missing = old_form;
  missing.erase("hidden_size");
  try {
    ModelConfig::from_json(missing, "m/config.json");
    FAIL() << "a missing hidden_size must be refused";
  } catch (const InputError& error) {
    EXPECT_NE(std::string(error.what()).find("\"hidden_size\""), std::string::npos);
  }
}

}  // namespace
}  // namespace grlm
