// Test vectors for the similarity ring (tests/test_similarity.cpp, tests/gpu/similar_gpu.cpp):
// small integers, so every dot product is exact in float32 and bfloat16 and ties are exact.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace grlm::test {

// rows x dim integers in [-2, 2], every third row a copy of an earlier one (ties of whole rows).
inline std::vector<float> integer_rows(int64_t rows, int64_t dim, uint32_t seed) {
  std::mt19937 generator(seed);
  std::uniform_int_distribution<int> value(-2, 2);
  std::vector<float> data(static_cast<size_t>(rows * dim));
  for (int64_t row = 0; row < rows; ++row) {
    for (int64_t j = 0; j < dim; ++j) {
      data[static_cast<size_t>(row * dim + j)] =
          row % 3 == 2 ? data[static_cast<size_t>((row / 2) * dim + j)] : static_cast<float>(value(generator));
    }
  }
  return data;
}

}  // namespace grlm::test
