#include "grlm/model/checkpoint.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <set>

#include <c10/core/GradMode.h>
#include <nlohmann/json.hpp>

#include "grlm/core/error.hpp"
#include "grlm/data/text_file.hpp"
#include "grlm/model/safetensors.hpp"

namespace grlm {
namespace {

namespace fs = std::filesystem;

at::ScalarType torch_type(SafeDtype dtype) {
  switch (dtype) {
    case SafeDtype::F32: return at::kFloat;
    case SafeDtype::BF16: return at::kBFloat16;
    case SafeDtype::F16: return at::kHalf;
    case SafeDtype::F64: return at::kDouble;
    default: throw std::invalid_argument(cat("dtype ", safe_dtype_name(dtype), " is not a floating-point weight type (F32, BF16, F16, F64)"));
  }
}

SafeDtype safe_type(at::ScalarType dtype) {
  switch (dtype) {
    case at::kFloat: return SafeDtype::F32;
    case at::kBFloat16: return SafeDtype::BF16;
    case at::kHalf: return SafeDtype::F16;
    case at::kDouble: return SafeDtype::F64;
    default: throw Error(cat("cannot export dtype ", dtype_name(dtype)));
  }
}

// The weight files of a checkpoint folder and which file holds which tensor.
struct WeightFiles {
  std::vector<SafetensorsFile> files;
  std::map<std::string, const SafeTensorView*> tensors;
  std::map<std::string, std::string> file_of;
};

WeightFiles open_weights(const fs::path& folder) {
  WeightFiles weights;
  const fs::path index_path = folder / "model.safetensors.index.json";
  std::vector<fs::path> shard_paths;
  nlohmann::json weight_map;
  if (fs::exists(index_path)) {
    nlohmann::json index;
    try {
      index = nlohmann::json::parse(read_file_bytes(index_path));
    } catch (const nlohmann::json::parse_error& error) {
      throw InputError(cat(index_path.string(), ": not valid JSON (", error.what(), ")"));
    }
    if (!index.contains("weight_map") || !index["weight_map"].is_object()) {
      throw InputError(cat(index_path.string(), ": no \"weight_map\" object"));
    }
    weight_map = index["weight_map"];
    std::set<std::string> shard_names;
    for (const auto& [name, file] : weight_map.items()) {
      if (!file.is_string()) throw InputError(cat(index_path.string(), ": weight_map[\"", name, "\"] is not a file name"));
      const std::string shard = file.get<std::string>();
      if (shard.find('/') != std::string::npos || shard == "..") {
        throw InputError(cat(index_path.string(), ": weight_map[\"", name, "\"] names a file outside the folder: ", shard));
      }
      shard_names.insert(shard);
    }
    for (const std::string& shard : shard_names) shard_paths.push_back(folder / shard);
  } else if (fs::exists(folder / "model.safetensors")) {
    shard_paths.push_back(folder / "model.safetensors");
  } else {
    throw InputError(cat(folder.string(), ": no model.safetensors or model.safetensors.index.json"));
  }
  weights.files.reserve(shard_paths.size());
  for (const fs::path& shard : shard_paths) weights.files.push_back(SafetensorsFile::open(shard));
  for (const SafetensorsFile& file : weights.files) {
    for (const auto& [name, view] : file.tensors()) {
      if (weights.tensors.count(name)) {
        throw InputError(cat(file.path().string(), ": tensor \"", name, "\" also in ", weights.file_of[name]));
      }
      if (!weight_map.is_null()) {
        if (!weight_map.contains(name) || folder / weight_map[name].get<std::string>() != file.path()) {
          throw InputError(cat(file.path().string(), ": tensor \"", name, "\" is not listed for this file in ",
                               index_path.string()));
        }
      }
      weights.tensors[name] = &view;
      weights.file_of[name] = file.path().string();
    }
  }
  if (!weight_map.is_null()) {
    for (const auto& [name, file] : weight_map.items()) {
      if (!weights.tensors.count(name)) {
        throw InputError(cat(index_path.string(), ": tensor \"", name, "\" is listed but missing from ", file.get<std::string>()));
      }
    }
  }
  return weights;
}

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void copy_into(at::Tensor& parameter, const SafeTensorView& view, const std::string& file) {
  at::ScalarType source_type;
  try {
    source_type = torch_type(view.dtype);
  } catch (const std::invalid_argument& error) {
    throw InputError(cat(file, ": tensor \"", view.name, "\": ", error.what()));
  }
  if (view.shape != std::vector<int64_t>(parameter.sizes().begin(), parameter.sizes().end())) {
    throw InputError(cat(file, ": tensor \"", view.name, "\" has shape ", nlohmann::json(view.shape).dump(),
                         " but config.json implies ", nlohmann::json(std::vector<int64_t>(parameter.sizes().begin(), parameter.sizes().end())).dump()));
  }
  at::Tensor source;
  const size_t alignment = safe_dtype_size(view.dtype);
  if (reinterpret_cast<uintptr_t>(view.data) % alignment == 0) {
    source = at::from_blob(const_cast<std::byte*>(view.data), view.shape, at::TensorOptions().dtype(source_type));
  } else {
    source = at::empty(view.shape, at::TensorOptions().dtype(source_type));
    std::memcpy(source.data_ptr(), view.data, view.bytes);
  }
  c10::NoGradGuard no_grad;
  parameter.copy_(source);
}

}  // namespace

Transformer load_pretrained(const fs::path& folder, const LoadOptions& options) {
  const ModelConfig config = ModelConfig::load(folder);
  const at::ScalarType dtype = options.dtype ? *options.dtype : parse_dtype(config.torch_dtype);
  WeightFiles weights = open_weights(folder);
  // Qwen3Model checkpoints (Qwen3-Embedding) name tensors without the "model." prefix.
  const bool bare_names = !weights.tensors.count("model.embed_tokens.weight") && weights.tensors.count("embed_tokens.weight");
  Transformer model(config, dtype, options.device);
  std::set<std::string> used;
  for (auto& [name, parameter] : model.named_parameters()) {
    std::string stored = name;
    if (bare_names && stored.rfind("model.", 0) == 0) stored = stored.substr(6);
    if (name == "lm_head.weight" && !options.require_lm_head && !weights.tensors.count(stored)) continue;
    const auto found = weights.tensors.find(stored);
    if (found == weights.tensors.end()) {
      throw InputError(cat(folder.string(), ": tensor \"", stored, "\" is missing from the checkpoint (config.json says ",
                           config.model_type, " with ", config.num_hidden_layers, " layers",
                           config.tie_word_embeddings ? ", tied embeddings" : ", separate lm_head", ")"));
    }
    copy_into(parameter, *found->second, weights.file_of[stored]);
    used.insert(stored);
  }
  for (const auto& [name, view] : weights.tensors) {
    if (used.count(name) || ends_with(name, "rotary_emb.inv_freq")) continue;
    if (name == "lm_head.weight" && config.tie_word_embeddings) continue;  // some exports keep the tied copy
    throw InputError(cat(weights.file_of[name], ": unexpected tensor \"", name, "\" for a ", config.model_type,
                         " model with ", config.num_hidden_layers, " layers (config.json and weights disagree)"));
  }
  return model;
}

Transformer init_from_config(const ModelConfig& config, uint64_t seed, at::ScalarType dtype, at::Device device) {
  Transformer model(config, dtype, device);
  model.initialize(seed);
  return model;
}

void save_pretrained(const Transformer& model, const fs::path& folder, at::ScalarType dtype,
                     const std::optional<fs::path>& tokenizer_folder) {
  fs::create_directories(folder);
  std::vector<at::Tensor> host_tensors;
  std::vector<SafeTensorOut> outputs;
  for (const auto& [name, parameter] : model.named_parameters()) {
    at::Tensor host = parameter.detach().to(at::kCPU, dtype).contiguous();
    host_tensors.push_back(host);
    SafeTensorOut out;
    out.name = name;
    out.dtype = safe_type(dtype);
    out.shape.assign(host.sizes().begin(), host.sizes().end());
    out.data = std::span<const std::byte>(static_cast<const std::byte*>(host.data_ptr()), host.nbytes());
    outputs.push_back(std::move(out));
  }
  write_safetensors(folder / "model.safetensors", outputs);
  ModelConfig config = model.config();
  config.torch_dtype = dtype_name(dtype);
  const auto write_json = [&](const fs::path& path, const nlohmann::json& json) {
    std::ofstream out(path, std::ios::trunc);
    out << json.dump(2) << "\n";
    out.close();  // a full disk shows when the buffer is written out
    if (!out) throw Error(cat("cannot write ", path.string(), ": ", std::strerror(errno)));
  };
  write_json(folder / "config.json", config.to_json());
  nlohmann::json generation = {{"_from_model_config", true}};
  if (config.eos_token_ids.size() == 1) generation["eos_token_id"] = config.eos_token_ids[0];
  else if (!config.eos_token_ids.empty()) generation["eos_token_id"] = config.eos_token_ids;
  if (config.bos_token_id) generation["bos_token_id"] = *config.bos_token_id;
  if (config.pad_token_id) generation["pad_token_id"] = *config.pad_token_id;
  write_json(folder / "generation_config.json", generation);
  if (tokenizer_folder) {
    for (const char* name : {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json",
                             "merges.txt", "added_tokens.json", "chat_template.jinja"}) {
      const fs::path source = *tokenizer_folder / name;
      if (fs::exists(source) && fs::absolute(source) != fs::absolute(folder / name)) {
        fs::copy_file(source, folder / name, fs::copy_options::overwrite_existing);
      }
    }
  }
}

}  // namespace grlm
