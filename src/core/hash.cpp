#include "grlm/core/hash.hpp"

#include <xxhash.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <vector>

#include "grlm/core/error.hpp"

namespace grlm {

struct Hasher::State {
  XXH3_state_t* xxh = XXH3_createState();
  ~State() { XXH3_freeState(xxh); }
};

Hasher::Hasher() : state_(std::make_unique<State>()) { XXH3_128bits_reset(state_->xxh); }
Hasher::~Hasher() = default;

Hasher& Hasher::update(std::string_view bytes) {
  XXH3_128bits_update(state_->xxh, bytes.data(), bytes.size());
  return *this;
}

Hasher& Hasher::field(std::string_view bytes) {
  const uint64_t length = bytes.size();
  XXH3_128bits_update(state_->xxh, &length, sizeof length);
  return update(bytes);
}

std::string Hasher::hex() const {
  const XXH128_hash_t digest = XXH3_128bits_digest(state_->xxh);
  char text[33];
  std::snprintf(text, sizeof text, "%016" PRIx64 "%016" PRIx64, static_cast<uint64_t>(digest.high64),
                static_cast<uint64_t>(digest.low64));
  return text;
}

std::string hash_bytes(std::string_view bytes) { return Hasher().update(bytes).hex(); }

std::string hash_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw InputError(cat("cannot read ", file.string()));
  Hasher hasher;
  std::vector<char> block(1 << 20);
  while (in) {
    in.read(block.data(), static_cast<std::streamsize>(block.size()));
    hasher.update(std::string_view(block.data(), static_cast<size_t>(in.gcount())));
  }
  if (in.bad()) throw InputError(cat("error while reading ", file.string()));
  return hasher.hex();
}

std::string hash_path(const std::filesystem::path& path, uintmax_t content_limit) {
  namespace fs = std::filesystem;
  std::error_code error;
  if (!fs::is_directory(path, error)) return hash_file(path);
  std::vector<fs::path> files;
  for (const fs::directory_entry& entry : fs::directory_iterator(path)) {
    if (entry.is_regular_file()) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());  // directory order is arbitrary
  Hasher hasher;
  for (const fs::path& file : files) {
    hasher.field(file.filename().string());
    const uintmax_t size = fs::file_size(file);
    if (size <= content_limit) {
      hasher.field(hash_file(file));
    } else {
      hasher.field(cat(size, ":", fs::last_write_time(file).time_since_epoch().count()));
    }
  }
  return hasher.hex();
}

}  // namespace grlm
