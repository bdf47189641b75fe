// Content hashes (XXH3-128, hex) that decide whether a stage's inputs changed since it ran.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

namespace grlm {

class Hasher {
 public:
  Hasher();
  ~Hasher();
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;
  Hasher& update(std::string_view bytes);
  // Separates fields so that ("ab","c") and ("a","bc") hash differently.
  Hasher& field(std::string_view bytes);
  std::string hex() const;  // 32 hex digits

 private:
  struct State;
  std::unique_ptr<State> state_;
};

std::string hash_bytes(std::string_view bytes);
// Hash of a file's content, read in 1 MiB blocks; throws InputError when it cannot be read.
std::string hash_file(const std::filesystem::path& file);

}  // namespace grlm
