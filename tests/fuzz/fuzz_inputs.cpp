// libFuzzer target over everything a user hands grlm besides text to tokenize: a config file and
// `--set` values, the catalog, interactions, TID and neighbour files, and a safetensors header.
// The first byte picks the reader, the rest is the file. A reader may refuse the input only with
// grlm's own error types (which name the file and the problem); a crash, a sanitizer report, a
// hang, or any other exception escaping (a JSON library error, std::out_of_range, ...) is a bug.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <typeinfo>

#include "grlm/core/config.hpp"
#include "grlm/core/error.hpp"
#include "grlm/data/dataset.hpp"
#include "grlm/model/safetensors.hpp"

namespace {

const std::filesystem::path& scratch() {
  static const std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("grlm-fuzz-inputs-" + std::to_string(getpid()));
  return path;
}

void write(const std::string& bytes) {
  std::ofstream out(scratch(), std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A fixed small catalog, so the interactions, TID and neighbour readers also meet known ids.
grlm::ItemTable known_items() {
  grlm::ItemTable items;
  for (const char* id : {"1", "2", "3", "a", "b"}) items.intern(id);
  return items;
}

void read_input(uint8_t kind, const std::string& bytes) {
  switch (kind % 8) {
    case 0: {  // a config file
      write(bytes);
      grlm::Config::load(grlm::grlm_config_schema(), scratch(), {});
      break;
    }
    case 1: {  // --set assignments, one per line
      std::vector<std::string> overrides;
      size_t start = 0;
      while (start <= bytes.size() && overrides.size() < 16) {
        const size_t end = std::min(bytes.find('\n', start), bytes.size());
        overrides.push_back(bytes.substr(start, end - start));
        start = end + 1;
      }
      grlm::Config::load(grlm::grlm_config_schema(), std::nullopt, overrides);
      break;
    }
    case 2: {
      write(bytes);
      grlm::ItemTable items;
      grlm::load_catalog(scratch(), items);
      break;
    }
    case 3: {
      write(bytes);
      grlm::ItemTable items = known_items();
      grlm::load_interactions(scratch(), items, bytes.size() % 2 == 0);
      break;
    }
    case 4: {
      write(bytes);
      grlm::ItemTable items = known_items();
      grlm::load_tids(scratch(), items, bytes.size() % 2 == 0);
      break;
    }
    case 5: {
      write(bytes);
      grlm::load_neighbours(scratch(), known_items());
      break;
    }
    default: {  // a safetensors file: 8-byte header length, JSON header, data
      write(bytes);
      const grlm::SafetensorsFile file = grlm::SafetensorsFile::open(scratch());
      for (const auto& [name, view] : file.tensors()) (void)view.numel();
      break;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    read_input(data[0], bytes);
  } catch (const grlm::Error&) {
    // refused with grlm's own message: the expected outcome for bad input
  } catch (const std::exception& error) {
    std::fprintf(stderr, "reader %d let a %s escape: %s\n", data[0] % 8, typeid(error).name(), error.what());
    std::abort();
  }
  return 0;
}
