// Shared helpers of the test binaries: the process's MPI runtime, scratch folders, data paths.
#pragma once

#include <filesystem>
#include <fstream>
#include <string>

#include "grlm/core/runtime.hpp"

namespace grlm::test {

Runtime& runtime();

// A fresh folder under the build tree, the same path on every rank (collective).
std::filesystem::path scratch_dir(const std::string& name);

// ../shared/data relative to the source tree (tests may read it; the product never does).
std::filesystem::path shared_data(const std::string& relative);

inline void write_text(const std::filesystem::path& file, const std::string& text) {
  std::ofstream out(file, std::ios::binary);
  out << text;
}

}  // namespace grlm::test
