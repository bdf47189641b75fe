// Content hashes (XXH3-128, hex) that decide whether a stage's inputs changed since it ran.
#pragma once

#include <cstdint>
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
// Fingerprint of a stage input named by a config key: a file's content hash, or for a folder (a
// prompts folder, a checkpoint) the names and content hashes of the regular files directly in it.
// Folder files larger than content_limit (weights) count by size and modification time instead,
// so a multi-GB checkpoint is not read on every run.
std::string hash_path(const std::filesystem::path& path, uintmax_t content_limit = uintmax_t{64} << 20);

}  // namespace grlm
