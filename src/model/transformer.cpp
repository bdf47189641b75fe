#include "grlm/model/transformer.hpp"

#include <cmath>
#include <limits>

#include <ATen/CPUGeneratorImpl.h>
#include <c10/core/GradMode.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/custom_function.h>

#include "grlm/core/error.hpp"
#include "grlm/text/tokenizer.hpp"

namespace grlm {
namespace {

at::Tensor arange_float(int64_t end, int64_t step = 1) {
  return at::arange(0, end, step, at::TensorOptions().dtype(at::kLong)).to(at::kFloat);
}

at::Tensor default_inv_freq(double theta, int64_t dim) {
  return 1.0 / at::pow(theta, arange_float(dim, 2) / static_cast<double>(dim));
}

double yarn_mscale(double scale, double mscale = 1.0) {
  return scale <= 1.0 ? 1.0 : 0.1 * mscale * std::log(scale) + 1.0;
}

// YaRN: interpolated frequencies for long wavelengths, extrapolated for short ones, a linear ramp
// between (https://arxiv.org/abs/2309.00071), and the attention temperature factor.
std::pair<at::Tensor, double> yarn_inv_freq(const RopeConfig& rope, int64_t dim) {
  double attention_factor = 1.0;
  if (rope.attention_factor) {
    attention_factor = *rope.attention_factor;
  } else if (rope.mscale && rope.mscale_all_dim && *rope.mscale != 0 && *rope.mscale_all_dim != 0) {
    attention_factor = yarn_mscale(rope.factor, *rope.mscale) / yarn_mscale(rope.factor, *rope.mscale_all_dim);
  } else {
    attention_factor = yarn_mscale(rope.factor);
  }
  const double beta_fast = rope.beta_fast != 0 ? rope.beta_fast : 32.0;
  const double beta_slow = rope.beta_slow != 0 ? rope.beta_slow : 1.0;
  const auto correction_dim = [&](double rotations) {
    return (static_cast<double>(dim) *
            std::log(static_cast<double>(rope.original_max_position_embeddings) / (rotations * 2 * M_PI))) /
           (2 * std::log(rope.theta));
  };
  double low = correction_dim(beta_fast);
  double high = correction_dim(beta_slow);
  if (rope.truncate) {
    low = std::floor(low);
    high = std::ceil(high);
  }
  low = std::max(low, 0.0);
  high = std::min(high, static_cast<double>(dim - 1));
  if (low == high) high += 0.001;
  const at::Tensor position_freqs = at::pow(rope.theta, arange_float(dim, 2) / static_cast<double>(dim));
  const at::Tensor extrapolation = 1.0 / position_freqs;
  const at::Tensor interpolation = 1.0 / (rope.factor * position_freqs);
  const at::Tensor ramp = at::clamp((at::arange(dim / 2, at::kFloat) - low) / (high - low), 0, 1);
  const at::Tensor extrapolation_factor = 1 - ramp;
  return {interpolation * (1 - extrapolation_factor) + extrapolation * extrapolation_factor, attention_factor};
}

at::Tensor normal_tensor(at::IntArrayRef shape, double std, at::Generator& generator) {
  return at::empty(shape, at::kFloat).normal_(0.0, std, generator);
}

}  // namespace

at::ScalarType parse_dtype(const std::string& name) {
  if (name == "float32" || name == "fp32" || name == "float") return at::kFloat;
  if (name == "bfloat16" || name == "bf16") return at::kBFloat16;
  if (name == "float16" || name == "fp16" || name == "half") return at::kHalf;
  if (name == "float64" || name == "fp64" || name == "double") return at::kDouble;
  throw UsageError(cat("unknown dtype '", name, "' (float32, bfloat16, float16, float64)"));
}

std::string dtype_name(at::ScalarType dtype) {
  switch (dtype) {
    case at::kFloat: return "float32";
    case at::kBFloat16: return "bfloat16";
    case at::kHalf: return "float16";
    case at::kDouble: return "float64";
    default: return c10::toString(dtype);
  }
}

// ---------------------------------------------------------------- KV cache

KvCache::KvCache(const ModelConfig& config, int64_t batch, int64_t capacity, at::ScalarType dtype, at::Device device)
    : capacity_(capacity) {
  const auto options = at::TensorOptions().dtype(dtype).device(device);
  for (int64_t layer = 0; layer < config.num_hidden_layers; ++layer) {
    keys_.push_back(at::empty({batch, config.num_key_value_heads, capacity, config.head_dim}, options));
    values_.push_back(at::empty({batch, config.num_key_value_heads, capacity, config.head_dim}, options));
  }
}

int64_t KvCache::bytes_needed(const ModelConfig& config, int64_t batch, int64_t capacity, at::ScalarType dtype) {
  return 2 * config.num_hidden_layers * batch * config.num_key_value_heads * capacity * config.head_dim *
         static_cast<int64_t>(c10::elementSize(dtype));
}

std::pair<at::Tensor, at::Tensor> KvCache::store(size_t layer, const at::Tensor& keys, const at::Tensor& values) {
  if (shares_prefix()) throw Error("KV cache: after share_prefix, positions go through shared_prefix_attention");
  const int64_t tokens = keys.size(2);
  if (length_ + tokens > capacity_) {
    throw Error(cat("KV cache full: ", length_, " + ", tokens, " positions exceed its capacity of ", capacity_));
  }
  keys_[layer].narrow(2, length_, tokens).copy_(keys);
  values_[layer].narrow(2, length_, tokens).copy_(values);
  return {keys_[layer].narrow(2, 0, length_ + tokens), values_[layer].narrow(2, 0, length_ + tokens)};
}

void KvCache::advance(int64_t tokens) { length_ += tokens; }

void KvCache::select_rows(const at::Tensor& rows) {
  const at::Tensor index = rows.to(keys_.empty() ? at::kCPU : keys_[0].device(), at::kLong);
  // Only the filled positions move; the buffers keep their capacity.
  const int64_t filled_length = length_ - prefix_length_;
  if (filled_length == 0) return;
  for (size_t layer = 0; layer < keys_.size(); ++layer) {
    for (at::Tensor* buffer : {&keys_[layer], &values_[layer]}) {
      at::Tensor filled = buffer->narrow(2, 0, filled_length);
      filled.copy_(filled.index_select(0, index));
    }
  }
}

void KvCache::share_prefix(int64_t beams, const at::Tensor& prompt_mask) {
  if (shares_prefix()) throw Error("KV cache: share_prefix called twice");
  if (beams < 1) throw Error("KV cache: share_prefix needs at least one beam");
  prefix_length_ = length_;
  beams_ = beams;
  for (size_t layer = 0; layer < keys_.size(); ++layer) {
    prefix_keys_.push_back(keys_[layer].narrow(2, 0, prefix_length_));
    prefix_values_.push_back(values_[layer].narrow(2, 0, prefix_length_));
    const auto shape = keys_[layer].sizes();
    const at::TensorOptions options = keys_[layer].options();
    keys_[layer] = at::empty({shape[0] * beams, shape[1], capacity_ - prefix_length_, shape[3]}, options);
    values_[layer] = at::empty({shape[0] * beams, shape[1], capacity_ - prefix_length_, shape[3]}, options);
  }
  if (prompt_mask.defined() && !keys_.empty()) {
    const at::Tensor real = prompt_mask.to(keys_[0].device()).to(at::kBool);
    prefix_bias_ = at::zeros(real.sizes(), keys_[0].options().dtype(at::kFloat))
                       .masked_fill_(real.logical_not(), -std::numeric_limits<float>::infinity())
                       .view({real.size(0), 1, 1, real.size(1)});
  }
}

at::Tensor KvCache::shared_prefix_attention(size_t layer, const at::Tensor& query, const at::Tensor& keys,
                                            const at::Tensor& values, double scale) {
  const int64_t generated = length_ - prefix_length_;
  if (keys.size(2) != 1) throw Error("KV cache: a shared prefix takes one new position per step");
  if (prefix_length_ + generated + 1 > capacity_) {
    throw Error(cat("KV cache full: ", length_, " + 1 positions exceed its capacity of ", capacity_));
  }
  keys_[layer].narrow(2, generated, 1).copy_(keys);
  values_[layer].narrow(2, generated, 1).copy_(values);
  const int64_t rows = query.size(0);
  const int64_t prompts = rows / beams_;
  const int64_t kv_heads = keys.size(1);
  const int64_t group = query.size(1) / kv_heads;  // query heads per key/value head, consecutive
  const int64_t head_dim = query.size(3);
  const int64_t steps = generated + 1;
  // Query heads of one prompt's beams side by side, [B, kv_heads, beams * group, head_dim]: the
  // prompt part is one batched product per prompt instead of one per beam.
  const auto per_prompt = [&](const at::Tensor& x, int64_t last) {
    return x.reshape({prompts, beams_, kv_heads, group, last}).permute({0, 2, 1, 3, 4}).reshape({prompts, kv_heads, beams_ * group, last});
  };
  const auto per_row = [&](const at::Tensor& x, int64_t last) {
    return x.reshape({prompts, kv_heads, beams_, group, last}).permute({0, 2, 1, 3, 4}).reshape({rows, kv_heads, group, last});
  };
  const at::Tensor grouped_query = query.reshape({rows, kv_heads, group, head_dim});
  at::Tensor prompt_scores = at::matmul(per_prompt(grouped_query, head_dim), prefix_keys_[layer].transpose(-1, -2)).to(at::kFloat);
  if (prefix_bias_.defined()) prompt_scores = prompt_scores + prefix_bias_;
  const at::Tensor own_keys = keys_[layer].narrow(2, 0, steps);
  const at::Tensor own_scores = per_prompt(at::matmul(grouped_query, own_keys.transpose(-1, -2)).to(at::kFloat), steps);
  const at::Tensor probabilities =
      (at::cat({prompt_scores, own_scores}, -1) * scale).softmax(-1).to(query.scalar_type());
  const at::Tensor from_prompt = at::matmul(probabilities.narrow(-1, 0, prefix_length_), prefix_values_[layer]);
  const at::Tensor from_own =
      at::matmul(per_row(probabilities.narrow(-1, prefix_length_, steps), steps), values_[layer].narrow(2, 0, steps));
  return (per_row(from_prompt, head_dim) + from_own).reshape({rows, kv_heads * group, 1, head_dim});
}

// ---------------------------------------------------------------- model

Transformer::Transformer(ModelConfig config, at::ScalarType dtype, at::Device device)
    : config_(std::move(config)), dtype_(dtype), device_(device) {
  const auto options = at::TensorOptions().dtype(dtype).device(device);
  const int64_t hidden = config_.hidden_size;
  const int64_t q_width = config_.num_attention_heads * config_.head_dim;
  const int64_t kv_width = config_.num_key_value_heads * config_.head_dim;
  embed_tokens_ = at::empty({config_.vocab_size, hidden}, options);
  final_norm_ = at::empty({hidden}, options);
  if (!config_.tie_word_embeddings) lm_head_ = at::empty({config_.vocab_size, hidden}, options);
  for (int64_t index = 0; index < config_.num_hidden_layers; ++index) {
    Layer layer;
    layer.input_norm = at::empty({hidden}, options);
    layer.post_attention_norm = at::empty({hidden}, options);
    layer.qkv_proj = at::empty({q_width + 2 * kv_width, hidden}, options);
    layer.o_proj = at::empty({hidden, q_width}, options);
    if (config_.qkv_bias()) layer.qkv_bias = at::empty({q_width + 2 * kv_width}, options);
    if (config_.o_bias()) layer.o_bias = at::empty({hidden}, options);
    if (config_.qk_norm()) {
      layer.q_norm = at::empty({config_.head_dim}, options);
      layer.k_norm = at::empty({config_.head_dim}, options);
    }
    layer.gate_up_proj = at::empty({2 * config_.intermediate_size, hidden}, options);
    layer.down_proj = at::empty({hidden, config_.intermediate_size}, options);
    layers_.push_back(std::move(layer));
  }
  rebuild_views();
  const RopeConfig& rope = config_.rope;
  const int64_t dim = config_.rotary_dim();
  at::Tensor inv_freq;
  if (rope.type == "yarn") {
    std::tie(inv_freq, attention_scaling_) = yarn_inv_freq(rope, dim);
  } else {
    inv_freq = default_inv_freq(rope.theta, dim);
    if (rope.type == "linear") inv_freq = inv_freq / rope.factor;
  }
  inv_freq_ = inv_freq.to(device);
}

std::vector<std::pair<std::string, at::Tensor>> Transformer::named_parameters() const {
  std::vector<std::pair<std::string, at::Tensor>> named;
  named.emplace_back("model.embed_tokens.weight", embed_tokens_);
  for (size_t index = 0; index < layers_.size(); ++index) {
    const Layer& layer = layers_[index];
    const std::string prefix = cat("model.layers.", index, ".");
    named.emplace_back(prefix + "input_layernorm.weight", layer.input_norm);
    named.emplace_back(prefix + "self_attn.q_proj.weight", layer.q_proj);
    if (layer.q_bias.defined()) named.emplace_back(prefix + "self_attn.q_proj.bias", layer.q_bias);
    named.emplace_back(prefix + "self_attn.k_proj.weight", layer.k_proj);
    if (layer.k_bias.defined()) named.emplace_back(prefix + "self_attn.k_proj.bias", layer.k_bias);
    named.emplace_back(prefix + "self_attn.v_proj.weight", layer.v_proj);
    if (layer.v_bias.defined()) named.emplace_back(prefix + "self_attn.v_proj.bias", layer.v_bias);
    named.emplace_back(prefix + "self_attn.o_proj.weight", layer.o_proj);
    if (layer.o_bias.defined()) named.emplace_back(prefix + "self_attn.o_proj.bias", layer.o_bias);
    if (layer.q_norm.defined()) {
      named.emplace_back(prefix + "self_attn.q_norm.weight", layer.q_norm);
      named.emplace_back(prefix + "self_attn.k_norm.weight", layer.k_norm);
    }
    named.emplace_back(prefix + "post_attention_layernorm.weight", layer.post_attention_norm);
    named.emplace_back(prefix + "mlp.gate_proj.weight", layer.gate_proj);
    named.emplace_back(prefix + "mlp.up_proj.weight", layer.up_proj);
    named.emplace_back(prefix + "mlp.down_proj.weight", layer.down_proj);
  }
  named.emplace_back("model.norm.weight", final_norm_);
  if (!config_.tie_word_embeddings) named.emplace_back("lm_head.weight", lm_head_);
  return named;
}

std::vector<std::pair<std::string, at::Tensor*>> Transformer::storage_slots() {
  std::vector<std::pair<std::string, at::Tensor*>> slots;
  slots.emplace_back("model.embed_tokens.weight", &embed_tokens_);
  for (size_t index = 0; index < layers_.size(); ++index) {
    Layer& layer = layers_[index];
    const std::string prefix = cat("model.layers.", index, ".");
    slots.emplace_back(prefix + "input_layernorm.weight", &layer.input_norm);
    slots.emplace_back(prefix + "self_attn.qkv_proj.weight", &layer.qkv_proj);
    if (layer.qkv_bias.defined()) slots.emplace_back(prefix + "self_attn.qkv_proj.bias", &layer.qkv_bias);
    slots.emplace_back(prefix + "self_attn.o_proj.weight", &layer.o_proj);
    if (layer.o_bias.defined()) slots.emplace_back(prefix + "self_attn.o_proj.bias", &layer.o_bias);
    if (layer.q_norm.defined()) {
      slots.emplace_back(prefix + "self_attn.q_norm.weight", &layer.q_norm);
      slots.emplace_back(prefix + "self_attn.k_norm.weight", &layer.k_norm);
    }
    slots.emplace_back(prefix + "post_attention_layernorm.weight", &layer.post_attention_norm);
    slots.emplace_back(prefix + "mlp.gate_up_proj.weight", &layer.gate_up_proj);
    slots.emplace_back(prefix + "mlp.down_proj.weight", &layer.down_proj);
  }
  slots.emplace_back("model.norm.weight", &final_norm_);
  if (!config_.tie_word_embeddings) slots.emplace_back("lm_head.weight", &lm_head_);
  return slots;
}

std::vector<std::pair<std::string, at::Tensor>> Transformer::storage_tensors() const {
  std::vector<std::pair<std::string, at::Tensor>> storage;
  for (auto& [name, slot] : const_cast<Transformer*>(this)->storage_slots()) storage.emplace_back(name, *slot);
  return storage;
}

// The Hugging Face tensors q/k/v and gate/up are row blocks of the fused storage.
void Transformer::rebuild_views() {
  const int64_t q_width = config_.num_attention_heads * config_.head_dim;
  const int64_t kv_width = config_.num_key_value_heads * config_.head_dim;
  const int64_t intermediate = config_.intermediate_size;
  if (config_.tie_word_embeddings) lm_head_ = embed_tokens_;
  for (Layer& layer : layers_) {
    layer.q_proj = layer.qkv_proj.narrow(0, 0, q_width);
    layer.k_proj = layer.qkv_proj.narrow(0, q_width, kv_width);
    layer.v_proj = layer.qkv_proj.narrow(0, q_width + kv_width, kv_width);
    if (layer.qkv_bias.defined()) {
      layer.q_bias = layer.qkv_bias.narrow(0, 0, q_width);
      layer.k_bias = layer.qkv_bias.narrow(0, q_width, kv_width);
      layer.v_bias = layer.qkv_bias.narrow(0, q_width + kv_width, kv_width);
    }
    layer.gate_proj = layer.gate_up_proj.narrow(0, 0, intermediate);
    layer.up_proj = layer.gate_up_proj.narrow(0, intermediate, intermediate);
  }
}

void Transformer::relocate_storage(
    const std::function<at::Tensor(const std::string& name, const at::Tensor& current)>& place) {
  for (auto& [name, slot] : storage_slots()) {
    at::Tensor moved = place(name, *slot);
    if (!moved.sizes().equals(slot->sizes()) || moved.scalar_type() != slot->scalar_type() ||
        moved.device() != slot->device()) {
      throw Error(cat("relocate_storage: the new tensor of ", name, " differs in shape, dtype or device"));
    }
    *slot = moved;
  }
  rebuild_views();
}

void Transformer::initialize(uint64_t seed) {
  c10::NoGradGuard no_grad;
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  const double std = config_.initializer_range;
  for (auto& [name, parameter] : named_parameters()) {
    at::Tensor value;
    const bool is_norm = name.find("norm.weight") != std::string::npos;
    if (is_norm) {
      value = at::ones(parameter.sizes(), at::kFloat);
    } else if (name.size() > 5 && name.compare(name.size() - 5, 5, ".bias") == 0) {
      value = at::zeros(parameter.sizes(), at::kFloat);
    } else {
      value = normal_tensor(parameter.sizes(), std, generator);
      if (name == "model.embed_tokens.weight" && config_.pad_token_id && *config_.pad_token_id >= 0 &&
          *config_.pad_token_id < config_.vocab_size) {
        value[*config_.pad_token_id].zero_();
      }
    }
    parameter.copy_(value);
  }
}

void Transformer::set_requires_grad(bool requires_grad) {
  for (auto& [name, tensor] : storage_tensors()) tensor.requires_grad_(requires_grad);
}

at::Tensor Transformer::rms_norm(const at::Tensor& x, const at::Tensor& weight) const {
  const at::Tensor as_float = x.to(at::kFloat);
  const at::Tensor variance = as_float.pow(2).mean(-1, true);
  return weight * (as_float * at::rsqrt(variance + config_.rms_norm_eps)).to(x.scalar_type());
}

std::pair<at::Tensor, at::Tensor> Transformer::rotary_tables(const at::Tensor& position_ids) const {
  at::Tensor inv_freq = inv_freq_;
  const RopeConfig& rope = config_.rope;
  if (rope.type == "dynamic") {
    // NTK-aware scaling grows the base once sequences pass the trained length.
    const int64_t seq_len = position_ids.max().item<int64_t>() + 1;
    if (seq_len > config_.max_position_embeddings) {
      const double dim = static_cast<double>(config_.rotary_dim());
      const double base = rope.theta * std::pow(rope.factor * static_cast<double>(seq_len) /
                                                        static_cast<double>(config_.max_position_embeddings) -
                                                    (rope.factor - 1),
                                                dim / (dim - 2));
      inv_freq = default_inv_freq(base, config_.rotary_dim()).to(device_);
    }
  }
  const at::Tensor freqs = position_ids.unsqueeze(-1).to(at::kFloat) * inv_freq;
  const at::Tensor angles = at::cat({freqs, freqs}, -1);
  at::Tensor cos = angles.cos();
  at::Tensor sin = angles.sin();
  if (attention_scaling_ != 1.0) {
    cos = cos * attention_scaling_;
    sin = sin * attention_scaling_;
  }
  return {cos.to(dtype_).unsqueeze(1), sin.to(dtype_).unsqueeze(1)};
}

namespace {

at::Tensor rotate_half(const at::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  return at::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
}

at::Tensor apply_rotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  const int64_t rotary = cos.size(-1);
  if (rotary == x.size(-1)) return x * cos + rotate_half(x) * sin;
  const at::Tensor rotated = x.narrow(-1, 0, rotary);
  return at::cat({rotated * cos + rotate_half(rotated) * sin, x.narrow(-1, rotary, x.size(-1) - rotary)}, -1);
}

}  // namespace

at::Tensor Transformer::attention(const Layer& layer, const at::Tensor& normed, const at::Tensor& cos,
                                  const at::Tensor& sin, const at::Tensor& mask, bool causal, size_t layer_index,
                                  KvCache* cache) const {
  const int64_t batch = normed.size(0);
  const int64_t tokens = normed.size(1);
  const int64_t head_dim = config_.head_dim;
  const int64_t query_heads = config_.num_attention_heads;
  const int64_t kv_heads = config_.num_key_value_heads;
  const at::Tensor qkv = at::linear(normed, layer.qkv_proj, layer.qkv_bias).view({batch, tokens, -1, head_dim});
  // Queries and keys get their norm and rotation in one pass: the heads side by side.
  at::Tensor query_key = qkv.narrow(2, 0, query_heads + kv_heads);
  if (layer.q_norm.defined()) {
    const at::Tensor weight = at::cat({layer.q_norm.expand({query_heads, head_dim}), layer.k_norm.expand({kv_heads, head_dim})});
    query_key = rms_norm(query_key, weight);
  }
  query_key = apply_rotary(query_key.transpose(1, 2), cos, sin);
  const at::Tensor query = query_key.narrow(1, 0, query_heads);
  at::Tensor key = query_key.narrow(1, query_heads, kv_heads);
  at::Tensor value = qkv.narrow(2, query_heads + kv_heads, kv_heads).transpose(1, 2);
  if (cache && cache->shares_prefix()) {
    const at::Tensor output = cache->shared_prefix_attention(layer_index, query, key, value,
                                                             1.0 / std::sqrt(static_cast<double>(head_dim)));
    return at::linear(output.transpose(1, 2).reshape({batch, tokens, -1}), layer.o_proj, layer.o_bias);
  }
  if (cache) std::tie(key, value) = cache->store(layer_index, key, value);
  const bool grouped = config_.num_key_value_heads != config_.num_attention_heads;
  at::Tensor output = at::scaled_dot_product_attention(
      query, key, value, mask.defined() ? std::optional<at::Tensor>(mask) : std::nullopt, 0.0, causal && !mask.defined(),
      1.0 / std::sqrt(static_cast<double>(head_dim)), grouped);
  output = output.transpose(1, 2).reshape({batch, tokens, -1});
  return at::linear(output, layer.o_proj, layer.o_bias);
}

at::Tensor Transformer::decoder_layer(size_t index, const at::Tensor& hidden, const at::Tensor& cos,
                                      const at::Tensor& sin, const at::Tensor& mask, bool causal, KvCache* cache) const {
  const Layer& layer = layers_[index];
  const at::Tensor attended = hidden + attention(layer, rms_norm(hidden, layer.input_norm), cos, sin, mask, causal, index, cache);
  const at::Tensor normed = rms_norm(attended, layer.post_attention_norm);
  const at::Tensor gate_up = at::linear(normed, layer.gate_up_proj);
  const int64_t intermediate = config_.intermediate_size;
  return attended + at::linear(at::silu(gate_up.narrow(-1, 0, intermediate)) * gate_up.narrow(-1, intermediate, intermediate),
                               layer.down_proj);
}

namespace {

// Activation checkpointing: the forward pass runs the layer without recording a graph and keeps
// only its input; the backward pass recomputes the layer with a graph and back-propagates through
// it, which accumulates the parameters' gradients (they are leaves) and gives the input's.
struct LayerExtras {
  at::Tensor cos, sin, mask;  // mask undefined: plain causal attention
  bool causal = true;
};

struct CheckpointedLayer : torch::autograd::Function<CheckpointedLayer> {
  static at::Tensor forward(torch::autograd::AutogradContext* context, const Transformer* model, int64_t index,
                            const at::Tensor& hidden, const LayerExtras* extras) {
    context->saved_data["model"] = reinterpret_cast<int64_t>(model);
    context->saved_data["index"] = index;
    context->saved_data["causal"] = extras->causal;
    context->saved_data["cos"] = extras->cos;
    context->saved_data["sin"] = extras->sin;
    if (extras->mask.defined()) context->saved_data["mask"] = extras->mask;
    context->save_for_backward({hidden});
    c10::NoGradGuard no_grad;
    return model->decoder_layer(static_cast<size_t>(index), hidden, extras->cos, extras->sin, extras->mask, extras->causal,
                                nullptr);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* context,
                                                 torch::autograd::variable_list output_grads) {
    const auto* model = reinterpret_cast<const Transformer*>(context->saved_data["model"].toInt());
    const at::Tensor mask = context->saved_data.count("mask") ? context->saved_data["mask"].toTensor() : at::Tensor();
    const at::Tensor input = context->get_saved_variables()[0].detach().requires_grad_(true);
    at::Tensor output;
    {
      c10::AutoGradMode with_grad(true);
      output = model->decoder_layer(static_cast<size_t>(context->saved_data["index"].toInt()), input,
                                    context->saved_data["cos"].toTensor(), context->saved_data["sin"].toTensor(), mask,
                                    context->saved_data["causal"].toBool(), nullptr);
    }
    torch::autograd::backward({output}, {output_grads[0]});
    return {at::Tensor(), at::Tensor(), input.grad(), at::Tensor()};
  }
};

}  // namespace

at::Tensor Transformer::hidden_states(const ForwardInputs& inputs) const {
  const at::Tensor& input_ids = inputs.input_ids;
  const int64_t batch = input_ids.size(0);
  const int64_t tokens = input_ids.size(1);
  const int64_t past = inputs.cache ? inputs.cache->length() : 0;
  at::Tensor position_ids = inputs.position_ids;
  if (!position_ids.defined()) {
    position_ids = at::arange(past, past + tokens, at::TensorOptions().dtype(at::kLong).device(device_)).unsqueeze(0).expand({batch, tokens});
  }
  // Without padding and without a cache prefix, plain causal attention (fused kernels); otherwise
  // an explicit mask: causal over cache + new positions, padding keys hidden. A query always sees
  // itself, so padding rows stay finite and never poison the cache.
  at::Tensor mask;
  const bool causal_only = !inputs.attention_mask.defined() && past == 0;
  if (!causal_only) {
    const int64_t total = past + tokens;
    const auto long_options = at::TensorOptions().dtype(at::kLong).device(device_);
    const at::Tensor key_index = at::arange(total, long_options).view({1, 1, 1, total});
    const at::Tensor query_index = at::arange(past, total, long_options).view({1, 1, tokens, 1});
    mask = key_index <= query_index;
    if (inputs.attention_mask.defined()) {
      const at::Tensor real = inputs.attention_mask.to(device_).to(at::kBool).view({batch, 1, 1, total});
      mask = (mask & real) | (key_index == query_index);
    } else {
      mask = mask.expand({batch, 1, tokens, total});
    }
  }
  const auto [cos, sin] = rotary_tables(position_ids.to(device_));
  at::Tensor hidden = at::embedding(embed_tokens_, input_ids.to(device_));
  const bool recompute = checkpoint_layers_ && c10::GradMode::is_enabled() && inputs.cache == nullptr;
  const LayerExtras extras{cos, sin, mask, causal_only};
  for (size_t index = 0; index < layers_.size(); ++index) {
    hidden = recompute ? CheckpointedLayer::apply(this, static_cast<int64_t>(index), hidden, &extras)
                       : decoder_layer(index, hidden, cos, sin, mask, causal_only, inputs.cache);
  }
  if (inputs.cache) inputs.cache->advance(tokens);
  return rms_norm(hidden, final_norm_);
}

at::Tensor Transformer::logits(const at::Tensor& hidden) const { return at::linear(hidden, lm_head_); }

void check_token_ids(const ModelConfig& config, const std::vector<std::vector<int64_t>>& sequences, const char* what) {
  for (size_t i = 0; i < sequences.size(); ++i) {
    if (sequences[i].empty()) throw InputError(cat(what, " ", i + 1, " is empty: the model needs at least one token"));
    for (int64_t id : sequences[i]) {
      if (id < 0 || id >= config.vocab_size) {
        throw InputError(cat(what, " ", i + 1, ": token id ", id, " is outside the vocabulary [0, ", config.vocab_size, ")"));
      }
    }
  }
}

LeftPadded left_pad(const ModelConfig& config, const std::vector<std::vector<int64_t>>& sequences, int64_t pad_id,
                    at::Device device, const char* what) {
  check_token_ids(config, sequences, what);
  std::vector<std::vector<TokenId>> narrow;  // ids fit TokenId once inside the vocabulary
  narrow.reserve(sequences.size());
  for (const auto& sequence : sequences) narrow.emplace_back(sequence.begin(), sequence.end());
  PaddedBatch batch = pad_batch(narrow, static_cast<TokenId>(pad_id), Side::Left);
  const auto rows = static_cast<int64_t>(batch.rows);
  const auto columns = static_cast<int64_t>(batch.columns);
  LeftPadded padded;
  const at::Tensor mask = at::from_blob(batch.attention_mask.data(), {rows, columns}, at::kByte).to(at::kLong);
  padded.input_ids = at::from_blob(batch.ids.data(), {rows, columns}, at::kInt).to(device, at::kLong);
  padded.attention_mask = mask.to(device);
  padded.positions = positions_from_mask(mask).to(device);
  padded.padded = std::any_of(sequences.begin(), sequences.end(),
                              [&](const auto& sequence) { return static_cast<int64_t>(sequence.size()) < columns; });
  return padded;
}

at::Tensor positions_from_mask(const at::Tensor& attention_mask) {
  at::Tensor positions = attention_mask.to(at::kLong).cumsum(-1) - 1;
  return positions.masked_fill(attention_mask.to(at::kBool).logical_not(), 1);
}

}  // namespace grlm
