// The ring search at any number of ranks (mpi_np1/2/3) against an exact brute force: integer
// vectors make every product exact, so ties are many and planted, and ids must agree exactly.
// Both merges run: the CPU's insertion lists and the GPU's tensor top-k (here on the CPU).
#include <gtest/gtest.h>

#include <algorithm>

#include "grlm/core/comm.hpp"
#include "grlm/model/similarity.hpp"
#include "similarity_rows.hpp"
#include "test_support.hpp"

namespace grlm {
namespace {

// Per row the k best other rows: higher dot product, then lower index.
std::vector<int64_t> brute_force(const std::vector<float>& data, int64_t rows, int64_t dim, int64_t k) {
  std::vector<int64_t> best;
  for (int64_t row = 0; row < rows; ++row) {
    std::vector<std::pair<float, int64_t>> candidates;
    for (int64_t other = 0; other < rows; ++other) {
      if (other == row) continue;
      float dot = 0;
      for (int64_t j = 0; j < dim; ++j) dot += data[static_cast<size_t>(row * dim + j)] * data[static_cast<size_t>(other * dim + j)];
      candidates.push_back({-dot, other});
    }
    std::sort(candidates.begin(), candidates.end());
    for (int64_t j = 0; j < k; ++j) best.push_back(candidates[static_cast<size_t>(j)].second);
  }
  return best;
}

TEST(Similarity, RingEqualsBruteForceWithExactTiesAtAnyRankCount) {
  Communicator& comm = test::runtime().world();
  struct Case {
    int64_t rows, dim, k, tile_elements;
    const char* dtype;
  };
  const std::vector<Case> cases = {{23, 6, 1, 32 << 20, "float32"}, {23, 6, 5, 7, "float32"},  {23, 6, 22, 11, "float32"},
                                   {40, 3, 7, 13, "bfloat16"},      {2, 4, 1, 32 << 20, "float32"},
                                   {150, 3, 9, 1000, "float32"}};
  for (const Case& c : cases) {
    const std::vector<float> data = test::integer_rows(c.rows, c.dim, static_cast<uint32_t>(c.rows * 31 + c.dim));
    const std::vector<int64_t> expected = brute_force(data, c.rows, c.dim, c.k);
    const RowBlock block = row_block(c.rows, comm.size(), comm.rank());
    const std::vector<float> local(data.begin() + block.first * c.dim, data.begin() + block.end() * c.dim);
    for (const bool tensor_merge : {false, true}) {
      SimilarityOptions options;
      options.k = c.k;
      options.dtype = c.dtype;
      options.tile_elements = c.tile_elements;
      options.tensor_merge = tensor_merge;
      const NeighbourLists lists = ring_top_k(comm, local, c.dim, options);
      ASSERT_EQ(lists.rows, block.count);
      const std::vector<int64_t> mine(expected.begin() + block.first * c.k, expected.begin() + block.end() * c.k);
      EXPECT_EQ(lists.ids, mine) << c.rows << " rows, k " << c.k << ", " << c.dtype << (tensor_merge ? ", tensor merge" : "");
      for (int64_t row = 0; row < lists.rows; ++row) {
        for (int64_t j = 0; j < c.k; ++j) {
          const int64_t other = lists.ids[static_cast<size_t>(row * c.k + j)];
          float dot = 0;
          for (int64_t d = 0; d < c.dim; ++d) {
            dot += data[static_cast<size_t>((block.first + row) * c.dim + d)] * data[static_cast<size_t>(other * c.dim + d)];
          }
          EXPECT_EQ(lists.scores[static_cast<size_t>(row * c.k + j)], dot);
        }
      }
    }
  }
}

}  // namespace
}  // namespace grlm
