// The similarity ring on one GPU (one rank, scripts/gpu_session.sh):
// ids equal to the CPU's (both merges) on integer vectors full of exact ties, then the time of
// an exact top-20 over N x D random unit vectors in float32 and bfloat16.
// Usage: similar_gpu [N D]   (default 100000 1024)
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "grlm/core/comm.hpp"
#include "grlm/model/similarity.hpp"
#include "../similarity_rows.hpp"

namespace {

std::vector<float> unit_rows(int64_t rows, int64_t dim) {
  std::mt19937 generator(11);
  std::normal_distribution<float> normal;
  std::vector<float> data(static_cast<size_t>(rows * dim));
  for (int64_t row = 0; row < rows; ++row) {
    double squared = 0;
    for (int64_t j = 0; j < dim; ++j) squared += std::pow(data[row * dim + j] = normal(generator), 2);
    for (int64_t j = 0; j < dim; ++j) data[row * dim + j] /= static_cast<float>(std::sqrt(squared));
  }
  return data;
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t rows = argc > 2 ? std::stoll(argv[1]) : 100000;
  const int64_t dim = argc > 2 ? std::stoll(argv[2]) : 1024;
  const std::unique_ptr<grlm::Communicator> local = grlm::make_local_communicator();
  int failures = 0;
  const std::vector<float> ties = grlm::test::integer_rows(3000, 6, 7);
  for (const char* dtype : {"float32", "bfloat16"}) {
    grlm::SimilarityOptions options;
    options.k = 20;
    options.dtype = dtype;
    options.tile_elements = 1 << 20;
    const grlm::NeighbourLists cpu = grlm::ring_top_k(*local, ties, 6, options);
    options.cuda_device = 0;
    const grlm::NeighbourLists gpu = grlm::ring_top_k(*local, ties, 6, options);
    const bool same = cpu.ids == gpu.ids && cpu.scores == gpu.scores;
    std::printf("%s 3000 x 6 integer rows with ties, k 20, %s: GPU ids and scores %s the CPU's\n", same ? "PASS" : "FAIL",
                dtype, same ? "equal" : "differ from");
    failures += same ? 0 : 1;
  }
  const std::vector<float> data = unit_rows(rows, dim);
  for (const char* dtype : {"float32", "bfloat16"}) {
    grlm::SimilarityOptions options;
    options.k = 20;
    options.dtype = dtype;
    options.cuda_device = 0;
    grlm::ring_top_k(*local, std::vector<float>(data.begin(), data.begin() + 2000 * dim), dim, options);  // warm-up
    const auto start = std::chrono::steady_clock::now();
    const grlm::NeighbourLists lists = grlm::ring_top_k(*local, data, dim, options);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("exact top-20 of %lld x %lld on one GPU, %s: %.3f s (%.1f TFLOP/s of products), first row's best %lld at %.4f\n",
                static_cast<long long>(rows), static_cast<long long>(dim), dtype, seconds,
                2.0 * rows * rows * dim / seconds / 1e12, static_cast<long long>(lists.ids[0]), lists.scores[0]);
  }
  return failures == 0 ? 0 : 1;
}
