// A checkpoint as a text encoder for the embed stage, declared without torch types: token id
// sequences in, pooled L2-normalised float32 vectors out.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "grlm/core/device.hpp"

namespace grlm {

class TextEncoder {
 public:
  // `dtype` "auto" is bfloat16 on CUDA and float32 on the CPU; `pooling` "mean" | "last".
  static std::unique_ptr<TextEncoder> load(const std::string& folder, const Device& device, const std::string& dtype,
                                           const std::string& pooling);
  virtual ~TextEncoder() = default;
  virtual int64_t dim() const = 0;
  // sequences.size() x dim floats, row-major.
  virtual std::vector<float> encode(const std::vector<std::vector<int64_t>>& sequences) const = 0;
};

}  // namespace grlm
