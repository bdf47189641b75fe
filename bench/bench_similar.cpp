// Anchor for bench/bench_similar.sh: FAISS exact inner-product search (IndexFlatIP) on the same
// unit vectors, k + 1 neighbours (the row itself comes first and is dropped), timed search only.
// Usage: bench_similar VECTORS.f32 ROWS DIM K THREADS
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <vector>

#include <faiss/IndexFlat.h>
#include <omp.h>

int main(int argc, char** argv) {
  if (argc != 6) {
    std::cerr << "usage: bench_similar VECTORS.f32 ROWS DIM K THREADS\n";
    return 2;
  }
  const long rows = std::stol(argv[2]);
  const long dim = std::stol(argv[3]);
  const long k = std::stol(argv[4]);
  omp_set_num_threads(std::stoi(argv[5]));
  std::vector<float> vectors(static_cast<size_t>(rows * dim));
  std::ifstream(argv[1], std::ios::binary).read(reinterpret_cast<char*>(vectors.data()), static_cast<std::streamsize>(vectors.size() * 4));
  faiss::IndexFlatIP index(dim);
  index.add(rows, vectors.data());
  std::vector<float> scores(static_cast<size_t>(rows * (k + 1)));
  std::vector<faiss::Index::idx_t> ids(scores.size());
  const auto start = std::chrono::steady_clock::now();
  index.search(rows, vectors.data(), k + 1, scores.data(), ids.data());
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("{\"faiss_seconds\": %.3f, \"first_neighbour_of_row0\": %ld}\n", seconds, static_cast<long>(ids[1]));
  return 0;
}
