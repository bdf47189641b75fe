#include "grlm/model/encoder.hpp"

#include <c10/core/InferenceMode.h>

#include "grlm/core/error.hpp"

namespace grlm {

Pooling parse_pooling(const std::string& name) {
  if (name == "mean") return Pooling::Mean;
  if (name == "last") return Pooling::Last;
  throw UsageError(cat("unknown pooling '", name, "' (mean or last)"));
}

at::Tensor encode_sequences(const Transformer& model, const std::vector<std::vector<int64_t>>& sequences, Pooling pooling,
                            bool normalize) {
  c10::InferenceMode inference;
  const LeftPadded padded = left_pad(model.config(), sequences, 0, model.device(), "sequence");
  const at::Tensor& device_mask = padded.attention_mask;
  const at::Tensor hidden =
      model.hidden_states({padded.input_ids, padded.positions, device_mask, nullptr}).to(at::kFloat);
  const int64_t longest = padded.input_ids.size(1);
  at::Tensor pooled;
  if (pooling == Pooling::Last) {
    pooled = hidden.select(1, longest - 1);  // left padding: every row ends in the last column
  } else {
    const at::Tensor weights = device_mask.to(at::kFloat).unsqueeze(-1);
    pooled = (hidden * weights).sum(1) / weights.sum(1);
  }
  if (normalize) pooled = pooled / pooled.norm(2, -1, true).clamp_min(1e-12);
  return pooled;
}

}  // namespace grlm

#include "grlm/model/checkpoint.hpp"
#include "grlm/model/text_encoder.hpp"
#include "grlm/model/dtype.hpp"

namespace grlm {
namespace {

class CheckpointEncoder final : public TextEncoder {
 public:
  CheckpointEncoder(Transformer model, Pooling pooling) : model_(std::move(model)), pooling_(pooling) {}
  int64_t dim() const override { return model_.config().hidden_size; }
  std::vector<float> encode(const std::vector<std::vector<int64_t>>& sequences) const override {
    const at::Tensor vectors = encode_sequences(model_, sequences, pooling_, true).cpu().contiguous();
    return std::vector<float>(vectors.data_ptr<float>(), vectors.data_ptr<float>() + vectors.numel());
  }

 private:
  Transformer model_;
  Pooling pooling_;
};

}  // namespace

std::unique_ptr<TextEncoder> TextEncoder::load(const std::string& folder, const Device& device, const std::string& dtype,
                                               const std::string& pooling) {
  LoadOptions options = load_options_on(device, dtype, "encoder", folder);
  options.require_lm_head = false;
  return std::make_unique<CheckpointEncoder>(load_pretrained(folder, options), parse_pooling(pooling));
}

}  // namespace grlm
