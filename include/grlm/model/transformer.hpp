// The Qwen3 / Qwen2 decoder in libtorch: token embedding, pre-norm decoder layers (grouped-query
// attention with Qwen3's q/k RMSNorm or Qwen2's q/k/v biases, rotary positions, SwiGLU MLP), the
// final RMSNorm and a tied or separate LM head. Parameters keep their Hugging Face names, so
// loading and exporting checkpoints is a name-for-name copy.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <ATen/ATen.h>

#include "grlm/model/model_config.hpp"

namespace grlm {

// Keys and values of every layer, preallocated for `capacity` positions of `batch` rows. Rows
// of different lengths are left-padded; the attention mask says which positions are real.
// Memory: 2 * layers * batch * kv_heads * capacity * head_dim * dtype size bytes.
class KvCache {
 public:
  KvCache(const ModelConfig& config, int64_t batch, int64_t capacity, at::ScalarType dtype, at::Device device);
  static int64_t bytes_needed(const ModelConfig& config, int64_t batch, int64_t capacity, at::ScalarType dtype);

  int64_t length() const { return length_; }
  int64_t capacity() const { return capacity_; }
  int64_t batch() const { return keys_.empty() ? 0 : keys_[0].size(0); }
  // Stores `keys`/`values` [B, kv_heads, T, head_dim] of `layer` at positions [length, length + T)
  // and returns the layer's keys and values so far, [B, kv_heads, length + T, head_dim].
  std::pair<at::Tensor, at::Tensor> store(size_t layer, const at::Tensor& keys, const at::Tensor& values);
  void advance(int64_t tokens);  // after every layer stored T positions
  // Row i of the cache becomes old row rows[i] (beam search).
  void select_rows(const at::Tensor& rows);

  // Beam search: after the prompts' pass, each of the B rows becomes `beams` rows that share the
  // prompt's keys and values instead of copying them (memory and row moves then cover only the
  // generated positions). `prompt_mask` [B, P] marks real prompt tokens (undefined: all real).
  // From then on only one new position per step is accepted, through shared_prefix_attention.
  void share_prefix(int64_t beams, const at::Tensor& prompt_mask);
  bool shares_prefix() const { return beams_ > 0; }
  // Stores the step's keys/values [B*beams, kv_heads, 1, head_dim] of `layer` and returns the
  // attention output [B*beams, heads, 1, head_dim] of `query` over prompt + generated positions
  // (scores and values multiplied in the cache's dtype, softmax in float32, as HF's eager path).
  at::Tensor shared_prefix_attention(size_t layer, const at::Tensor& query, const at::Tensor& keys,
                                     const at::Tensor& values, double scale);

 private:
  std::vector<at::Tensor> keys_;    // [rows, kv_heads, capacity, head_dim]; after share_prefix the
  std::vector<at::Tensor> values_;  // generated positions only, [B*beams, kv_heads, capacity - P, head_dim]
  std::vector<at::Tensor> prefix_keys_;    // after share_prefix: the prompts', [B, kv_heads, P, head_dim]
  std::vector<at::Tensor> prefix_values_;
  at::Tensor prefix_bias_;  // [B, 1, 1, P]: 0 for real prompt tokens, -inf for padding
  int64_t capacity_ = 0;
  int64_t length_ = 0;
  int64_t beams_ = 0;
  int64_t prefix_length_ = 0;
};

// Inputs of one forward pass. `attention_mask` [B, past + T] marks real tokens (1) and padding
// (0) over the cached and the new positions; undefined means every position is real.
struct ForwardInputs {
  at::Tensor input_ids;     // [B, T] int64
  at::Tensor position_ids;  // [B, T] int64; undefined: past + 0 .. T-1
  at::Tensor attention_mask;
  KvCache* cache = nullptr;
};

class Transformer {
 public:
  // q/k/v and gate/up live in one tensor each (one matrix product instead of three or two);
  // the Hugging Face tensors are row blocks of them.
  struct Layer {
    at::Tensor input_norm, post_attention_norm;
    at::Tensor qkv_proj, qkv_bias;  // [q + 2 kv, hidden]; bias undefined when the family has none
    at::Tensor q_proj, k_proj, v_proj, o_proj;
    at::Tensor q_bias, k_bias, v_bias, o_bias;
    at::Tensor q_norm, k_norm;  // Qwen3 only
    at::Tensor gate_up_proj;    // [2 intermediate, hidden]
    at::Tensor gate_proj, up_proj, down_proj;
  };

  // Parameters allocated (uninitialised) for `config` on `device` in `dtype`.
  Transformer(ModelConfig config, at::ScalarType dtype, at::Device device);

  const ModelConfig& config() const { return config_; }
  at::ScalarType dtype() const { return dtype_; }
  at::Device device() const { return device_; }

  // Hidden states after the final norm, [B, T, hidden].
  at::Tensor hidden_states(const ForwardInputs& inputs) const;
  // Next-token logits of `hidden` [.., hidden] in the model dtype.
  at::Tensor logits(const at::Tensor& hidden) const;

  // The tensors that hold the parameters (fused q/k/v and gate/up included), named for logs and
  // checkpoints; the optimizer works on these.
  std::vector<std::pair<std::string, at::Tensor>> storage_tensors() const;
  // Every parameter with its Hugging Face name ("model.layers.0.self_attn.q_proj.weight", ...);
  // tied embeddings appear once, as model.embed_tokens.weight.
  std::vector<std::pair<std::string, at::Tensor>> named_parameters() const;
  // Hugging Face's initialisation: N(0, initializer_range) for linear and embedding weights,
  // zeros for biases, ones for norms; identical for a seed on any device and dtype.
  void initialize(uint64_t seed);
  void set_requires_grad(bool requires_grad);
  // Moves every storage tensor (in storage_tensors() order) to the tensor `place` returns for it
  // (same shape, dtype and device, already holding the values) and rebuilds the views on it; the
  // trainer uses this to make the parameters views of one flat buffer.
  void relocate_storage(const std::function<at::Tensor(const std::string& name, const at::Tensor& current)>& place);
  // Training: keep only each decoder layer's input in the forward pass and recompute the layer in
  // the backward pass (memory of one layer's activations instead of all of them).
  void set_activation_checkpointing(bool enabled) { checkpoint_layers_ = enabled; }
  // One decoder layer (pre-norm attention and MLP with their residuals).
  at::Tensor decoder_layer(size_t index, const at::Tensor& hidden, const at::Tensor& cos, const at::Tensor& sin,
                           const at::Tensor& mask, bool causal, KvCache* cache) const;

 private:
  std::vector<std::pair<std::string, at::Tensor*>> storage_slots();
  void rebuild_views();
  at::Tensor attention(const Layer& layer, const at::Tensor& normed, const at::Tensor& cos, const at::Tensor& sin,
                       const at::Tensor& mask, bool causal, size_t layer_index, KvCache* cache) const;
  std::pair<at::Tensor, at::Tensor> rotary_tables(const at::Tensor& position_ids) const;
  at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight) const;

  ModelConfig config_;
  at::ScalarType dtype_;
  at::Device device_;
  at::Tensor embed_tokens_, final_norm_, lm_head_;  // lm_head_ aliases embed_tokens_ when tied
  std::vector<Layer> layers_;
  at::Tensor inv_freq_;  // float32 on device
  double attention_scaling_ = 1.0;
  bool checkpoint_layers_ = false;
};

// Every sequence non-empty and inside the model's vocabulary; InputError naming `what` and the
// sequence's 1-based number otherwise.
void check_token_ids(const ModelConfig& config, const std::vector<std::vector<int64_t>>& sequences, const char* what);

// Checked token id sequences left-padded into one batch on `device` (the tokenizer layer's
// pad_batch does the padding); positions as Hugging Face's generate derives them.
struct LeftPadded {
  at::Tensor input_ids;       // [B, P] int64
  at::Tensor attention_mask;  // [B, P] int64, 1 for real tokens
  at::Tensor positions;       // [B, P] int64
  bool padded = false;        // some row is shorter than the longest
};
LeftPadded left_pad(const ModelConfig& config, const std::vector<std::vector<int64_t>>& sequences, int64_t pad_id,
                    at::Device device, const char* what);

// Position ids from a left-padded mask as Hugging Face's generate derives them: the count of
// real tokens before each position, padding positions set to 1.
at::Tensor positions_from_mask(const at::Tensor& attention_mask);

at::ScalarType parse_dtype(const std::string& name);  // "float32" | "bfloat16" | "float16" | "float64"
std::string dtype_name(at::ScalarType dtype);

}  // namespace grlm
