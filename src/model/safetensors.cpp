#include "grlm/model/safetensors.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "grlm/core/error.hpp"

namespace grlm {
namespace {

struct DtypeInfo {
  SafeDtype dtype;
  const char* name;
  size_t size;
};

constexpr DtypeInfo kDtypes[] = {
    {SafeDtype::F64, "F64", 8},   {SafeDtype::F32, "F32", 4}, {SafeDtype::F16, "F16", 2},
    {SafeDtype::BF16, "BF16", 2}, {SafeDtype::I64, "I64", 8}, {SafeDtype::I32, "I32", 4},
    {SafeDtype::I16, "I16", 2},   {SafeDtype::I8, "I8", 1},   {SafeDtype::U8, "U8", 1},
    {SafeDtype::BOOL, "BOOL", 1}, {SafeDtype::U16, "U16", 2}, {SafeDtype::U32, "U32", 4},
    {SafeDtype::U64, "U64", 8}};

const DtypeInfo& info_of(SafeDtype dtype) {
  for (const DtypeInfo& info : kDtypes) {
    if (info.dtype == dtype) return info;
  }
  throw std::logic_error("unknown SafeDtype");
}

uint64_t read_le_u64(const std::byte* bytes) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | static_cast<uint64_t>(bytes[i]);
  return value;
}

// Non-negative integer from a JSON value, or an error naming the field.
uint64_t non_negative(const nlohmann::json& value, const std::string& where) {
  if (value.is_number_unsigned()) return value.get<uint64_t>();
  if (value.is_number_integer() && value.get<int64_t>() >= 0) return static_cast<uint64_t>(value.get<int64_t>());
  throw std::invalid_argument(cat(where, " must be a non-negative integer, got ", value.dump()));
}

SafeTensorView parse_entry(const std::string& name, const nlohmann::json& entry, uint64_t data_bytes,
                           uint64_t& begin, uint64_t& end) {
  if (!entry.is_object()) throw std::invalid_argument("entry is not a JSON object");
  for (const char* field : {"dtype", "shape", "data_offsets"}) {
    if (!entry.contains(field)) throw std::invalid_argument(cat("missing \"", field, "\""));
  }
  SafeTensorView view;
  view.name = name;
  if (!entry["dtype"].is_string()) throw std::invalid_argument("\"dtype\" must be a string");
  view.dtype = parse_safe_dtype(entry["dtype"].get<std::string>());
  const nlohmann::json& shape = entry["shape"];
  if (!shape.is_array()) throw std::invalid_argument("\"shape\" must be an array");
  uint64_t numel = 1;
  for (const nlohmann::json& dim : shape) {
    const uint64_t extent = non_negative(dim, "a shape dimension");
    if (extent > 0 && numel > std::numeric_limits<uint64_t>::max() / extent / 8) {
      throw std::invalid_argument(cat("shape ", shape.dump(), " has too many elements"));
    }
    numel *= extent;
    view.shape.push_back(static_cast<int64_t>(extent));
  }
  const nlohmann::json& offsets = entry["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2) throw std::invalid_argument("\"data_offsets\" must be [begin, end]");
  begin = non_negative(offsets[0], "data_offsets[0]");
  end = non_negative(offsets[1], "data_offsets[1]");
  if (begin > end) throw std::invalid_argument(cat("data_offsets [", begin, ", ", end, "] end before they begin"));
  if (end > data_bytes) {
    throw std::invalid_argument(cat("data_offsets [", begin, ", ", end, "] run past the end of the data (", data_bytes,
                                    " bytes after the header)"));
  }
  view.bytes = static_cast<size_t>(numel * safe_dtype_size(view.dtype));
  if (end - begin != view.bytes) {
    throw std::invalid_argument(cat("shape ", shape.dump(), " of ", entry["dtype"].get<std::string>(), " needs ",
                                    view.bytes, " bytes but data_offsets [", begin, ", ", end, "] hold ", end - begin));
  }
  return view;
}

}  // namespace

SafeDtype parse_safe_dtype(const std::string& name) {
  for (const DtypeInfo& info : kDtypes) {
    if (name == info.name) return info.dtype;
  }
  throw std::invalid_argument(cat("unknown dtype \"", name, "\""));
}

const char* safe_dtype_name(SafeDtype dtype) { return info_of(dtype).name; }
size_t safe_dtype_size(SafeDtype dtype) { return info_of(dtype).size; }

int64_t SafeTensorView::numel() const {
  int64_t count = 1;
  for (int64_t extent : shape) count *= extent;
  return count;
}

SafetensorsFile SafetensorsFile::open(const std::filesystem::path& path) {
  const int descriptor = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (descriptor < 0) throw InputError(cat(path.string(), ": cannot open (", std::strerror(errno), ")"));
  struct stat status {};
  if (::fstat(descriptor, &status) != 0 || !S_ISREG(status.st_mode)) {
    ::close(descriptor);
    throw InputError(cat(path.string(), ": not a regular file"));
  }
  const uint64_t file_bytes = static_cast<uint64_t>(status.st_size);
  if (file_bytes < 8) {
    ::close(descriptor);
    throw InputError(cat(path.string(), ": not a safetensors file (", file_bytes, " bytes, shorter than the 8-byte header size)"));
  }
  SafetensorsFile file;
  file.path_ = path;
  file.mapping_bytes_ = static_cast<size_t>(file_bytes);
  file.mapping_ = ::mmap(nullptr, file.mapping_bytes_, PROT_READ, MAP_PRIVATE, descriptor, 0);
  ::close(descriptor);
  if (file.mapping_ == MAP_FAILED) {
    file.mapping_ = nullptr;
    throw InputError(cat(path.string(), ": cannot memory-map (", std::strerror(errno), ")"));
  }
  const auto* bytes = static_cast<const std::byte*>(file.mapping_);
  const uint64_t header_bytes = read_le_u64(bytes);
  if (header_bytes > kMaxHeaderBytes) {
    throw InputError(cat(path.string(), ": header size ", header_bytes, " exceeds the limit of ", kMaxHeaderBytes,
                         " bytes (corrupt or not a safetensors file)"));
  }
  if (header_bytes > file_bytes - 8) {
    throw InputError(cat(path.string(), ": header size ", header_bytes, " runs past the end of the file (", file_bytes,
                         " bytes; truncated?)"));
  }
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(reinterpret_cast<const char*>(bytes + 8),
                                   reinterpret_cast<const char*>(bytes + 8 + header_bytes));
  } catch (const nlohmann::json::exception& error) {  // parse errors, and numbers too large for a double
    throw InputError(cat(path.string(), ": header is not valid JSON (", error.what(), ")"));
  }
  if (!header.is_object()) throw InputError(cat(path.string(), ": header is not a JSON object"));
  const uint64_t data_bytes = file_bytes - 8 - header_bytes;
  const std::byte* data = bytes + 8 + header_bytes;
  std::vector<std::tuple<uint64_t, uint64_t, std::string>> ranges;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) throw InputError(cat(path.string(), ": __metadata__ is not a JSON object"));
      for (const auto& [key, value] : entry.items()) {
        if (!value.is_string()) throw InputError(cat(path.string(), ": __metadata__ value of \"", key, "\" is not a string"));
        file.metadata_[key] = value.get<std::string>();
      }
      continue;
    }
    uint64_t begin = 0;
    uint64_t end = 0;
    try {
      SafeTensorView view = parse_entry(name, entry, data_bytes, begin, end);
      view.data = data + begin;
      file.tensors_.emplace(name, std::move(view));
    } catch (const std::invalid_argument& error) {
      throw InputError(cat(path.string(), ": tensor \"", name, "\": ", error.what()));
    }
    ranges.emplace_back(begin, end, name);
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i) {
    const auto& [previous_begin, previous_end, previous_name] = ranges[i - 1];
    const auto& [begin, end, name] = ranges[i];
    if (begin < previous_end && end > begin) {
      throw InputError(cat(path.string(), ": tensors \"", previous_name, "\" [", previous_begin, ", ", previous_end,
                           ") and \"", name, "\" [", begin, ", ", end, ") overlap"));
    }
  }
  return file;
}

SafetensorsFile::SafetensorsFile(SafetensorsFile&& other) noexcept { *this = std::move(other); }

SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&& other) noexcept {
  if (this != &other) {
    if (mapping_) ::munmap(mapping_, mapping_bytes_);
    path_ = std::move(other.path_);
    mapping_ = std::exchange(other.mapping_, nullptr);
    mapping_bytes_ = std::exchange(other.mapping_bytes_, 0);
    tensors_ = std::move(other.tensors_);
    metadata_ = std::move(other.metadata_);
  }
  return *this;
}

SafetensorsFile::~SafetensorsFile() {
  if (mapping_) ::munmap(mapping_, mapping_bytes_);
}

const SafeTensorView& SafetensorsFile::at(const std::string& name) const {
  const auto found = tensors_.find(name);
  if (found == tensors_.end()) throw InputError(cat(path_.string(), ": no tensor \"", name, "\""));
  return found->second;
}

void write_safetensors(const std::filesystem::path& path, const std::vector<SafeTensorOut>& tensors,
                       std::map<std::string, std::string> metadata) {
  if (!metadata.count("format")) metadata["format"] = "pt";
  nlohmann::json header = nlohmann::json::object();
  header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const SafeTensorOut& tensor : tensors) {
    uint64_t numel = 1;
    for (int64_t extent : tensor.shape) numel *= static_cast<uint64_t>(extent);
    const uint64_t bytes = numel * safe_dtype_size(tensor.dtype);
    if (bytes != tensor.data.size()) {
      throw Error(cat("write_safetensors: tensor \"", tensor.name, "\" has ", tensor.data.size(), " bytes, its shape needs ", bytes));
    }
    if (header.contains(tensor.name)) throw Error(cat("write_safetensors: tensor \"", tensor.name, "\" given twice"));
    header[tensor.name] = {{"dtype", safe_dtype_name(tensor.dtype)}, {"shape", tensor.shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string header_text = header.dump();
  // Data starts 8-byte aligned, as the reference writer pads with spaces.
  header_text.append((8 - header_text.size() % 8) % 8, ' ');
  const std::filesystem::path partial = path.string() + ".partial";
  {
    std::ofstream out(partial, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(cat("cannot write ", partial.string()));
    const uint64_t header_bytes = header_text.size();
    char size_bytes[8];
    for (int i = 0; i < 8; ++i) size_bytes[i] = static_cast<char>((header_bytes >> (8 * i)) & 0xff);
    out.write(size_bytes, 8);
    out.write(header_text.data(), static_cast<std::streamsize>(header_text.size()));
    for (const SafeTensorOut& tensor : tensors) {
      out.write(reinterpret_cast<const char*>(tensor.data.data()), static_cast<std::streamsize>(tensor.data.size()));
    }
    out.close();
    if (!out) throw Error(cat("error while writing ", partial.string(), ": ", std::strerror(errno)));
  }
  std::filesystem::rename(partial, path);
}

}  // namespace grlm
