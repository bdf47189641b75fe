// libFuzzer target over everything a user hands grlm besides text to tokenize: a config file and
// `--set` values, the catalog, interactions, TID and neighbour files, and a safetensors header.
// The first byte picks the reader, the rest is the file. A reader may refuse the input only with
// grlm's own error types (which name the file and the problem); a crash, a sanitizer report, a
// hang, or any other exception escaping (a JSON library error, std::out_of_range, ...) is a bug.
// GRLM_FUZZ_READER=0..6 pins every input to one reader (the first byte is then ignored), so that
// each reader can be given its own time budget (scripts/fuzz_inputs.sh --reader).
#include <unistd.h>

#include <algorithm>
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

// The reader GRLM_FUZZ_READER pins, or -1.
int pinned_reader() {
  static const int reader = [] {
    const char* text = std::getenv("GRLM_FUZZ_READER");
    return text != nullptr && *text != '\0' ? std::atoi(text) : -1;
  }();
  return reader;
}

void read_input(int reader, const std::string& bytes) {
  switch (reader) {
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
    case 6: {  // a safetensors file: 8-byte header length, JSON header, data
      write(bytes);
      const grlm::SafetensorsFile file = grlm::SafetensorsFile::open(scratch());
      for (const auto& [name, view] : file.tensors()) (void)view.numel();
      break;
    }
    default: break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  // Seven readers; the eighth value of the first byte goes to safetensors too (its format is the
  // one with the most structure to explore).
  const int reader = pinned_reader() >= 0 ? pinned_reader() : std::min(data[0] % 8, 6);
  try {
    read_input(reader, bytes);
  } catch (const grlm::Error&) {
    // refused with grlm's own message: the expected outcome for bad input
  } catch (const std::exception& error) {
    std::fprintf(stderr, "reader %d let a %s escape: %s\n", reader, typeid(error).name(), error.what());
    std::abort();
  }
  return 0;
}
